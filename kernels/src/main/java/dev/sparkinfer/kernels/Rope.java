package dev.sparkinfer.kernels;

/**
 * Rotary-embedding frequencies as Hugging Face computes them (float32): {@code inv_freq[i] = 1 / theta^(2i / dim)}, and
 * the {@code llama3} {@code rope_scaling} type of Llama 3.1+ (transformers' {@code _compute_llama3_parameters}): long
 * wavelengths divided by {@code factor}, short ones kept, the band between blended. The op that applies them is
 * {@link Ops#rope}.
 */
public final class Rope {
  private Rope() {}

  /** {@code rope_scaling} of type llama3. */
  public record Llama3Scaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {}

  /** headDim / 2 inverse frequencies, scaled when {@code scaling} is not null. */
  public static float[] invFreq(int headDim, double theta, Llama3Scaling scaling) {
    if (headDim <= 0 || headDim % 2 != 0) throw new IllegalArgumentException("rotary dimension must be even and positive, got " + headDim);
    float[] inv = new float[headDim / 2];
    for (int i = 0; i < inv.length; i++) {
      float exponent = (float) (2 * i) / headDim; // arange(0, dim, 2).float() / dim, in float32
      inv[i] = 1f / (float) Math.pow(theta, exponent);
    }
    if (scaling == null) return inv;
    double lowWavelen = scaling.originalMaxPositions() / scaling.lowFreqFactor();
    double highWavelen = scaling.originalMaxPositions() / scaling.highFreqFactor();
    float factor = (float) scaling.factor();
    for (int i = 0; i < inv.length; i++) {
      float f = inv[i];
      float wavelen = (float) (2 * Math.PI) / f;
      float scaled = wavelen > lowWavelen ? f / factor : f;
      if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
        float smooth = (float) ((scaling.originalMaxPositions() / wavelen - scaling.lowFreqFactor())
            / (scaling.highFreqFactor() - scaling.lowFreqFactor()));
        scaled = (1 - smooth) * scaled / factor + smooth * scaled;
      }
      inv[i] = scaled;
    }
    return inv;
  }
}
