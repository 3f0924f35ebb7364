package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Aparapi silently falls back to Java threads when a kernel cannot run on OpenCL; strict mode must turn that into an error. */
class FallbackDetectionTest {

  /** A kernel Aparapi cannot translate (it allocates an object), so it can never run on OpenCL. */
  static final class UntranslatableKernel extends OpsKernel {
    @Override
    public void run() {
      mem[getGlobalId(0)] = new java.util.Random(1).nextFloat();
    }
  }

  @Test
  void strictModeThrowsNamingTheOpAndReason() {
    var device = OpenCLTestSupport.device();
    KernelFallbackException e = assertThrows(KernelFallbackException.class,
        () -> new AparapiOps(device, true, new UntranslatableKernel()));
    assertTrue(e.getMessage().contains("zero"), "message names the op: " + e.getMessage());
    assertTrue(e.getMessage().toLowerCase().contains("new"), "message carries Aparapi's reason: " + e.getMessage());
  }

  @Test
  void javaChoiceIsTheReferenceAndSaysSo() {
    try (Ops ops = Devices.open(DeviceChoice.JAVA)) {
      assertTrue(!ops.device().isOpenCL() && ops.device().toString().startsWith("java"));
    }
  }

  @Test
  void autoPicksAnOpenCLGpuElseTheCpuEngine() {
    var device = OpenCLTestSupport.device();
    boolean gpu = device.getType() == com.aparapi.device.Device.TYPE.GPU || device.getType() == com.aparapi.device.Device.TYPE.ACC;
    try (Ops ops = Devices.open(DeviceChoice.AUTO, EngineConfig.defaults())) {
      if (gpu) assertTrue(ops.device().isOpenCL(), "auto must choose an OpenCL GPU when one exists: " + ops.device());
      else assertEquals("cpu", ops.device().kind(), "auto on a machine whose OpenCL device is a CPU: the CPU engine");
    }
  }
}
