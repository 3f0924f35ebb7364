package dev.sparkinfer.kernels;

/** IEEE 754 binary16 conversions (Java 17 has no Float.float16ToFloat; Java 20+ does). */
public final class Half {
  private Half() {}

  /** The float a binary16 bit pattern stands for: the same steps as the kernels' widening. */
  public static float toFloat(char h) {
    int s = (h & 0x8000) << 16, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0) return (s != 0 ? -1f : 1f) * m * 5.9604644775390625e-8f; // subnormal: m * 2^-24 (exact)
    if (e == 31) return Float.intBitsToFloat(s | 0x7f800000 | (m << 13)); // inf / NaN
    return Float.intBitsToFloat(s | ((e + 112) << 23) | (m << 13));
  }

  /** Nearest-even rounding of a float to binary16. */
  public static char fromFloat(float f) {
    int x = Float.floatToRawIntBits(f);
    int sign = (x >>> 16) & 0x8000;
    int abs = x & 0x7fffffff;
    if (abs > 0x7f800000) return (char) (sign | 0x7e00);
    if (abs >= 0x477ff000) return (char) (sign | 0x7c00); // rounds to infinity
    if (abs < 0x38800000) { // subnormal or zero in f16
      float v = Float.intBitsToFloat(abs) * 16777216f; // / 2^-24
      return (char) (sign | Math.round(Math.rint(v)));
    }
    int e = (abs >>> 23) - 112, m = abs & 0x7fffff;
    int h = (e << 10) | (m >>> 13);
    int rest = m & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1)) h++;
    return (char) (sign | h);
  }
}
