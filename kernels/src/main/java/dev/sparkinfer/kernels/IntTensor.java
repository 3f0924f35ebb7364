package dev.sparkinfer.kernels;

/** An int tensor (token ids, masks, top-k indices) living in an {@link Ops}' int memory. */
public record IntTensor(int offset, int size) {
  public IntTensor {
    if (offset < 0 || size < 0) throw new IllegalArgumentException("bad int tensor offset=" + offset + " size=" + size);
  }

  public IntTensor slice(int from, int size) {
    if (from < 0 || size < 0 || from + size > this.size) {
      throw new IllegalArgumentException("slice [" + from + ", " + (from + size) + ") outside int tensor of " + this.size);
    }
    return new IntTensor(offset + from, size);
  }
}
