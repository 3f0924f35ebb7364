package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The float arena is one buffer (1 GiB on OpenCL) for float32 weights, state and activations together, while 16-bit and
 * quantized weights live outside it. A float32 model that does not fit is refused with the limit and the ways out
 * (16-bit weights, quantization); activations that do not fit beside the weights with the batch-size advice. The limit
 * is made small here (ArenaOps.floatLimit) so that no 1 GiB array is needed; 16-bit weights still load past it.
 */
class FloatArenaLimitTest {
  static final int LIMIT = 200_000;

  @Test
  void javaEngine() { check(new JavaOps()); }

  @Test
  void openclEngine() { check(new AparapiOps(OpenCLTestSupport.device(), true)); }

  private static void check(ArenaOps ops) {
    try (ops) {
      ops.floatLimit = LIMIT;
      ops.upload(new float[150_000]); // float32 weights that fit
      DeviceMemoryException weights = assertThrows(DeviceMemoryException.class, () -> ops.upload(new float[60_000]));
      String m = weights.getMessage();
      assertTrue(m.contains("float32 weights") && m.contains(String.format("%,d floats", LIMIT)) && m.contains("BF16")
          && m.contains("F16") && m.contains("-Dsparkinfer.quantize=int8") && m.contains(ops.device().toString()), m);

      // 16-bit weights are not in the float buffer: they still load, and compute beside the float32 ones
      char[] w16 = new char[300_000];
      java.util.Arrays.fill(w16, (char) 0x3f80); // bf16 1.0
      HalfTensor w = ops.upload16(w16, DType.BF16);
      try (Ops.Scope s = ops.scope()) {
        Tensor x = ops.alloc(1000), y = ops.alloc(300);
        ops.write(x, new float[1000]);
        ops.linear16(y, x, w, null, 1, 300, 1000);
        assertEquals(0f, ops.read(y)[0]);
        DeviceMemoryException scratch = assertThrows(DeviceMemoryException.class, () -> ops.alloc(60_000));
        String sm = scratch.getMessage();
        assertTrue(sm.contains("arena full") && sm.contains("--batch-size") && sm.contains("150,000 of them weights")
            && sm.contains("BF16"), sm);
      }
    }
  }
}
