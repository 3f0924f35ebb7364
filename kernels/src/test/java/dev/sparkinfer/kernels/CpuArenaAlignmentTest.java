package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * The CPU engine's arena puts its tensors on 64-byte lines (within the Java array, whose elements start
 * {@code ARRAY_FLOAT_BASE_OFFSET} bytes in): weights, packed Linear panels (in the float banks) and scratch alike. A speed property only;
 * this checks the offsets the arena hands out, not where the JVM put the array.
 */
class CpuArenaAlignmentTest {
  @Test
  void tensorsStartOnCacheLinesOfTheArray() {
    assertEquals(0, (sun.misc.Unsafe.ARRAY_FLOAT_BASE_OFFSET + 4 * CpuOps.LINE_PHASE) % 64, "phase " + CpuOps.LINE_PHASE);
    try (CpuOps ops = new CpuOps(1)) {
      Tensor a = ops.upload(new float[5]);
      LinearWeight w = ops.uploadLinear(new float[100 * 37], 100, 37);
      assertEquals(CpuOps.LINE_PHASE, a.offset() % 16);
      assertEquals(CpuOps.LINE_PHASE, w.banked().offset() % 16, "a packed Linear weight in a float bank");
      assertEquals(CpuOps.LINE_PHASE, ops.uploadLinear(new float[7 * 5], 7, 5).banked().offset() % 16, "the next one");
      try (Ops.Scope s = ops.scope()) {
        Tensor x = ops.alloc(3), y = ops.alloc(1000);
        assertEquals(CpuOps.LINE_PHASE, x.offset() % 16);
        assertEquals(CpuOps.LINE_PHASE, y.offset() % 16);
      }
    }
  }
}
