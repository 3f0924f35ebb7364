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

  /**
   * Opens the ops for a choice. {@code opencl} fails with a message that says what to do when no OpenCL device can run;
   * {@code auto} then runs the plain-Java engine and says so loudly (once per JVM): which engine, why, how much slower,
   * and the command that installs an OpenCL driver. The ops' {@link Ops#device()} records the fallback.
   */
  public static Ops open(DeviceChoice choice) { return open(choice, EngineConfig.fromSystemProperties()); }

  /** With the engine's tunables (kernel choices, memory budget, pinned device) from a config that travelled with the job. */
  public static Ops open(DeviceChoice choice, EngineConfig config) { return open(choice, config, Devices::openclDevices); }

  static Ops open(DeviceChoice choice, java.util.function.Supplier<List<OpenCLDevice>> devices) {
    return open(choice, EngineConfig.fromSystemProperties(), devices);
  }

  static Ops open(DeviceChoice choice, EngineConfig config, java.util.function.Supplier<List<OpenCLDevice>> devices) {
    if (choice == DeviceChoice.JAVA) {
      logOnce(DeviceInfo.JAVA.toString());
      return javaOps(DeviceInfo.JAVA, config);
    }
    String why;
    try {
      OpenCLDevice d = best(devices.get(), config.openclDevice());
      AparapiOps ops = new AparapiOps(d, config.withStrict(choice == DeviceChoice.OPENCL || config.strict()));
      logOnce(ops.device().toString());
      return ops;
    } catch (IllegalStateException e) {
      if (choice == DeviceChoice.OPENCL) throw e;
      why = e.getMessage().startsWith(NO_DEVICE) ? NO_DEVICE : e.getMessage(); // the install hint follows in the message
    }
    DeviceInfo info = DeviceInfo.javaFallback(why);
    if (!fallbackSaid) {
      fallbackSaid = true;
      System.err.println(fallbackMessage(why));
    }
    logOnce(info.toString());
    return javaOps(info, config);
  }

  /** The Java engine's budget: the config's, else 90 % of the JVM's max heap (its arrays live there). */
  private static JavaOps javaOps(DeviceInfo info, EngineConfig config) {
    JavaOps ops = new JavaOps(info);
    ops.setBudget(config.budgetBytes() > 0 ? config.budgetBytes() : Runtime.getRuntime().maxMemory() / 10 * 9);
    return ops;
  }

  /** What --device auto says when it runs the Java engine. */
  static String fallbackMessage(String why) {
    return "\n*** sparkinfer: --device auto runs the plain-Java engine on this machine, not OpenCL: " + why + "\n"
        + "*** The Java engine computes the same numbers about 10x slower than PoCL (all-MiniLM-L6-v2 on a 2-core Xeon:\n"
        + "*** 0.6 against 6.8 sentences/s, bin/benchmark embed).\n"
        + "*** To use the CPU's OpenCL driver: sudo apt-get install pocl-opencl-icd ocl-icd-libopencl1 clinfo\n"
        + "*** (check with 'clinfo -l'); --device java runs this engine without this message, --device opencl refuses to.\n";
  }

  private static volatile boolean fallbackSaid;
  private static final String NO_DEVICE = "no OpenCL device found";

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

  static OpenCLDevice best() { return best(openclDevices(), System.getProperty(DEVICE_PROPERTY)); }

  static OpenCLDevice best(List<OpenCLDevice> all, String want) {
    if (all.isEmpty()) {
      throw new IllegalStateException(NO_DEVICE + ": install an OpenCL driver (CPU: apt-get install pocl-opencl-icd; "
          + "NVIDIA: the driver's OpenCL ICD; check with 'clinfo -l'), or ask for the plain-Java reference with --device java");
    }
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
