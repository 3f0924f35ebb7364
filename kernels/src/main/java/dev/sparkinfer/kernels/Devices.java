package dev.sparkinfer.kernels;

import com.aparapi.device.Device;
import com.aparapi.device.OpenCLDevice;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Device choice: {@code auto} takes an OpenCL GPU or accelerator when there is one, else the CPU engine ({@link CpuOps});
 * {@code opencl} the best OpenCL device (GPU, then accelerator, then CPU such as PoCL; within a type, most compute units);
 * {@code cpu} the CPU engine; {@code java} the reference ops. The system property {@code sparkinfer.opencl.device}
 * (a substring of the device name) pins one OpenCL device, for auto too; {@code #N} pins the N-th GPU (or accelerator) in
 * {@link #openclDevices()}' order: GPUs with the most compute units first, then platform order, which on a machine of
 * identical GPUs is the driver's own order. Spark's GPU addresses become such pins on executors (udf.model.TaskGpu).
 * The device used is logged once per JVM.
 */
public final class Devices {
  public static final String DEVICE_PROPERTY = "sparkinfer.opencl.device";
  private static volatile boolean logged;

  static {
    AparapiLog.install();
  }

  private Devices() {}

  /**
   * Opens the ops for a choice. {@code opencl} and {@code cpu} fail with a message that says what to do when they cannot
   * run; {@code auto} then runs what it can (OpenCL on the CPU, else the plain-Java engine) and says so loudly (once per
   * JVM): which engine, why, and how to get the fast one. The ops' {@link Ops#device()} records a Java fallback.
   */
  public static Ops open(DeviceChoice choice) { return open(choice, EngineConfig.fromSystemProperties()); }

  /** With the engine's tunables (kernel choices, memory budget, pinned device) from a config that travelled with the job. */
  public static Ops open(DeviceChoice choice, EngineConfig config) { return open(choice, config, Devices::openclDevices); }

  static Ops open(DeviceChoice choice, java.util.function.Supplier<List<OpenCLDevice>> devices) {
    return open(choice, EngineConfig.fromSystemProperties(), devices);
  }

  static Ops open(DeviceChoice choice, EngineConfig config, java.util.function.Supplier<List<OpenCLDevice>> devices) {
    return open(choice, config, devices, vectorApiMissing());
  }

  /**
   * @param vectorMissing why the CPU engine cannot run in this JVM (null: it can)
   */
  static Ops open(DeviceChoice choice, EngineConfig config, java.util.function.Supplier<List<OpenCLDevice>> devices,
                  String vectorMissing) {
    switch (choice) {
      case JAVA -> {
        logOnce(DeviceInfo.JAVA.toString());
        return javaOps(DeviceInfo.JAVA, config);
      }
      case CPU -> {
        if (vectorMissing != null) throw new IllegalStateException("--device cpu: " + vectorMissing);
        return cpuOps(config);
      }
      case OPENCL -> {
        AparapiOps ops = new AparapiOps(best(devices.get(), config.openclDevice()), config.withStrict(true));
        logOnce(ops.device().toString());
        return ops;
      }
      default -> { } // AUTO below
    }
    // auto: an OpenCL GPU or accelerator (or the pinned device), else the CPU engine
    List<OpenCLDevice> all;
    String openclWhy = null;
    try {
      all = devices.get();
    } catch (RuntimeException e) {
      all = List.of();
      openclWhy = e.getMessage();
    }
    boolean pinned = !config.openclDevice().isBlank();
    List<OpenCLDevice> accelerators = pinned ? all
        : all.stream().filter(d -> d.getType() == Device.TYPE.GPU || d.getType() == Device.TYPE.ACC).toList();
    if (!accelerators.isEmpty()) {
      try {
        AparapiOps ops = new AparapiOps(best(accelerators, config.openclDevice()), config.withStrict(config.strict()));
        logOnce(ops.device().toString());
        return ops;
      } catch (IllegalStateException e) {
        if (pinned) throw e;
        openclWhy = e.getMessage();
      }
    } else if (pinned) {
      best(all, config.openclDevice()); // says which devices exist
    }
    if (vectorMissing == null) {
      if (openclWhy != null) say("*** sparkinfer: --device auto found an OpenCL GPU but could not open it (" + openclWhy
          + "); it runs the CPU engine instead.");
      return cpuOps(config);
    }
    // the JVM lacks the Vector API: PoCL (an OpenCL CPU device) if there is one, else the Java reference, said loudly
    String why = vectorMissing;
    if (!all.isEmpty()) {
      try {
        AparapiOps ops = new AparapiOps(best(all, ""), config.withStrict(config.strict()));
        say("\n*** sparkinfer: --device auto runs OpenCL on the CPU (" + ops.device() + "), not the CPU engine: " + why + "\n");
        logOnce(ops.device().toString());
        return ops;
      } catch (IllegalStateException e) {
        why = why + "; and OpenCL: " + e.getMessage();
      }
    } else {
      why = why + "; and " + NO_DEVICE;
    }
    DeviceInfo info = DeviceInfo.javaFallback(why);
    say(fallbackMessage(why));
    logOnce(info.toString());
    return javaOps(info, config);
  }

  /** Why the Vector API engine cannot run in this JVM, or null when it can. */
  static String vectorApiMissing() {
    if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) return null;
    return "this JVM was started without --add-modules=jdk.incubator.vector, which the CPU engine needs (bin/pipeline "
        + "and the deploy scripts pass it; with spark-submit add it to spark.driver.extraJavaOptions and "
        + "spark.executor.extraJavaOptions)";
  }

  private static CpuOps cpuOps(EngineConfig config) {
    CpuOps ops = new CpuOps(config.cpuThreadsOrAll(), config);
    // its arrays live on the heap, as the Java engine's
    ops.setBudget(config.budgetBytes() > 0 ? config.budgetBytes() : Runtime.getRuntime().maxMemory() / 10 * 9);
    logOnce(ops.device().toString());
    return ops;
  }

  private static void say(String message) {
    if (fallbackSaid) return;
    fallbackSaid = true;
    System.err.println(message);
  }

  /** The Java engine's budget: the config's, else 90 % of the JVM's max heap (its arrays live there). */
  private static JavaOps javaOps(DeviceInfo info, EngineConfig config) {
    JavaOps ops = new JavaOps(info);
    ops.setBudget(config.budgetBytes() > 0 ? config.budgetBytes() : Runtime.getRuntime().maxMemory() / 10 * 9);
    return ops;
  }

  /** What --device auto says when it runs the Java engine. */
  static String fallbackMessage(String why) {
    return "\n*** sparkinfer: --device auto runs the plain-Java reference engine on this machine: " + why + "\n"
        + "*** The reference computes the same numbers one to two orders of magnitude slower than the CPU engine\n"
        + "*** (bin/pipeline bench measures both). For the CPU engine start the JVM with --add-modules=jdk.incubator.vector;\n"
        + "*** for OpenCL on the CPU: sudo apt-get install pocl-opencl-icd ocl-icd-libopencl1 clinfo (check with 'clinfo -l').\n"
        + "*** --device java runs this engine without this message; --device cpu and --device opencl refuse to.\n";
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
    if (!all.isEmpty()) SignalChaining.warnIfMissing(); // the driver is loaded now (PoCL: its SIGFPE handler too)
    return all;
  }

  /**
   * True when this JVM can run the OpenCL engine: an OpenCL device exists, and the JVM is one the engine accepts (Java 17
   * to 20 with G1; see NonMovingArrays). Tests use it to skip their OpenCL half where it cannot run.
   */
  public static boolean openclRuns() {
    return NonMovingArrays.refusal(Runtime.version().feature()) == null && !openclDevices().isEmpty();
  }

  static OpenCLDevice best() { return best(openclDevices(), System.getProperty(DEVICE_PROPERTY)); }

  static OpenCLDevice best(List<OpenCLDevice> all, String want) {
    if (all.isEmpty()) {
      throw new IllegalStateException(NO_DEVICE + ": install an OpenCL driver (CPU: apt-get install pocl-opencl-icd; "
          + "NVIDIA: the driver's OpenCL ICD; check with 'clinfo -l'), or ask for the plain-Java reference with --device java");
    }
    if (want != null && want.trim().matches("#\\d+")) {
      // a GPU by number (Spark's GPU address, udf.model.TaskGpu): the N-th GPU or accelerator in this list's order
      int n = Integer.parseInt(want.trim().substring(1));
      List<OpenCLDevice> gpus = all.stream().filter(d -> d.getType() == Device.TYPE.GPU || d.getType() == Device.TYPE.ACC).toList();
      if (n >= gpus.size()) {
        throw new IllegalStateException("no OpenCL GPU " + want.trim() + " (-D" + DEVICE_PROPERTY + "=" + want.trim()
            + ", or Spark's GPU address " + n + "): this machine's OpenCL GPUs and accelerators are "
            + gpus.stream().map(OpenCLDevice::getName).toList() + " (all devices: " + all.stream().map(OpenCLDevice::getName).toList()
            + "); check the discovery script's addresses against 'clinfo -l'");
      }
      return gpus.get(n);
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
