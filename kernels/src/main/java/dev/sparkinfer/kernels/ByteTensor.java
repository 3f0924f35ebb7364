package dev.sparkinfer.kernels;

/**
 * Bytes in an {@link Ops}' byte memory (quantized weights): {@code size} bytes from {@code offset}. Uploaded once with
 * {@link Ops#uploadBytes}; read only by the kernels that dequantize them.
 */
public record ByteTensor(int offset, int size) {
  public ByteTensor {
    if (offset < 0 || size < 0) throw new IllegalArgumentException("bad byte tensor offset=" + offset + " size=" + size);
  }
}
