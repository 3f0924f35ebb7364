package dev.sparkinfer.kernels;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Memory shared by both Ops: one float arena and one int arena, each a bump allocator. Weights are uploaded first
 * (outside any scope) and stay; scopes hand out scratch above them and give it back when closed. Keeping everything in
 * two arrays is what lets the OpenCL side keep weights and activations resident in two device buffers.
 */
abstract class ArenaOps implements Ops {
  /** PoCL's single-allocation cap is 1 GiB; stay within what any device allocates in one buffer. */
  static final int MAX_FLOATS = 256 * 1024 * 1024 - 16;

  protected float[] mem = new float[1 << 16];
  protected int[] imem = new int[1 << 12];
  private int memTop;
  private int imemTop;
  private final Deque<int[]> marks = new ArrayDeque<>();
  private boolean closed;

  /** Called when the arena must grow: subclasses move the device buffers. {@code newMem}/{@code newImem} may be null. */
  protected abstract void grow(float[] newMem, int[] newImem);

  /** Zero a freshly allocated range (device-side for OpenCL). */
  protected abstract void zero(Tensor t);

  protected abstract void zero(IntTensor t);

  @Override
  public Tensor upload(float[] data) {
    checkOpen();
    if (!marks.isEmpty()) throw new IllegalStateException("upload() inside a scope: weights must be uploaded before any scope opens");
    Tensor t = new Tensor(bump(data.length), data.length);
    write(t, data);
    return t;
  }

  @Override
  public IntTensor uploadInts(int[] data) {
    checkOpen();
    if (!marks.isEmpty()) throw new IllegalStateException("uploadInts() inside a scope");
    IntTensor t = new IntTensor(ibump(data.length), data.length);
    write(t, data);
    return t;
  }

  @Override
  public Tensor alloc(int size) {
    checkOpen();
    if (marks.isEmpty()) throw new IllegalStateException("alloc() outside a scope: open one with ops.scope()");
    Tensor t = new Tensor(bump(size), size);
    zero(t);
    return t;
  }

  @Override
  public IntTensor allocInts(int size) {
    checkOpen();
    if (marks.isEmpty()) throw new IllegalStateException("allocInts() outside a scope: open one with ops.scope()");
    IntTensor t = new IntTensor(ibump(size), size);
    zero(t);
    return t;
  }

  @Override
  public Scope scope() {
    checkOpen();
    int[] mark = {memTop, imemTop};
    marks.push(mark);
    return () -> {
      if (marks.peek() != mark) throw new IllegalStateException("scopes closed out of order");
      marks.pop();
      memTop = mark[0];
      imemTop = mark[1];
    };
  }

  /** Floats in use now (weights + live scratch). */
  public long floatsInUse() { return memTop; }

  private int bump(int size) {
    long top = (long) memTop + align(size);
    if (top > MAX_FLOATS) {
      throw new IllegalStateException("device memory arena full: " + top + " floats needed, at most " + MAX_FLOATS
          + " per buffer; use a smaller --batch-size or shorter max sequence length");
    }
    if (top > mem.length) grow(new float[(int) Math.min(MAX_FLOATS, Math.max(top, (long) mem.length * 3 / 2))], null);
    int off = memTop;
    memTop = (int) top;
    return off;
  }

  private int ibump(int size) {
    long top = (long) imemTop + align(size);
    if (top > MAX_FLOATS) throw new IllegalStateException("int arena full: " + top + " ints needed");
    if (top > imem.length) grow(null, new int[(int) Math.min(MAX_FLOATS, Math.max(top, (long) imem.length * 3 / 2))]);
    int off = imemTop;
    imemTop = (int) top;
    return off;
  }

  /** 16-float alignment (64 bytes) keeps tensors on cache lines / vector boundaries. */
  private static long align(int size) { return ((long) size + 15) & ~15L; }

  protected void checkOpen() {
    if (closed) throw new IllegalStateException("Ops already closed");
  }

  protected static void check(Tensor t, int n, String what) {
    if (t == null) throw new NullPointerException(what + " is null");
    if (t.size() < n) throw new IllegalArgumentException(what + " has " + t.size() + " floats, op needs " + n);
  }

  protected static void check(IntTensor t, int n, String what) {
    if (t == null) throw new NullPointerException(what + " is null");
    if (t.size() < n) throw new IllegalArgumentException(what + " has " + t.size() + " ints, op needs " + n);
  }

  @Override
  public void close() {
    closed = true;
    mem = new float[0];
    imem = new int[0];
  }
}
