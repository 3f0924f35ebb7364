package dev.sparkinfer.models.decoder;

import dev.sparkinfer.kernels.HalfTensor;
import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.weights.WeightSource;

/**
 * A token (or position) table [rows, dim] on the engine in the checkpoint's precision, in the engine's banks: 16-bit
 * tables widened where read, float32 ones in a float bank ({@link Ops#uploadBanked}: a float32 vocabulary such as
 * LLaMA-3's 128,256 x 2,048, 1 GiB, does not fill the OpenCL engine's float arena); also the output head when the model
 * ties it (logits = x table^T).
 */
public record Embedding(HalfTensor table, int rows, int dim) {
  public static Embedding load(Ops ops, WeightSource w, String name, int rows, int dim) {
    return load(ops, w, name, rows, dim, false);
  }

  /**
   * A table that is also the output head ({@code head}): 16-bit, it is uploaded as a Linear weight
   * ({@link Ops#upload16Linear}), so the head runs as the other Linear layers do (on the CPU engine: packed panels, and a
   * row's logits the same bits whatever the row count), and {@link #gather} reads it in that layout.
   */
  public static Embedding load(Ops ops, WeightSource w, String name, int rows, int dim, boolean head) {
    char[] bits = Linear.table16(w, name, rows, dim);
    if (bits != null) {
      var type = Linear.kernelType(w.dtype(name));
      return new Embedding(head ? ops.upload16Linear(bits, type, rows, dim) : ops.upload16(bits, type), rows, dim);
    }
    return new Embedding(ops.uploadBanked(w.floats(name)), rows, dim);
  }

  /** out[i, :] = table[ids[i], :] for i < n. */
  public void gather(Ops ops, Tensor out, IntTensor ids, int n) { ops.gather16(out, table, ids, n, rows, dim); }

  /** logits[n, rows] = x[n, dim] table^T (a tied output head). */
  public void head(Ops ops, Tensor logits, Tensor x, int n) { ops.linear16(logits, x, table, null, n, rows, dim); }

  /**
   * Reserves room on {@code ops} for every 16-bit tensor of {@code w} that {@code stays16} keeps 16-bit (quantized layers
   * do not), by {@link #values16}, before a model loads them.
   */
  public static void reserve16(Ops ops, WeightSource w, java.util.function.Predicate<String> stays16) {
    ops.reserve16(values16(ops, w, stays16));
  }

  /**
   * 16-bit values the tensors of {@code w} that {@code stays16} keeps 16-bit take on {@code ops}, at most: {@link #params16}
   * of each, plus alignment slack for each tensor.
   */
  public static long values16(Ops ops, WeightSource w, java.util.function.Predicate<String> stays16) {
    long total16 = 0;
    int tensors = 0;
    for (String n : w.names()) {
      if (!stays16.test(n)) continue;
      long v = params16(ops, w, n);
      total16 += v;
      if (v > 0) tensors++;
    }
    return total16 + 64L * tensors;
  }

  /**
   * 16-bit values this tensor takes on {@code ops}, at most (for reserving engine memory before loading): a matrix as a
   * Linear weight either way round ({@link Ops#linear16Values}, padded where the engine packs it; checkpoints store some
   * transposed), so at most a panel more than a matrix uploaded as it is; a tensor of more dimensions (a patch
   * convolution [width, 3, p, p]) as the matrix of its first dimension by the rest, which is how it is loaded; anything
   * else as its element count; 0 unless 16-bit.
   */
  public static long params16(Ops ops, WeightSource w, String name) {
    var t = w.dtype(name);
    if (t != dev.sparkinfer.models.weights.DType.BF16 && t != dev.sparkinfer.models.weights.DType.F16) return 0;
    long[] shape = w.shape(name);
    long rest = 1;
    for (int i = 1; i < shape.length; i++) rest *= shape[i];
    if (shape.length >= 2) {
      int a = Math.toIntExact(shape[0]), b = Math.toIntExact(rest);
      return Math.max(ops.linear16Values(a, b), ops.linear16Values(b, a));
    }
    return shape.length == 1 ? shape[0] : 1;
  }
}
