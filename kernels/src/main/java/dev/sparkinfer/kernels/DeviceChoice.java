package dev.sparkinfer.kernels;

import java.util.Locale;

/**
 * Which device runs the kernels.
 * <ul>
 *   <li>{@code AUTO}: an OpenCL GPU (or accelerator) when there is one, else the CPU engine; says loudly what it ran
 *   instead when neither can run.</li>
 *   <li>{@code OPENCL}: the best OpenCL device (GPU before accelerator before CPU, e.g. PoCL), strict: any kernel that
 *   would not run on OpenCL is an error.</li>
 *   <li>{@code CPU}: the Java Vector API engine ({@link CpuOps}); refused with the fix when the JVM lacks
 *   {@code --add-modules=jdk.incubator.vector}.</li>
 *   <li>{@code JAVA}: the plain-Java reference ops, asked for explicitly; never a silent substitute.</li>
 * </ul>
 */
public enum DeviceChoice {
  AUTO, OPENCL, CPU, JAVA;

  public static DeviceChoice parse(String s) {
    if (s == null) return AUTO;
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown device '" + s + "': use auto, cpu, opencl or java");
    }
  }
}
