package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.aparapi.device.OpenCLDevice;

/**
 * Gives tests the OpenCL device. Where none exists, or the JVM is Java 21+ (which the OpenCL engine refuses), the OpenCL
 * tests are skipped with a message, unless -Dsparkinfer.requireOpenCL=true (set by .ci/run, which installs PoCL), where
 * that fails them.
 */
final class OpenCLTestSupport {
  private OpenCLTestSupport() {}

  static OpenCLDevice device() {
    var all = Devices.openclDevices();
    if (all.isEmpty()) {
      String msg = "no OpenCL device (install pocl-opencl-icd); OpenCL kernel tests cannot run";
      if (Boolean.getBoolean("sparkinfer.requireOpenCL")) fail(msg);
      assumeTrue(false, msg + " - skipped");
    }
    String refused = NonMovingArrays.refusal(Runtime.version().feature());
    if (refused != null) {
      // the OpenCL engine refuses this JVM (Java 21+, or not G1): its tests cannot run here
      if (Boolean.getBoolean("sparkinfer.requireOpenCL")) fail(refused);
      assumeTrue(false, refused + " - OpenCL kernel tests skipped");
    }
    return Devices.best();
  }
}
