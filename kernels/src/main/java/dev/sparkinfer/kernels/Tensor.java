package dev.sparkinfer.kernels;

/**
 * A float tensor living in an {@link Ops}' memory: {@code size} floats from {@code offset}. Shapes are the caller's
 * business (row-major, dims passed to each op), as in llm.c.
 */
public record Tensor(int offset, int size) {
  public Tensor {
    if (offset < 0 || size < 0) throw new IllegalArgumentException("bad tensor offset=" + offset + " size=" + size);
  }

  /** A view of {@code size} floats starting {@code from} floats into this tensor. */
  public Tensor slice(int from, int size) {
    if (from < 0 || size < 0 || from + size > this.size) {
      throw new IllegalArgumentException("slice [" + from + ", " + (from + size) + ") outside tensor of " + this.size);
    }
    return new Tensor(offset + from, size);
  }
}
