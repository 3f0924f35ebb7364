package dev.sparkinfer.kernels;

import java.util.Arrays;

/**
 * The memory of the engines that compute on the JVM's heap ({@link JavaOps}, {@link CpuOps}): the arenas are the
 * device, so growing copies arrays and reads and writes are array copies.
 */
abstract class HeapOps extends ArenaOps {
  /** Java arrays: up to 2^31 - 1 elements (the JVM's limit is a few below), not a device buffer's 1 GiB. */
  @Override
  protected int maxFloats() { return Integer.MAX_VALUE - 64; }

  @Override
  protected void grow(float[] newMem, int[] newImem) {
    if (newMem != null) {
      System.arraycopy(mem, 0, newMem, 0, mem.length);
      mem = newMem;
    }
    if (newImem != null) {
      System.arraycopy(imem, 0, newImem, 0, imem.length);
      imem = newImem;
    }
  }

  @Override
  protected void grow16(int bank, char[] newBank) {
    System.arraycopy(banks[bank], 0, newBank, 0, banks[bank].length);
    banks[bank] = newBank;
  }

  @Override
  protected void growFloatBank(int bank, float[] newBank) {
    System.arraycopy(floatBanks[bank], 0, newBank, 0, floatBanks[bank].length);
    floatBanks[bank] = newBank;
  }

  @Override
  protected void writeFloatBank(int bank, int offset, float[] src) { System.arraycopy(src, 0, floatBanks[bank], offset, src.length); }

  @Override
  protected void grow8(byte[] newBytes) {
    System.arraycopy(bytes, 0, newBytes, 0, bytes.length);
    bytes = newBytes;
  }

  @Override
  protected void write8(int offset, byte[] src) { System.arraycopy(src, 0, bytes, offset, src.length); }

  @Override
  protected void write16(int bank, int offset, char[] src) { System.arraycopy(src, 0, banks[bank], offset, src.length); }

  @Override
  protected void zero(Tensor t) { Arrays.fill(mem, t.offset(), t.offset() + t.size(), 0f); }

  @Override
  protected void zero(IntTensor t) { Arrays.fill(imem, t.offset(), t.offset() + t.size(), 0); }

  @Override
  public void write(Tensor dst, float[] src) {
    checkOpen();
    check(dst, src.length, "write destination");
    System.arraycopy(src, 0, mem, dst.offset(), src.length);
  }

  @Override
  public void write(IntTensor dst, int[] src) {
    checkOpen();
    check(dst, src.length, "write destination");
    System.arraycopy(src, 0, imem, dst.offset(), src.length);
  }

  @Override
  public float[] read(Tensor src) {
    checkOpen();
    return Arrays.copyOfRange(mem, src.offset(), src.offset() + src.size());
  }

  @Override
  public int[] read(IntTensor src) {
    checkOpen();
    return Arrays.copyOfRange(imem, src.offset(), src.offset() + src.size());
  }

  /** A cache write is a copy of rows within the arena. */
  @Override
  protected void cacheWriteImpl(Tensor cache, Tensor src, IntTensor positions, int batch, int qLen, int width, int srcStride, int cacheRows) {
    for (int b = 0; b < batch; b++) {
      int pos = imem[positions.offset() + b];
      if (pos < 0 || pos + qLen > cacheRows) {
        throw new IllegalArgumentException("cache write at position " + pos + " of " + qLen + " rows outside a cache of " + cacheRows + " rows");
      }
      for (int i = 0; i < qLen; i++) {
        System.arraycopy(mem, src.offset() + (b * qLen + i) * srcStride, mem, cache.offset() + (b * cacheRows + pos + i) * width, width);
      }
    }
  }
}
