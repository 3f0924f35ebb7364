package dev.sparkinfer.models.weights;

/**
 * 16-bit floating-point formats widened to float32 (Java 17 has no {@code Float.float16ToFloat}).
 * IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals, infinities, NaN payloads and
 * negative zero are kept exactly (every half value is exactly representable as a float).
 * bfloat16: the upper 16 bits of a float32.
 */
public final class Half {
  private Half() {}

  private static final float[] TABLE = new float[1 << 16];

  static {
    for (int i = 0; i < TABLE.length; i++) TABLE[i] = compute(i);
  }

  /** IEEE binary16 bits (low 16 bits of {@code bits}) to float. */
  public static float toFloat(short bits) { return TABLE[bits & 0xffff]; }

  /** bfloat16 bits (low 16 bits of {@code bits}) to float. */
  public static float bf16ToFloat(short bits) { return Float.intBitsToFloat((bits & 0xffff) << 16); }

  private static float compute(int h) {
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1f;
    int mant = h & 0x3ff;
    if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13)); // inf, NaN (payload kept)
    if (exp == 0) {
      if (mant == 0) return Float.intBitsToFloat(sign); // +-0
      float f = mant * 0x1p-24f; // subnormal: mant * 2^-24, exact in float
      return sign != 0 ? -f : f;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13)); // rebias 15 -> 127
  }
}
