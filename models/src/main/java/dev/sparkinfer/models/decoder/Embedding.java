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
}
