package dev.sparkinfer.models.decoder;

import dev.sparkinfer.kernels.HalfTensor;
import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.weights.WeightSource;

/**
 * A token (or position) table [rows, dim] on the engine in the checkpoint's precision; also the output head when the
 * model ties it (logits = x table^T).
 */
public record Embedding(HalfTensor t16, Tensor t32, int rows, int dim) {
  public static Embedding load(Ops ops, WeightSource w, String name, int rows, int dim) {
    char[] bits = Linear.table16(w, name, rows, dim);
    if (bits != null) return new Embedding(ops.upload16(bits, Linear.kernelType(w.dtype(name))), null, rows, dim);
    return new Embedding(null, ops.upload(w.floats(name)), rows, dim);
  }

  /** out[i, :] = table[ids[i], :] for i < n. */
  public void gather(Ops ops, Tensor out, IntTensor ids, int n) {
    if (t16 != null) ops.gather16(out, t16, ids, n, rows, dim);
    else ops.gather(out, t32, ids, n, rows, dim, false);
  }

  /** logits[n, rows] = x[n, dim] table^T (a tied output head). */
  public void head(Ops ops, Tensor logits, Tensor x, int n) {
    if (t16 != null) ops.linear16(logits, x, t16, null, n, rows, dim);
    else ops.matmul(logits, x, t32, null, n, rows, dim, true);
  }

  /** 16-bit parameters this table holds (for reserving engine memory before loading). */
  public static long params16(WeightSource w, String name) {
    var t = w.dtype(name);
    if (t != dev.sparkinfer.models.weights.DType.BF16 && t != dev.sparkinfer.models.weights.DType.F16) return 0;
    long n = 1;
    for (long d : w.shape(name)) n *= d;
    return n;
  }
}
