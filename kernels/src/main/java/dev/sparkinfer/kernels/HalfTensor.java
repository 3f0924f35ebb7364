package dev.sparkinfer.kernels;

/**
 * Weights living in an {@link Ops}' banks: {@code size} values of {@code dtype} from {@code offset} of bank
 * {@code bank}, a 16-bit bank for BF16/F16 ({@link Ops#upload16}, widened where read) or a float bank for F32
 * ({@link Ops#uploadBanked}, read as stored). Read only by the banked ops ({@link Ops#linear16}, {@link Ops#gather16}).
 * {@code panel}: 0 for a row-major {@code [rows, cols]} tensor; else a Linear weight that the engine packed in panels of
 * that many output columns ({@link Ops#upload16Linear}), which only that engine's {@link Ops#linear16} and
 * {@link Ops#gather16} read.
 */
public record HalfTensor(int bank, int offset, int size, DType dtype, int panel) {
  public HalfTensor {
    if (bank < 0) throw new IllegalArgumentException("bad 16-bit bank " + bank);
    if (offset < 0 || size < 0) throw new IllegalArgumentException("bad 16-bit tensor offset=" + offset + " size=" + size);
    if (dtype == null) throw new IllegalArgumentException("a banked tensor needs a dtype");
    if (panel < 0) throw new IllegalArgumentException("bad panel width " + panel);
  }

  public HalfTensor(int bank, int offset, int size, DType dtype) { this(bank, offset, size, dtype, 0); }

  /** The same values, marked as packed in panels of {@code width} columns. */
  HalfTensor packed(int width) { return new HalfTensor(bank, offset, size, dtype, width); }

  /** A view of {@code size} values starting {@code from} values into this tensor (row-major tensors only). */
  public HalfTensor slice(int from, int size) {
    if (panel != 0) throw new IllegalArgumentException("a slice of a Linear weight packed in panels");
    if (from < 0 || size < 0 || (long) from + size > this.size) {
      throw new IllegalArgumentException("slice [" + from + ", " + ((long) from + size) + ") outside banked tensor of " + this.size);
    }
    return new HalfTensor(bank, offset + from, size, dtype);
  }
}
