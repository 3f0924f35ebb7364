package dev.sparkinfer.kernels;

import java.util.Locale;

/**
 * Which device runs the kernels.
 * <ul>
 *   <li>{@code AUTO}: the best OpenCL device (GPU before accelerator before CPU); fails when there is none.</li>
 *   <li>{@code OPENCL}: same choice, strict: any kernel that would not run on OpenCL is an error.</li>
 *   <li>{@code JAVA}: the plain-Java reference ops, asked for explicitly; never a silent substitute.</li>
 * </ul>
 */
public enum DeviceChoice {
  AUTO, OPENCL, JAVA;

  public static DeviceChoice parse(String s) {
    if (s == null) return AUTO;
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown device '" + s + "': use auto, opencl or java");
    }
  }
}
