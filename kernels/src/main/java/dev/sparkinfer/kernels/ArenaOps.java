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

  // ---- ops: the argument checks every device shares, then that device's implementation ----

  @Override
  public final void matmul(Tensor out, Tensor a, Tensor b, Tensor bias, int m, int n, int k, boolean transB) {
    check(out, m * n, "matmul out");
    check(a, m * k, "matmul a");
    check(b, n * k, "matmul b");
    if (bias != null) check(bias, n, "matmul bias");
    matmulImpl(out, a, b, bias, m, n, k, transB);
  }

  protected abstract void matmulImpl(Tensor out, Tensor a, Tensor b, Tensor bias, int m, int n, int k, boolean transB);

  @Override
  public final void add(Tensor out, Tensor a, Tensor b, int n) {
    check(out, n, "out");
    check(a, n, "a");
    check(b, n, "b");
    addImpl(out, a, b, n);
  }

  protected abstract void addImpl(Tensor out, Tensor a, Tensor b, int n);

  @Override
  public final void mul(Tensor out, Tensor a, Tensor b, int n) {
    check(out, n, "out");
    check(a, n, "a");
    check(b, n, "b");
    mulImpl(out, a, b, n);
  }

  protected abstract void mulImpl(Tensor out, Tensor a, Tensor b, int n);

  @Override
  public final void scale(Tensor out, Tensor x, float s, int n) {
    check(out, n, "out");
    check(x, n, "x");
    scaleImpl(out, x, s, n);
  }

  protected abstract void scaleImpl(Tensor out, Tensor x, float s, int n);

  @Override
  public final void copy(Tensor out, Tensor x, int n) {
    check(out, n, "out");
    check(x, n, "x");
    copyImpl(out, x, n);
  }

  protected abstract void copyImpl(Tensor out, Tensor x, int n);

  @Override
  public final void activation(Activation act, Tensor out, Tensor x, int n) {
    check(out, n, "out");
    check(x, n, "x");
    activationImpl(act, out, x, n);
  }

  protected abstract void activationImpl(Activation act, Tensor out, Tensor x, int n);

  @Override
  public final void layerNorm(Tensor out, Tensor x, Tensor gamma, Tensor beta, int rows, int dim, float eps) {
    check(out, rows * dim, "layerNorm out");
    check(x, rows * dim, "layerNorm x");
    check(gamma, dim, "layerNorm gamma");
    if (beta != null) check(beta, dim, "layerNorm beta");
    layerNormImpl(out, x, gamma, beta, rows, dim, eps);
  }

  protected abstract void layerNormImpl(Tensor out, Tensor x, Tensor gamma, Tensor beta, int rows, int dim, float eps);

  @Override
  public final void rmsNorm(Tensor out, Tensor x, Tensor weight, int rows, int dim, float eps) {
    check(out, rows * dim, "rmsNorm out");
    check(x, rows * dim, "rmsNorm x");
    check(weight, dim, "rmsNorm weight");
    rmsNormImpl(out, x, weight, rows, dim, eps);
  }

  protected abstract void rmsNormImpl(Tensor out, Tensor x, Tensor weight, int rows, int dim, float eps);

  @Override
  public final void softmax(Tensor out, Tensor x, Tensor mask, boolean maskPerRow, int rows, int cols, float temperature, boolean log) {
    check(out, rows * cols, "softmax out");
    check(x, rows * cols, "softmax x");
    if (mask != null) check(mask, maskPerRow ? rows * cols : cols, "softmax mask");
    if (!(temperature > 0)) throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
    softmaxImpl(out, x, mask, maskPerRow, rows, cols, temperature, log);
  }

  protected abstract void softmaxImpl(Tensor out, Tensor x, Tensor mask, boolean maskPerRow, int rows, int cols, float temperature, boolean log);

  @Override
  public final void l2Normalize(Tensor out, Tensor x, int rows, int dim) {
    check(out, rows * dim, "l2Normalize out");
    check(x, rows * dim, "l2Normalize x");
    l2NormalizeImpl(out, x, rows, dim);
  }

  protected abstract void l2NormalizeImpl(Tensor out, Tensor x, int rows, int dim);

  @Override
  public final void attention(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, Tensor scores, Attention sp) {
    checkAttention(out, q, k, v, keyMask, scores, sp);
    attentionImpl(out, q, k, v, keyMask, scores, sp);
  }

  protected abstract void attentionImpl(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, Tensor scores, Attention sp);

  @Override
  public final void gather(Tensor out, Tensor table, IntTensor ids, int n, int vocab, int dim, boolean accumulate) {
    check(out, n * dim, "gather out");
    check(table, vocab * dim, "gather table");
    check(ids, n, "gather ids");
    gatherImpl(out, table, ids, n, vocab, dim, accumulate);
  }

  protected abstract void gatherImpl(Tensor out, Tensor table, IntTensor ids, int n, int vocab, int dim, boolean accumulate);

  @Override
  public final void meanPool(Tensor out, Tensor x, IntTensor mask, int batch, int seq, int dim) {
    check(out, batch * dim, "meanPool out");
    check(x, batch * seq * dim, "meanPool x");
    check(mask, batch * seq, "meanPool mask");
    meanPoolImpl(out, x, mask, batch, seq, dim);
  }

  protected abstract void meanPoolImpl(Tensor out, Tensor x, IntTensor mask, int batch, int seq, int dim);

  @Override
  public final void topK(Tensor vals, IntTensor ids, Tensor x, int rows, int cols, int k) {
    check(vals, rows * k, "topK vals");
    check(ids, rows * k, "topK ids");
    check(x, rows * cols, "topK x");
    topKImpl(vals, ids, x, rows, cols, k);
  }

  protected abstract void topKImpl(Tensor vals, IntTensor ids, Tensor x, int rows, int cols, int k);

  private static void checkAttention(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, Tensor scores, Attention sp) {
    check(q, (sp.batch() * sp.qLen() - 1) * sp.qStride() + sp.heads() * sp.headDim(), "attention q");
    check(k, (sp.batch() * sp.kLen() - 1) * sp.kvStride() + sp.kvHeads() * sp.headDim(), "attention k");
    check(v, (sp.batch() * sp.kLen() - 1) * sp.kvStride() + sp.kvHeads() * sp.headDim(), "attention v");
    check(out, (sp.batch() * sp.qLen() - 1) * sp.outStride() + sp.heads() * sp.headDim(), "attention out");
    if (keyMask != null) check(keyMask, sp.batch() * sp.kLen(), "attention keyMask");
    if (sp.scoresSize() > Integer.MAX_VALUE) throw new IllegalArgumentException("attention scores too large: " + sp);
    check(scores, (int) sp.scoresSize(), "attention scores");
  }

  @Override
  public void close() {
    closed = true;
    mem = new float[0];
    imem = new int[0];
  }
}
