package dev.sparkinfer.kernels;

/**
 * A Linear weight {@code [out, in]} quantized on the host, once at load, in plain Java: round-to-nearest, symmetric
 * ({@link Quantization}). This is also the reference every engine's dequantizing kernel is tested against:
 * {@code w[o, i] = q(o, i) * scales[o * groups + i / group]}.
 *
 * @param values INT8: {@code [out][in]} bytes; INT4: {@code [out][(in + 1) / 2]} bytes, input {@code 2j} in the low
 *               nibble of byte j and {@code 2j + 1} in the high one, each a 4-bit two's complement value
 * @param scales {@code [out][groups]} floats, {@code groups = ceil(in / group)}
 */
public record QuantizedWeights(Quantization scheme, int out, int in, int group, byte[] values, float[] scales) {
  public QuantizedWeights {
    if (scheme == null || scheme == Quantization.NONE) throw new IllegalArgumentException("not a quantization: " + scheme);
    if (out <= 0 || in <= 0) throw new IllegalArgumentException("bad Linear shape [" + out + ", " + in + "]");
    if (scheme == Quantization.INT8 && group != in) {
      throw new IllegalArgumentException("INT8 weights have one scale per output row (group = in = " + in + "), got group " + group);
    }
    if (scheme == Quantization.INT4 && (group <= 0 || group % 2 != 0)) {
      throw new IllegalArgumentException("INT4 scale groups must be a positive even number of inputs, got " + group);
    }
    long rowBytes = scheme == Quantization.INT4 ? (in + 1L) / 2 : in;
    if (values.length != out * rowBytes) {
      throw new IllegalArgumentException(scheme + " weight [" + out + ", " + in + "] needs " + out * rowBytes + " bytes, got " + values.length);
    }
    long groups = (in + (long) group - 1) / group;
    if (scales.length != out * groups) {
      throw new IllegalArgumentException(scheme + " weight [" + out + ", " + in + "] needs " + out * groups + " scales, got " + scales.length);
    }
  }

  public int rowBytes() { return scheme == Quantization.INT4 ? (in + 1) / 2 : in; }

  public int groups() { return (in + group - 1) / group; }

  /** Bytes held: values and scales. */
  public long bytes() { return values.length + 4L * scales.length; }

  /**
   * Quantizes {@code w} ({@code [out, in]}, PyTorch's Linear layout): per row (INT8) or per group of
   * {@link Quantization#INT4_GROUP} inputs of a row (INT4), {@code scale = max|w| / qmax} and {@code q = round(w / scale)}
   * clamped to the type's range; an all-zero group gets scale 0.
   */
  public static QuantizedWeights quantize(float[] w, int out, int in, Quantization scheme) {
    if (w.length != (long) out * in) throw new IllegalArgumentException("linear weight has " + w.length + " floats, expected " + out + " x " + in);
    int group = scheme.group(in);
    int groups = (in + group - 1) / group;
    boolean int4 = scheme == Quantization.INT4;
    int qmax = int4 ? 7 : 127, qmin = int4 ? -8 : -127;
    int rowBytes = int4 ? (in + 1) / 2 : in;
    byte[] values = new byte[Math.toIntExact((long) out * rowBytes)];
    float[] scales = new float[Math.toIntExact((long) out * groups)];
    for (int o = 0; o < out; o++) {
      for (int g = 0; g < groups; g++) {
        int i0 = g * group, i1 = Math.min(in, i0 + group);
        float max = 0;
        for (int i = i0; i < i1; i++) {
          float v = w[o * in + i];
          if (!Float.isFinite(v)) throw new IllegalArgumentException("linear weight [" + o + ", " + i + "] is " + v + ": cannot quantize");
          max = Math.max(max, Math.abs(v));
        }
        float scale = max / qmax;
        scales[o * groups + g] = scale;
        for (int i = i0; i < i1; i++) {
          int q = scale == 0 ? 0 : Math.max(qmin, Math.min(qmax, Math.round(w[o * in + i] / scale)));
          if (int4) {
            int at = o * rowBytes + i / 2;
            values[at] = (byte) ((i & 1) == 0 ? (values[at] & 0xf0) | (q & 0xf) : (values[at] & 0x0f) | (q << 4));
          } else {
            values[o * rowBytes + i] = (byte) q;
          }
        }
      }
    }
    return new QuantizedWeights(scheme, out, in, group, values, scales);
  }

  /** The integer at input i of a row whose bytes start at {@code rowStart} (the kernels' twin). */
  static int q(byte[] values, int rowStart, int i, boolean int4) {
    if (!int4) return values[rowStart + i];
    int b = values[rowStart + i / 2];
    return (i & 1) == 0 ? (b << 28) >> 28 : b >> 4;
  }

  /** The integer at [o, i]. */
  public int q(int o, int i) { return q(values, o * rowBytes(), i, scheme == Quantization.INT4); }

  /** The weight [o, i] stands for: {@code q * scale}, in float. */
  public float value(int o, int i) { return q(o, i) * scales[o * groups() + i / group]; }

  /** The whole weight dequantized, {@code [out, in]} (tests, quality reports). */
  public float[] dequantize() {
    float[] w = new float[Math.toIntExact((long) out * in)];
    for (int o = 0; o < out; o++) for (int i = 0; i < in; i++) w[o * in + i] = value(o, i);
    return w;
  }
}
