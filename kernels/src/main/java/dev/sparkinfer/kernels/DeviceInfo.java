package dev.sparkinfer.kernels;

/**
 * The device that ran the kernels, for logs, job summaries and tests.
 *
 * @param kind   "opencl" or "java"
 * @param type   GPU, CPU, ACC for OpenCL; "reference" for java
 */
public record DeviceInfo(String kind, String name, String vendor, String type) {
  public static final DeviceInfo JAVA = new DeviceInfo("java", "plain-Java reference ops", "-", "reference");

  public boolean isOpenCL() { return "opencl".equals(kind); }

  @Override
  public String toString() {
    return isOpenCL() ? "opencl: " + name + " (" + vendor + ", " + type + ")" : "java (plain-Java reference ops)";
  }
}
