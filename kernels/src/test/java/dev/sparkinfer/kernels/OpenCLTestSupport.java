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
    if (Runtime.version().feature() >= 21) {
      // the OpenCL engine refuses Java 21+ (NonMovingArrays): its tests cannot run here, which is not a failure of the code
      String msg = "the OpenCL engine runs on Java 17 to 20 (JDK-8191565); this JVM is Java " + Runtime.version().feature()
          + ", so the OpenCL kernel tests cannot run";
      if (Boolean.getBoolean("sparkinfer.requireOpenCL")) fail(msg);
      assumeTrue(false, msg + " - skipped");
    }
    return Devices.best();
  }
}
