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

  /**
   * Most floats (and ints) one arena holds: {@link #MAX_FLOATS} for a device buffer; the heap engines' arenas are Java
   * arrays, which hold up to 2^31 - 1 values (8 GiB of floats), within the memory budget.
   */
  protected int maxFloats() { return MAX_FLOATS; }

  /**
   * 16-bit weights live in banks, each one Java array and one device buffer of less than 2 GiB (Aparapi sizes a buffer
   * with a 32-bit byte count: a larger array fails with CL_INVALID_BUFFER_SIZE). A tensor lies within one bank.
   * Eight banks hold 16 GiB: 8 billion 16-bit parameters.
   */
  static final int BANKS = 8, BANK_MAX = (1 << 30) - 64;

  /**
   * Float32 weights too large to share the float arena (Linear weights, embedding tables: {@link #uploadBanked}) live in
   * float banks, as 16-bit weights do in theirs: each one Java array and one device buffer of less than 2 GiB, eight of
   * them (16 GiB: 4 billion float32 parameters); a tensor lies within one bank. The float arena keeps norms, biases,
   * small tensors, state and activations.
   */
  static final int FLOAT_BANK_MAX = (1 << 29) - 64;

  protected float[] mem = new float[1 << 16];
  protected int[] imem = new int[1 << 12];
  /** 16-bit weights (bf16/f16 bit patterns) in banks: filled by upload16 only, never scratch. */
  protected final char[][] banks = new char[BANKS][];
  private final int[] bankTop = new int[BANKS];
  /** Float32 weights in banks: filled by uploadBanked only, never scratch. */
  protected final float[][] floatBanks = new float[BANKS][];
  private final int[] floatBankTop = new int[BANKS];
  private int floatBank;
  /** Quantized weights (int8 values, int4 nibble pairs): filled by uploadBytes only, never scratch; one array. */
  protected byte[] bytes = new byte[0];
  private int bytesTop;
  /** Most bytes the byte memory holds: one Java array, and one device buffer under Aparapi's 32-bit byte count. */
  static final int BYTES_MAX = Integer.MAX_VALUE - 127;
  private int bank;
  private long reserved16, reserved32, reserved8;
  /** BANK_MAX, smaller in tests that cross banks without 2 GiB arrays (float banks: at most this many floats too). */
  int bankMax = BANK_MAX;

  private int floatBankMax() { return Math.min(bankMax, FLOAT_BANK_MAX); }

  /** Most bytes the arenas may hold together (weights, state, scratch); set by the engine from its config. */
  private long budgetBytes = Long.MAX_VALUE;

  /** Sets the memory budget: growth past it fails with a message instead of exhausting the device. */
  protected void setBudget(long bytes) { budgetBytes = bytes; }

  public long budgetBytes() { return budgetBytes; }

  private long peakArenaBytes;

  /**
   * The most bytes the arenas (float, int, 16-bit and float banks, byte memory: what the budget limits) held at once
   * since the engine opened. They only grow while it is open, so this is their size now, recorded at each growth.
   */
  public long peakBytes() { return peakArenaBytes = Math.max(peakArenaBytes, arenaBytes()); }

  /** Bytes of the three arenas' capacity. */
  private long arenaBytes() {
    long b = 4L * mem.length + 4L * imem.length;
    for (char[] h : banks) b += 2L * h.length;
    for (float[] f : floatBanks) b += 4L * f.length;
    return b + bytes.length;
  }

  /** The largest new length (elements of elemBytes) an array of oldLen may grow to within the budget; fails below need. */
  private long withinBudget(long oldLen, long need, long want, int elemBytes, String what) {
    long room = (budgetBytes - arenaBytes()) / elemBytes + oldLen;
    if (need > room) {
      throw new DeviceMemoryException("the engine's memory budget of " + budgetBytes + " bytes is exhausted: " + what + " needs "
          + (need - oldLen) * elemBytes + " more bytes with " + arenaBytes() + " held; raise sparkinfer.device.budget, "
          + "or lower the batch size or sequence length");
    }
    return Math.min(want, room);
  }
  /**
   * Where the float arena's tensors start modulo 16 floats (they are 16-float aligned from here): 0 unless an engine
   * aligns its vectors to cache lines this way ({@link CpuOps}). Called once, while this object is constructed.
   */
  protected int floatPhase() { return 0; }

  private int memTop = floatPhase();
  private int imemTop;

  {
    for (int i = 0; i < BANKS; i++) banks[i] = new char[0];
    for (int i = 0; i < BANKS; i++) floatBanks[i] = new float[0];
    for (int i = 0; i < BANKS; i++) floatBankTop[i] = floatPhase(); // on the arena's lines, as its tensors are
  }
  private final Deque<int[]> marks = new ArrayDeque<>();
  private boolean closed;

  /** Called when the arena must grow: subclasses move the device buffers. {@code newMem}/{@code newImem} may be null. */
  protected abstract void grow(float[] newMem, int[] newImem);

  /** Called when a 16-bit bank must grow (or be made): subclasses move its device buffer. */
  protected abstract void grow16(int bank, char[] newBank);

  /** Copies 16-bit values to banks[bank][offset..] (device-side for OpenCL). */
  protected abstract void write16(int bank, int offset, char[] src);

  @Override
  public HalfTensor upload16(char[] bits, DType dtype) {
    checkOpen();
    if (!marks.isEmpty()) throw new IllegalStateException("upload16() inside a scope: weights must be uploaded before any scope opens");
    long len = align(bits.length);
    if (len > bankMax) {
      throw new DeviceMemoryException("a 16-bit tensor of " + bits.length + " values is larger than one bank (" + bankMax
          + " values, 2 GiB); split it where it is loaded");
    }
    if (bankTop[bank] + len > bankMax) {
      if (bank + 1 == BANKS) {
        throw new DeviceMemoryException("16-bit weights fill all " + BANKS + " banks of 2 GiB (" + (BANKS * 2) + " GiB); "
            + "this model is larger than one engine holds");
      }
      bank++;
    }
    long top = bankTop[bank] + len;
    char[] cur = banks[bank];
    if (top > cur.length) {
      long want = Math.min(bankMax, Math.max(top, Math.max((long) cur.length * 3 / 2, bankTop[bank] + reserved16)));
      grow16(bank, new char[(int) withinBudget(cur.length, top, want, 2, "16-bit weights")]);
      peakBytes();
    }
    HalfTensor t = new HalfTensor(bank, bankTop[bank], bits.length, dtype);
    bankTop[bank] = (int) top;
    reserved16 = Math.max(0, reserved16 - len);
    write16(bank, t.offset(), bits);
    return t;
  }

  /** Called when a float bank must grow (or be made): subclasses move its device buffer. */
  protected abstract void growFloatBank(int bank, float[] newBank);

  /** Copies float32 weights to floatBanks[bank][offset..] (device-side for OpenCL). */
  protected abstract void writeFloatBank(int bank, int offset, float[] src);

  @Override
  public HalfTensor uploadBanked(float[] data) {
    checkOpen();
    if (!marks.isEmpty()) throw new IllegalStateException("uploadBanked() inside a scope: weights must be uploaded before any scope opens");
    long len = align(data.length);
    int cap = floatBankMax();
    if (len > cap) {
      throw new DeviceMemoryException(String.format("a float32 tensor of %,d values is larger than one float bank (%,d "
          + "values, 2 GiB); split it where it is loaded, or store it in 16 bits (BF16/F16)", data.length, cap));
    }
    if (floatBankTop[floatBank] + len > cap) {
      if (floatBank + 1 == BANKS) {
        throw new DeviceMemoryException("float32 weights fill all " + BANKS + " float banks of 2 GiB (" + (BANKS * 2)
            + " GiB); this model is larger than one engine holds in float32: store its weights in 16 bits (a checkpoint "
            + "with BF16 or F16 safetensors), or quantize them at load with -Dsparkinfer.quantize=int8 or int4");
      }
      floatBank++;
    }
    long top = floatBankTop[floatBank] + len;
    float[] cur = floatBanks[floatBank];
    if (top > cur.length) {
      long want = Math.min(cap, Math.max(top, Math.max((long) cur.length * 3 / 2, floatBankTop[floatBank] + reserved32)));
      growFloatBank(floatBank, new float[(int) withinBudget(cur.length, top, want, 4, "float32 weights")]);
      peakBytes();
    }
    HalfTensor t = new HalfTensor(floatBank, floatBankTop[floatBank], data.length, DType.F32);
    floatBankTop[floatBank] = (int) top;
    reserved32 = Math.max(0, reserved32 - len);
    writeFloatBank(floatBank, t.offset(), data);
    return t;
  }

  /** The weight at [i] of a banked tensor as a float: float32 as stored, 16-bit widened (the reference engine's reads). */
  protected float bankedAt(HalfTensor t, int i) {
    return t.dtype() == DType.F32 ? floatBanks[t.bank()][t.offset() + i] : t.dtype().toFloat(banks[t.bank()][t.offset() + i]);
  }

  /** Called when the byte memory must grow: subclasses move its device buffer. */
  protected abstract void grow8(byte[] newBytes);

  /** Copies bytes to bytes[offset..] (device-side for OpenCL). */
  protected abstract void write8(int offset, byte[] src);

  @Override
  public ByteTensor uploadBytes(byte[] data) {
    checkOpen();
    if (!marks.isEmpty()) throw new IllegalStateException("uploadBytes() inside a scope: weights must be uploaded before any scope opens");
    long top = bytesTop + ((data.length + 63L) & ~63L);
    if (top > BYTES_MAX) {
      throw new DeviceMemoryException("quantized weights need " + top + " bytes, more than the " + BYTES_MAX
          + " one byte buffer holds (2 GiB); this model is larger than one engine holds quantized");
    }
    if (top > bytes.length) {
      long want = Math.min(BYTES_MAX, Math.max(top, Math.max((long) bytes.length * 3 / 2, bytesTop + reserved8)));
      grow8(new byte[(int) withinBudget(bytes.length, top, want, 1, "quantized weights")]);
      peakBytes();
    }
    ByteTensor t = new ByteTensor(bytesTop, data.length);
    reserved8 = Math.max(0, reserved8 - (top - bytesTop));
    bytesTop = (int) top;
    write8(t.offset(), data);
    return t;
  }

  /**
   * Remembered as a hint: banks grow to hold this many more values at once (up to their 2 GiB); what is still reserved
   * (uploads use it up) stays when a smaller reservation follows.
   */
  @Override
  public void reserve16(long values) {
    checkOpen();
    if (values < 0) throw new IllegalArgumentException("cannot reserve " + values + " 16-bit values");
    reserved16 = Math.max(reserved16, values);
  }

  /** As {@link #reserve16}, for the byte memory of quantized weights. */
  @Override
  public void reserve8(long bytes) {
    checkOpen();
    if (bytes < 0) throw new IllegalArgumentException("cannot reserve " + bytes + " bytes");
    reserved8 = Math.max(reserved8, bytes);
  }

  /** As {@link #reserve16}, for the float banks. */
  @Override
  public void reserve32(long values) {
    checkOpen();
    if (values < 0) throw new IllegalArgumentException("cannot reserve " + values + " float32 values");
    reserved32 = Math.max(reserved32, values);
  }

  @Override
  public Tensor allocState(int size) {
    checkOpen();
    if (!marks.isEmpty()) throw new IllegalStateException("allocState() inside a scope: state lives across calls, allocate it outside scopes");
    Tensor t = new Tensor(bump(size), size);
    zero(t);
    return t;
  }

  @Override
  public MemoryUse memoryUse() {
    long floats = 4L * mem.length + 4L * imem.length, halfs = 0, banked32 = 0;
    for (char[] b : banks) halfs += 2L * b.length;
    for (float[] f : floatBanks) banked32 += 4L * f.length;
    return new MemoryUse(floats + halfs + banked32 + bytes.length + extraHostBytes(), deviceBytes(), halfs, floats, bytes.length,
        banked32);
  }

  /** Host bytes beyond the three arenas (staging buffers). */
  protected long extraHostBytes() { return 0; }

  /** Bytes of device buffers (0 for the Java reference). */
  protected long deviceBytes() { return 0; }

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
    Tensor t = allocUnzeroed(size);
    zero(t);
    return t;
  }

  /**
   * Scratch like {@link #alloc}, not zeroed: an engine's own buffers inside an op (which writes each value before it
   * reads it), where zeroing would cost more than the op (the CPU engine's attention over a long KV cache).
   */
  protected Tensor allocUnzeroed(int size) {
    checkOpen();
    if (marks.isEmpty()) throw new IllegalStateException("alloc() outside a scope: open one with ops.scope()");
    return new Tensor(bump(size), size);
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

  /** A smaller float arena than {@link #maxFloats()} (tests of the full-arena messages without a 1 GiB array); 0: none. */
  int floatLimit;

  private int floatCap() { return floatLimit > 0 ? Math.min(floatLimit, maxFloats()) : maxFloats(); }

  private int bump(int size) {
    long top = (long) memTop + align(size);
    if (top > floatCap()) throw arenaFull(top, size);
    if (top > mem.length) {
      long want = Math.min(floatCap(), Math.max(top, (long) mem.length * 3 / 2));
      grow(new float[(int) withinBudget(mem.length, top, want, 4, "float memory")], null);
      peakBytes();
    }
    int off = memTop;
    memTop = (int) top;
    return off;
  }

  /**
   * The float arena is one buffer ({@link #MAX_FLOATS}, 1 GiB, on OpenCL) for small float32 weights (norms, biases,
   * tensors loaded with {@link #upload}), state and activations together; Linear weights and embedding tables live in
   * the float banks ({@link #uploadBanked}, {@link Ops#uploadLinear(float[], int, int)} on OpenCL), 16-bit and quantized
   * weights in their own memory. Says which of them overflowed it and the way out.
   */
  private DeviceMemoryException arenaFull(long top, int size) {
    String limit = String.format("at most %,d floats (%.1f GiB) in the one float buffer of %s", floatCap(),
        floatCap() * 4.0 / (1 << 30), device());
    if (marks.isEmpty()) { // weights (upload) or state (allocState): what stays for the engine's life
      return new DeviceMemoryException(String.format("float32 weights and state need %,d floats, more than this engine's "
          + "float memory holds: %s, for small float32 weights, state and activations together (this tensor: %,d floats). "
          + "Large float32 tensors belong in the float banks (%d of 2 GiB beside that buffer): load Linear weights with "
          + "Ops.uploadLinear and embedding tables with Ops.uploadBanked, not Ops.upload; or store the weights in 16 bits "
          + "(BF16/F16) or quantize them at load with -Dsparkinfer.quantize=int8 or int4", top, limit, size, BANKS));
    }
    return new DeviceMemoryException(String.format("device memory arena full: %,d floats needed (%,d of them weights and "
        + "state), %s; use a smaller --batch-size or shorter max sequence length, or store the weights in 16 bits (BF16/F16) "
        + "or quantize them (-Dsparkinfer.quantize=int8|int4) to leave the buffer to activations", top, marks.peekLast()[0],
        limit));
  }

  private int ibump(int size) {
    long top = (long) imemTop + align(size);
    if (top > maxFloats()) {
      throw new DeviceMemoryException(String.format("int arena full: %,d ints needed, at most %,d", top, maxFloats()));
    }
    if (top > imem.length) {
      long want = Math.min(maxFloats(), Math.max(top, (long) imem.length * 3 / 2));
      grow(null, new int[(int) withinBudget(imem.length, top, want, 4, "int memory")]);
      peakBytes();
    }
    int off = imemTop;
    imemTop = (int) top;
    return off;
  }

  /** 16-float alignment (64 bytes) keeps tensors on cache lines / vector boundaries. */
  private static long align(int size) { return ((long) size + 15) & ~15L; }

  protected void checkOpen() {
    if (closed) throw new IllegalStateException("Ops already closed");
  }

  protected static void check(Tensor t, long n, String what) {
    if (t == null) throw new NullPointerException(what + " is null");
    if (t.size() < n) throw new IllegalArgumentException(what + " has " + t.size() + " floats, op needs " + n);
  }

  protected static void check(IntTensor t, long n, String what) {
    if (t == null) throw new NullPointerException(what + " is null");
    if (t.size() < n) throw new IllegalArgumentException(what + " has " + t.size() + " ints, op needs " + n);
  }

  protected static void check(HalfTensor t, long n, String what) {
    if (t == null) throw new NullPointerException(what + " is null");
    if (t.size() < n) throw new IllegalArgumentException(what + " has " + t.size() + " values, op needs " + n);
  }

  /**
   * The product of an op's dimensions as a long: never wraps (a negative dimension or a product past 2^63 is an error
   * that names the dimensions). The checks then refuse any size no tensor can hold.
   */
  static long size(long... dims) {
    long n = 1;
    for (long d : dims) {
      if (d < 0) throw new IllegalArgumentException("negative dimension in " + java.util.Arrays.toString(dims));
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("shape " + java.util.Arrays.toString(dims) + " overflows a 64-bit size");
      }
    }
    return n;
  }

  // ---- ops: the argument checks every device shares, then that device's implementation ----

  @Override
  public final void matmul(Tensor out, Tensor a, Tensor b, Tensor bias, int m, int n, int k, boolean transB) {
    check(out, size(m, n), "matmul out");
    check(a, size(m, k), "matmul a");
    check(b, size(n, k), "matmul b");
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
    check(out, size(rows, dim), "layerNorm out");
    check(x, size(rows, dim), "layerNorm x");
    check(gamma, dim, "layerNorm gamma");
    if (beta != null) check(beta, dim, "layerNorm beta");
    layerNormImpl(out, x, gamma, beta, rows, dim, eps);
  }

  protected abstract void layerNormImpl(Tensor out, Tensor x, Tensor gamma, Tensor beta, int rows, int dim, float eps);

  @Override
  public final void rmsNorm(Tensor out, Tensor x, Tensor weight, int rows, int dim, float eps) {
    check(out, size(rows, dim), "rmsNorm out");
    check(x, size(rows, dim), "rmsNorm x");
    check(weight, dim, "rmsNorm weight");
    rmsNormImpl(out, x, weight, rows, dim, eps);
  }

  protected abstract void rmsNormImpl(Tensor out, Tensor x, Tensor weight, int rows, int dim, float eps);

  @Override
  public final void softmax(Tensor out, Tensor x, Tensor mask, boolean maskPerRow, int rows, int cols, float temperature, boolean log) {
    check(out, size(rows, cols), "softmax out");
    check(x, size(rows, cols), "softmax x");
    if (mask != null) check(mask, maskPerRow ? size(rows, cols) : cols, "softmax mask");
    if (!(temperature > 0)) throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
    softmaxImpl(out, x, mask, maskPerRow, rows, cols, temperature, log);
  }

  protected abstract void softmaxImpl(Tensor out, Tensor x, Tensor mask, boolean maskPerRow, int rows, int cols, float temperature, boolean log);

  @Override
  public final void l2Normalize(Tensor out, Tensor x, int rows, int dim) {
    check(out, size(rows, dim), "l2Normalize out");
    check(x, size(rows, dim), "l2Normalize x");
    l2NormalizeImpl(out, x, rows, dim);
  }

  protected abstract void l2NormalizeImpl(Tensor out, Tensor x, int rows, int dim);

  @Override
  public final void attention(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, IntTensor positions, Tensor scores, Attention sp) {
    checkAttention(out, q, k, v, keyMask, positions, scores, sp);
    attentionImpl(out, q, k, v, keyMask, positions, scores, sp);
  }

  protected abstract void attentionImpl(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, IntTensor positions, Tensor scores, Attention sp);

  @Override
  public final void cacheWrite(Tensor cache, Tensor src, IntTensor positions, int batch, int qLen, int width, int srcStride, int cacheRows) {
    if (srcStride < width) throw new IllegalArgumentException("cacheWrite srcStride " + srcStride + " < width " + width);
    check(cache, size(batch, cacheRows, width), "cacheWrite cache");
    check(src, size(size(batch, qLen) - 1, srcStride) + width, "cacheWrite src");
    check(positions, batch, "cacheWrite positions");
    cacheWriteImpl(cache, src, positions, batch, qLen, width, srcStride, cacheRows);
  }

  protected abstract void cacheWriteImpl(Tensor cache, Tensor src, IntTensor positions, int batch, int qLen, int width, int srcStride, int cacheRows);

  @Override
  public final void rope(Tensor x, int rows, int heads, int headDim, int rowStride, IntTensor positions, Tensor invFreq) {
    if (headDim % 2 != 0) throw new IllegalArgumentException("rope needs an even head dimension, got " + headDim);
    if (rowStride < size(heads, headDim)) throw new IllegalArgumentException("rope rowStride " + rowStride + " < heads x headDim");
    check(x, size(rows - 1, rowStride) + size(heads, headDim), "rope x");
    check(positions, rows, "rope positions");
    check(invFreq, headDim / 2, "rope invFreq");
    ropeImpl(x, rows, heads, headDim, rowStride, positions, invFreq);
  }

  protected abstract void ropeImpl(Tensor x, int rows, int heads, int headDim, int rowStride, IntTensor positions, Tensor invFreq);

  @Override
  public final void linear16(Tensor out, Tensor x, HalfTensor w, Tensor bias, int rows, int n, int k) {
    check(out, size(rows, n), "linear16 out");
    check(x, size(rows, k), "linear16 x");
    check(w, size(n, k), "linear16 weight");
    if (w.panel() != 0 && w.panel() != linear16Panel()) {
      throw new IllegalArgumentException("a 16-bit Linear weight packed in panels of " + w.panel() + " columns, which this engine did not pack");
    }
    if (bias != null) check(bias, n, "linear16 bias");
    linear16Impl(out, x, w, bias, rows, n, k);
  }

  /** The panel width of the 16-bit Linear weights this engine packs ({@link Ops#upload16Linear}); 0: it keeps them as given. */
  protected int linear16Panel() { return 0; }

  protected abstract void linear16Impl(Tensor out, Tensor x, HalfTensor w, Tensor bias, int rows, int n, int k);

  @Override
  public final void linearQuantized(Tensor out, Tensor x, LinearWeight w, Tensor bias, int rows) {
    if (!w.isQuantized()) throw new IllegalArgumentException("linearQuantized needs a quantized weight; use linear for float ones");
    check(out, size(rows, w.out()), "linear out");
    check(x, size(rows, w.in()), "linear x");
    if (bias != null) check(bias, w.out(), "linear bias");
    linearQuantizedImpl(out, x, w, bias, rows);
  }

  /** Checks a quantized weight in the plain layout ({@link Ops#uploadLinear(QuantizedWeights)}'s default). */
  protected void checkPlainQuantized(LinearWeight w) {
    LinearWeight.Quantized q = w.quantized();
    if (w.panel() != 0) throw new IllegalArgumentException("a panel-packed quantized weight belongs to the CPU engine that packed it");
    if (q.values().size() < size(w.out(), q.rowBytes(w.in()))) {
      throw new IllegalArgumentException("quantized weight has " + q.values().size() + " bytes, [" + w.out() + ", " + w.in() + "] " + q.scheme() + " needs " + size(w.out(), q.rowBytes(w.in())));
    }
    check(q.scales(), size(w.out(), q.groups(w.in())), "quantized weight scales");
  }

  protected abstract void linearQuantizedImpl(Tensor out, Tensor x, LinearWeight w, Tensor bias, int rows);

  @Override
  public final void gather16(Tensor out, HalfTensor table, IntTensor ids, int n, int vocab, int dim) {
    check(out, size(n, dim), "gather16 out");
    check(table, size(vocab, dim), "gather16 table");
    if (table.panel() != 0) { // a table packed as a Linear weight (a tied head) by this engine, which then reads it
      if (table.panel() != linear16Panel()) {
        throw new IllegalArgumentException("gather16 from a table packed in panels of " + table.panel() + " columns, which this engine did not pack");
      }
      check(table, size((vocab + table.panel() - 1) / table.panel(), dim, table.panel()), "gather16 packed table");
    }
    check(ids, n, "gather16 ids");
    gather16Impl(out, table, ids, n, vocab, dim);
  }

  protected abstract void gather16Impl(Tensor out, HalfTensor table, IntTensor ids, int n, int vocab, int dim);

  @Override
  public final void gather(Tensor out, Tensor table, IntTensor ids, int n, int vocab, int dim, boolean accumulate) {
    check(out, size(n, dim), "gather out");
    check(table, size(vocab, dim), "gather table");
    check(ids, n, "gather ids");
    gatherImpl(out, table, ids, n, vocab, dim, accumulate);
  }

  protected abstract void gatherImpl(Tensor out, Tensor table, IntTensor ids, int n, int vocab, int dim, boolean accumulate);

  @Override
  public final void meanPool(Tensor out, Tensor x, IntTensor mask, int batch, int seq, int dim) {
    check(out, size(batch, dim), "meanPool out");
    check(x, size(batch, seq, dim), "meanPool x");
    check(mask, size(batch, seq), "meanPool mask");
    meanPoolImpl(out, x, mask, batch, seq, dim);
  }

  protected abstract void meanPoolImpl(Tensor out, Tensor x, IntTensor mask, int batch, int seq, int dim);

  @Override
  public final void topK(Tensor vals, IntTensor ids, Tensor x, int rows, int cols, int k) {
    check(vals, size(rows, k), "topK vals");
    check(ids, size(rows, k), "topK ids");
    check(x, size(rows, cols), "topK x");
    topKImpl(vals, ids, x, rows, cols, k);
  }

  protected abstract void topKImpl(Tensor vals, IntTensor ids, Tensor x, int rows, int cols, int k);

  private static void checkAttention(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, IntTensor positions, Tensor scores, Attention sp) {
    check(q, size(size(sp.batch(), sp.qLen()) - 1, sp.qStride()) + (long) sp.heads() * sp.headDim(), "attention q");
    long kvRows = size(sp.batch() - 1, sp.kvRows()) + sp.kLen() - 1;
    check(k, size(kvRows, sp.kvStride()) + (long) sp.kvHeads() * sp.headDim(), "attention k");
    check(v, size(kvRows, sp.kvStride()) + (long) sp.kvHeads() * sp.headDim(), "attention v");
    check(out, size(size(sp.batch(), sp.qLen()) - 1, sp.outStride()) + (long) sp.heads() * sp.headDim(), "attention out");
    if (keyMask != null) check(keyMask, size(sp.batch(), sp.kLen()), "attention keyMask");
    if (positions != null) check(positions, sp.batch(), "attention positions");
    check(scores, size(sp.batch(), sp.heads(), sp.qLen(), sp.kLen()), "attention scores");
  }

  @Override
  public void close() {
    closed = true;
    mem = new float[0];
    imem = new int[0];
    java.util.Arrays.fill(banks, new char[0]);
    java.util.Arrays.fill(floatBanks, new float[0]);
    bytes = new byte[0];
  }
}
