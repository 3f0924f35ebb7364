package dev.sparkinfer.kernels;

/**
 * 16-bit weights living in an {@link Ops}' 16-bit memory: {@code size} values of {@code dtype} from {@code offset} of
 * bank {@code bank}.
 * Uploaded once with {@link Ops#upload16}; read only by the ops that widen them in their kernels.
 */
public record HalfTensor(int bank, int offset, int size, DType dtype) {
  public HalfTensor {
    if (bank < 0) throw new IllegalArgumentException("bad 16-bit bank " + bank);
    if (offset < 0 || size < 0) throw new IllegalArgumentException("bad 16-bit tensor offset=" + offset + " size=" + size);
    if (dtype == DType.F32) throw new IllegalArgumentException("a HalfTensor holds bf16 or f16, not f32");
  }

  /** A view of {@code size} values starting {@code from} values into this tensor. */
  public HalfTensor slice(int from, int size) {
    if (from < 0 || size < 0 || (long) from + size > this.size) {
      throw new IllegalArgumentException("slice [" + from + ", " + ((long) from + size) + ") outside 16-bit tensor of " + this.size);
    }
    return new HalfTensor(bank, offset + from, size, dtype);
  }
}
