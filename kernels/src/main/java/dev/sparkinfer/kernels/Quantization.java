package dev.sparkinfer.kernels;

import java.util.Locale;

/**
 * Weight-only quantization of Linear weights at load ({@code sparkinfer.quantize=none|int8|int4}): the weights stay
 * quantized in memory and on the device and are dequantized inside the matmul kernels; activations stay float32, and
 * embeddings and norms keep their stored precision.
 *
 * <ul>
 *   <li>{@link #INT8}: symmetric, one float scale per output channel (row of the {@code [out, in]} weight),
 *       {@code scale = max|w| / 127}, values in [-127, 127].</li>
 *   <li>{@link #INT4}: symmetric, group-wise along {@code in} as GPTQ/AWQ checkpoints and GGUF Q4 store them: a float
 *       scale per group of {@link #INT4_GROUP} inputs of each row, {@code scale = max|w| / 7}, values in [-8, 7], two per
 *       byte.</li>
 * </ul>
 */
public enum Quantization {
  NONE(32), INT8(8), INT4(4);

  /** Inputs per INT4 scale group (GPTQ/AWQ's usual group size). */
  public static final int INT4_GROUP = 128;

  private final int bits;

  Quantization(int bits) { this.bits = bits; }

  public int bits() { return bits; }

  /** The scale group along {@code in} for a Linear weight with {@code in} inputs: the whole row for INT8. */
  public int group(int in) {
    return switch (this) {
      case INT8 -> in;
      case INT4 -> INT4_GROUP;
      case NONE -> throw new IllegalArgumentException("float weights have no scale groups");
    };
  }

  /** The setting's values: {@code none}, {@code int8}, {@code int4} (any case). */
  public static Quantization parse(String s) {
    return switch (s == null ? "" : s.trim().toLowerCase(Locale.ROOT)) {
      case "", "none", "f32", "off" -> NONE;
      case "int8" -> INT8;
      case "int4" -> INT4;
      default -> throw new IllegalArgumentException("sparkinfer.quantize (--quantize) must be none, int8 or int4, got '" + s + "'");
    };
  }

  @Override
  public String toString() { return name().toLowerCase(Locale.ROOT); }
}
