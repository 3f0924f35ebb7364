package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Device choice without an OpenCL driver: auto runs the CPU engine; without the Vector API either, the Java engine, and
 * says why; opencl and cpu refuse with the fix.
 */
class DeviceFallbackTest {
  @Test
  void autoRunsTheCpuEngineWithoutAnOpenCLGpu() {
    try (Ops ops = Devices.open(DeviceChoice.AUTO, EngineConfig.defaults().withCpuThreads(2), List::of, null)) {
      assertEquals("cpu", ops.device().kind());
      assertTrue(ops.device().toString().startsWith("cpu: Java Vector API") && ops.device().toString().contains("2 threads"),
          ops.device().toString());
    }
  }

  @Test
  void cpuRefusesWithoutTheVectorModule() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Devices.open(DeviceChoice.CPU, EngineConfig.defaults(), List::of, "no module (test)"));
    assertTrue(e.getMessage().contains("--device cpu") && e.getMessage().contains("no module (test)"), e.getMessage());
    assertTrue(Devices.vectorApiMissing() == null, "the tests' JVM has the Vector API module");
  }

  @Test
  void autoRunsTheJavaEngineAndRecordsWhy() {
    try (Ops ops = Devices.open(DeviceChoice.AUTO, EngineConfig.defaults(), List::of, "no Vector API (test)")) {
      assertEquals("java", ops.device().kind());
      assertTrue(ops.device().toString().contains("--device auto fallback: no Vector API (test); and no OpenCL device found"),
          ops.device().toString());
      try (Ops.Scope s = ops.scope()) { // and it computes
        Tensor t = ops.alloc(3);
        ops.write(t, new float[] {3, 4, 0});
        ops.l2Normalize(t, t, 1, 3);
        assertEquals(0.6f, ops.read(t)[0], 1e-7);
      }
    }
  }

  @Test
  void openclRefusesWithTheCommandThatInstallsADriver() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Devices.open(DeviceChoice.OPENCL, List::of));
    assertTrue(e.getMessage().contains("apt-get install pocl-opencl-icd"), e.getMessage());
  }

  @Test
  void theMessageSaysWhichEngineWhyHowMuchSlowerAndTheInstallCommand() {
    String m = Devices.fallbackMessage("no OpenCL device found");
    assertTrue(m.contains("plain-Java reference engine") && m.contains("no OpenCL device found") && m.contains("slower")
        && m.contains("--add-modules=jdk.incubator.vector")
        && m.contains("apt-get install pocl-opencl-icd"), m);
  }

  @Test
  void java21IsRefusedBecauseG1MayMoveLargeArraysThere() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> NonMovingArrays.requireNonMoving(21));
    assertTrue(e.getMessage().contains("JDK-8191565") && e.getMessage().contains("--device java"), e.getMessage());
  }
}
