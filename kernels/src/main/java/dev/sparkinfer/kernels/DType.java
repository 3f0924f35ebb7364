package dev.sparkinfer.kernels;

/**
 * Storage precision of weights. 16-bit weights stay 16-bit in host memory and on the device (the bit patterns of the
 * checkpoint, in a {@code char[]}) and are widened to float inside the kernels, where they are multiplied; activations
 * are float32. The widening here is the reference every kernel's is tested against.
 */
public enum DType {
  F32(4), BF16(2), F16(2);

  private final int bytes;

  DType(int bytes) { this.bytes = bytes; }

  public int bytes() { return bytes; }

  /** The code the kernels receive: 0 bf16, 1 f16 (16-bit banks), 2 f32 (float banks). */
  int kernelCode() {
    return switch (this) {
      case BF16 -> 0;
      case F16 -> 1;
      case F32 -> 2;
    };
  }

  /** The float a 16-bit pattern of this type stands for (exact: every bf16 and f16 value is a float). */
  public float toFloat(char bits) {
    return switch (this) {
      case BF16 -> Float.intBitsToFloat(bits << 16);
      case F16 -> Half.toFloat(bits);
      case F32 -> throw new IllegalArgumentException("f32 weights are not 16-bit");
    };
  }

  /** Widens a whole array (tests, and the Java engine's reads of small tensors). */
  public float[] toFloats(char[] bits) {
    float[] out = new float[bits.length];
    for (int i = 0; i < bits.length; i++) out[i] = toFloat(bits[i]);
    return out;
  }

  /** Parses the dtype names of safetensors headers (F32, BF16, F16). */
  public static DType ofSafetensors(String name) {
    return switch (name) {
      case "F32" -> F32;
      case "BF16" -> BF16;
      case "F16" -> F16;
      default -> throw new IllegalArgumentException("unsupported weight dtype " + name + " (F32, BF16 and F16 are)");
    };
  }

  /** Rounds a float to this 16-bit type, nearest-even (for making test and benchmark weights). */
  public char fromFloat(float f) {
    return switch (this) {
      case BF16 -> {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) yield (char) ((x >>> 16) | 0x40); // NaN stays NaN
        yield (char) ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16);
      }
      case F16 -> Half.fromFloat(f);
      case F32 -> throw new IllegalArgumentException("f32 weights are not 16-bit");
    };
  }
}
