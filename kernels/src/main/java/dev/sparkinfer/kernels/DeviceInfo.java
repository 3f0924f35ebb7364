package dev.sparkinfer.kernels;

/**
 * The device that ran the kernels, for logs, job summaries and tests.
 *
 * @param kind   "opencl", "cpu" (the Vector API engine) or "java"
 * @param type   GPU, CPU, ACC for OpenCL; CPU for cpu; "reference" for java
 */
public record DeviceInfo(String kind, String name, String vendor, String type) {
  public static final DeviceInfo JAVA = new DeviceInfo("java", "plain-Java reference ops", "-", "reference");

  public boolean isOpenCL() { return "opencl".equals(kind); }

  /** The Java engine that --device auto ran because no OpenCL device could: the reason is kept in the name. */
  public static DeviceInfo javaFallback(String why) {
    return new DeviceInfo("java", "plain-Java reference ops, --device auto fallback: " + why, "-", "reference");
  }

  @Override
  public String toString() {
    return switch (kind) {
      case "opencl" -> "opencl: " + name + " (" + vendor + ", " + type + ")";
      case "cpu" -> "cpu: " + name + " on " + vendor;
      default -> "java (" + name + ")";
    };
  }
}
