package dev.sparkinfer.kernels;

import com.aparapi.Kernel;

/**
 * What Aparapi's Java-to-OpenCL translator cannot express by itself: reinterpreting int bits as a float (OpenCL's
 * {@code as_float}), which widening bf16/f16 weights inside the kernels needs.
 *
 * <p>How: Aparapi maps a method annotated {@code @OpenCLMapping(mapTo = "as_float")} to that OpenCL built-in when the
 * call's owner class is not the kernel class it is translating, and {@code @NoCL} keeps it from translating the body
 * (whose {@code Float.intBitsToFloat} it cannot parse). So the mapping lives in this superclass and {@link OpsKernel}
 * calls it as {@code super.asFloat(...)} (an invokespecial whose owner is this class). In Java (Aparapi's fallback
 * and the Java twin) the body runs.
 */
abstract class BitsKernel extends Kernel {
  @OpenCLMapping(mapTo = "as_float")
  @NoCL
  protected float asFloat(int bits) { return Float.intBitsToFloat(bits); }
}
