package dev.sparkinfer.kernels;

import java.io.Serializable;
import java.util.Locale;

/**
 * Magnitude pruning of Linear weights at load ({@code --prune}, {@code sparkinfer.prune}): the smallest-|w| entries of
 * each Linear weight {@code [out, in]} are set to zero, in plain Java, before the weight is uploaded (and before it is
 * quantized when {@code --quantize} is given too). Embeddings, norms, biases, a decoder's head and MoE router are left
 * as stored (the layers that {@link Quantization} touches are the ones pruned).
 *
 * <ul>
 *   <li>{@code unstructured:F} zeroes {@code round(F * out * in)} entries of each weight <b>matrix</b>: one threshold per
 *       matrix, not per row. That is the classic magnitude baseline (Han et al. 2015; PyTorch's
 *       {@code torch.nn.utils.prune.l1_unstructured} ranks the whole tensor), so the figures compare with the literature;
 *       per-row ranking (Wanda's choice) keeps every output channel equally dense, which a per-matrix rank does not.
 *       Ties at the threshold are broken by position (the lower index is zeroed first), so the count is exact.</li>
 *   <li>{@code 2:4} zeroes the 2 smallest-|w| of every 4 consecutive weights along {@code in} in each row (of equal
 *       magnitudes the lower index is kept): the layout of NVIDIA's sparse tensor cores (Ampere and later), 50 % sparsity with a fixed
 *       pattern. {@code in} must be a multiple of 4.</li>
 * </ul>
 *
 * <p><b>What it saves here: nothing.</b> The weights keep their dense layout (float, 16-bit or quantized) and every
 * engine's matmul multiplies the zeros like any other value: no sparse format, no zero skipping, no 2:4 sparse tensor
 * core path (Aparapi cannot reach it). The setting exists to measure what pruning costs in quality
 * ({@code DecoderQualityBenchmark}, {@code QuantizationBenchmark}); the same benchmarks show the bytes held and the
 * tokens/s are those of the unpruned model.
 *
 * @param fraction {@link Kind#UNSTRUCTURED}: the fraction of each matrix zeroed, in [0, 1); 0.5 for 2:4; 0 for none
 */
public record Pruning(Kind kind, double fraction) implements Serializable {
  public enum Kind { NONE, UNSTRUCTURED, TWO_FOUR }

  public static final Pruning NONE = new Pruning(Kind.NONE, 0);
  public static final Pruning TWO_FOUR = new Pruning(Kind.TWO_FOUR, 0.5);

  public Pruning {
    if (kind == null) throw new IllegalArgumentException("pruning kind is null");
    if (kind == Kind.UNSTRUCTURED && !(fraction >= 0 && fraction < 1)) {
      throw new IllegalArgumentException("--prune unstructured:F needs 0 <= F < 1 (the fraction of each weight matrix set to zero), got " + fraction);
    }
  }

  public static Pruning unstructured(double fraction) { return new Pruning(Kind.UNSTRUCTURED, fraction); }

  public boolean isNone() { return kind == Kind.NONE; }

  /** {@code none}, {@code unstructured:F} (0 <= F < 1, e.g. 0.5) or {@code 2:4}; fails saying what to fix. */
  public static Pruning parse(String s) {
    String t = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
    if (t.isEmpty() || t.equals("none") || t.equals("off")) return NONE;
    if (t.equals("2:4")) return TWO_FOUR;
    if (t.startsWith("unstructured:")) {
      String f = t.substring("unstructured:".length());
      double v;
      try {
        v = Double.parseDouble(f);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--prune unstructured:F needs a fraction F such as 0.5, got '" + f + "'");
      }
      return unstructured(v);
    }
    throw new IllegalArgumentException("--prune (sparkinfer.prune) must be none, unstructured:F (0 <= F < 1, e.g. unstructured:0.5) or 2:4, got '" + s + "'");
  }

  /** What the recorded model name carries: {@code prune2:4}, {@code prune0.5}; empty for none. */
  public String label() {
    return switch (kind) {
      case NONE -> "";
      case TWO_FOUR -> "prune2:4";
      case UNSTRUCTURED -> "prune" + trim(fraction);
    };
  }

  @Override
  public String toString() {
    return switch (kind) {
      case NONE -> "none";
      case TWO_FOUR -> "2:4";
      case UNSTRUCTURED -> "unstructured:" + trim(fraction);
    };
  }

  private static String trim(double f) {
    String s = Double.toString(f);
    return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
  }

  /** Entries of an {@code [out, in]} weight this pruning sets to zero (whatever was zero before). */
  public long zeroed(int out, int in) {
    long n = (long) out * in;
    return switch (kind) {
      case NONE -> 0;
      case TWO_FOUR -> n / 2;
      case UNSTRUCTURED -> Math.round(fraction * n);
    };
  }

  /**
   * Prunes {@code w} ({@code [out, in]}, PyTorch's Linear layout) in place and returns it; NaN or infinite weights are
   * refused (they have no magnitude rank).
   */
  public float[] apply(float[] w, int out, int in) {
    if (w.length != (long) out * in) throw new IllegalArgumentException("linear weight has " + w.length + " floats, expected " + out + " x " + in);
    switch (kind) {
      case NONE -> { }
      case TWO_FOUR -> twoFour(w, out, in);
      case UNSTRUCTURED -> unstructured(w, zeroed(out, in));
    }
    return w;
  }

  /**
   * Prunes 16-bit weights (bf16/f16 bits, {@code floats} their values) in place: an entry is zeroed where the float
   * pruning zeroes it, so a 16-bit checkpoint stays 16-bit (zero is exact in both types).
   */
  public char[] apply16(char[] bits, float[] floats, int out, int in) {
    if (bits.length != floats.length) throw new IllegalArgumentException("16-bit weight has " + bits.length + " values, its floats " + floats.length);
    float[] f = apply(floats.clone(), out, in);
    for (int i = 0; i < f.length; i++) if (f[i] == 0) bits[i] = 0;
    return bits;
  }

  private static void twoFour(float[] w, int out, int in) {
    if (in % 4 != 0) {
      throw new IllegalArgumentException("--prune 2:4 needs the inputs of every Linear weight to be a multiple of 4, got a weight ["
          + out + ", " + in + "]; use --prune unstructured:0.5 for this model");
    }
    for (int g = 0; g < w.length; g += 4) {
      // the two largest |w| of the four stay: ranks by |w|, ties to the lower index
      int keepA = -1, keepB = -1;
      for (int j = g; j < g + 4; j++) {
        float a = abs(w[j]);
        if (keepA < 0 || a > abs(w[keepA])) { keepB = keepA; keepA = j; }
        else if (keepB < 0 || a > abs(w[keepB])) keepB = j;
      }
      for (int j = g; j < g + 4; j++) if (j != keepA && j != keepB) w[j] = 0;
    }
  }

  /** Zeroes the k smallest-|w| entries: the k-th smallest magnitude by selection, then ties at it by position. */
  private static void unstructured(float[] w, long k) {
    if (k <= 0) return;
    float[] mags = new float[w.length];
    for (int i = 0; i < w.length; i++) mags[i] = abs(w[i]);
    float threshold = select(mags, (int) k - 1);
    long below = 0;
    for (float v : w) if (abs(v) < threshold) below++;
    long atThreshold = k - below;
    for (int i = 0; i < w.length; i++) {
      float a = abs(w[i]);
      if (a < threshold) w[i] = 0;
      else if (a == threshold && atThreshold > 0) { w[i] = 0; atThreshold--; }
    }
  }

  private static float abs(float v) {
    if (!Float.isFinite(v)) throw new IllegalArgumentException("a Linear weight is " + v + ": cannot rank it by magnitude for pruning");
    return Math.abs(v);
  }

  /** The value of rank {@code r} (0-based) of {@code a}, which it reorders (Hoare quickselect, middle pivot). */
  static float select(float[] a, int r) {
    int lo = 0, hi = a.length - 1;
    while (lo < hi) {
      float pivot = a[(lo + hi) >>> 1];
      int i = lo, j = hi;
      while (i <= j) {
        while (a[i] < pivot) i++;
        while (a[j] > pivot) j--;
        if (i <= j) { float t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
      }
      if (r <= j) hi = j;
      else if (r >= i) lo = i;
      else return a[r];
    }
    return a[r];
  }
}
