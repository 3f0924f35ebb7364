package dev.sparkinfer.kernels;

import com.aparapi.device.Device;
import com.aparapi.device.OpenCLDevice;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Device choice: {@code auto} and {@code opencl} take the best OpenCL device (GPU, then accelerator, then CPU; within a
 * type, most compute units); {@code java} the reference ops. The system property {@code sparkinfer.opencl.device}
 * (a substring of the device name) pins one device. The device used is logged once per JVM.
 */
public final class Devices {
  public static final String DEVICE_PROPERTY = "sparkinfer.opencl.device";
  private static volatile boolean logged;

  static {
    AparapiLog.install();
  }

  private Devices() {}

  /** Opens the ops for a choice; fails with a message that says what to do when no OpenCL device exists. */
  public static Ops open(DeviceChoice choice) {
    if (choice == DeviceChoice.JAVA) {
      logOnce(DeviceInfo.JAVA.toString());
      return new JavaOps();
    }
    OpenCLDevice d = best();
    AparapiOps ops = new AparapiOps(d, choice == DeviceChoice.OPENCL || Boolean.getBoolean("sparkinfer.strict"));
    logOnce(ops.device().toString());
    return ops;
  }

  /** Every OpenCL device Aparapi sees, best first. */
  public static List<OpenCLDevice> openclDevices() {
    List<OpenCLDevice> all = new ArrayList<>();
    try {
      for (Device.TYPE t : new Device.TYPE[] {Device.TYPE.GPU, Device.TYPE.ACC, Device.TYPE.CPU}) {
        List<OpenCLDevice> l = new ArrayList<>(OpenCLDevice.listDevices(t));
        l.sort(Comparator.comparingInt(OpenCLDevice::getMaxComputeUnits).reversed());
        all.addAll(l);
      }
    } catch (Throwable e) {
      // no OpenCL ICD loader / no platform: report as no devices
    }
    return all;
  }

  static OpenCLDevice best() {
    List<OpenCLDevice> all = openclDevices();
    if (all.isEmpty()) {
      throw new IllegalStateException("no OpenCL device found: install an OpenCL driver (CPU: apt-get install pocl-opencl-icd; "
          + "NVIDIA: the driver's OpenCL ICD; check with 'clinfo -l'), or ask for the plain-Java reference with --device java");
    }
    String want = System.getProperty(DEVICE_PROPERTY);
    if (want != null && !want.isBlank()) {
      for (OpenCLDevice d : all) {
        if (d.getName().toLowerCase(Locale.ROOT).contains(want.toLowerCase(Locale.ROOT))) return d;
      }
      throw new IllegalStateException("no OpenCL device matches -D" + DEVICE_PROPERTY + "=" + want + "; found: "
          + all.stream().map(OpenCLDevice::getName).toList());
    }
    return all.get(0);
  }

  static DeviceInfo describe(OpenCLDevice d) {
    String vendor;
    try {
      vendor = d.getOpenCLPlatform().getVendor();
    } catch (Throwable e) {
      vendor = "unknown vendor";
    }
    return new DeviceInfo("opencl", d.getName().trim(), vendor, String.valueOf(d.getType()));
  }

  private static void logOnce(String what) {
    if (logged) return;
    logged = true;
    System.getLogger("dev.sparkinfer.kernels").log(System.Logger.Level.INFO, "kernels run on " + what);
  }
}
