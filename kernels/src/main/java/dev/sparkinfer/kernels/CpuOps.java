package dev.sparkinfer.kernels;

import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU engine ({@code --device cpu}): every op in Java on the Vector API ({@code jdk.incubator.vector}; the JVM needs
 * {@code --add-modules=jdk.incubator.vector}), at the CPU's widest float vectors (16 lanes with AVX-512, 8 with AVX2),
 * on a fixed number of threads. Same memory model as the other engines (float arena, 16-bit banks), and every op is
 * tested against its {@link JavaOps} twin.
 *
 * <p>Matmul: float Linear weights are stored in-major ({@code [in, out]}) so the kernel is a register block of 4 rows x
 * 3 vectors of columns, broadcasting one activation against contiguous weight vectors (no horizontal sums); weights
 * given {@code [n, k]} (transB, and 16-bit Linear weights, kept as the checkpoint stores them) use a 4 x 3 block of dot
 * products, the 16-bit ones widened to float in registers. Sums are float (the reference sums in double): the parity
 * tolerances are those of the OpenCL kernels.
 */
public final class CpuOps extends HeapOps {
  static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  static final int L = F.length();
  private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
  private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
  /** Columns per matmul panel (3 vectors) and rows per task chunk. */
  /** Columns per panel of packed Linear weights: 3 vectors. */
  static final int PANEL = 3 * L;
  private static final int ROW_CHUNK = 64;
  /** Below this many multiply-adds an op stays on the calling thread (a decode step's small ops). */
  private static final long PARALLEL_MIN = 1 << 15;

  private final DeviceInfo info;
  private final CpuThreads pool;
  private final boolean inMajor;

  /** A CPU engine on this many threads, with the engine config's linear layout (in-major unless out-major is asked). */
  public CpuOps(int threads, EngineConfig config) {
    this.pool = new CpuThreads(threads);
    this.inMajor = !config.linearLayout().equals("out-major");
    this.info = describe(threads);
  }

  public CpuOps(int threads) { this(threads, EngineConfig.defaults()); }

  /** The engine as logs and job summaries name it: vector width, threads and the CPU model. */
  static DeviceInfo describe(int threads) {
    return new DeviceInfo("cpu", "Java Vector API, " + F.vectorBitSize() + "-bit vectors (" + L + " floats), " + threads
        + (threads == 1 ? " thread" : " threads"), cpuModel(), "CPU");
  }

  /** The CPU model from /proc/cpuinfo (Linux), else os.arch. */
  public static String cpuModel() {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
      }
    } catch (Exception e) {
      // not Linux
    }
    return System.getProperty("os.arch");
  }

  @Override
  public DeviceInfo device() { return info; }

  @Override
  public boolean linearInMajor() { return inMajor; }

  public int threads() { return pool.threads(); }

  @Override
  public void close() {
    pool.close();
    super.close();
  }

  /**
   * The arena's tensors start on 64-byte lines: the arena hands out 16-float aligned offsets, a Java float[] holds its
   * first element {@code ARRAY_FLOAT_BASE_OFFSET} (16) bytes after its start, and the JVM's default collector (G1) starts
   * an array as large as the arena on a region boundary. Starting the arena at float 12 puts every tensor, every vector
   * of a 16-multiple-wide row and every packed weight panel on a line; otherwise every 512-bit load straddles two lines
   * and costs two. Measured on MiniLM (2 cores, AVX-512): Linear 5-20 % more GFLOP/s, embeddings/s against ONNX Runtime
   * 0.93 -> 0.98-1.04. Only speed depends on it (another collector may place the array elsewhere).
   */
  static final int LINE_PHASE = linePhase();

  private static int linePhase() {
    try {
      int base = sun.misc.Unsafe.ARRAY_FLOAT_BASE_OFFSET;
      return base % 4 != 0 ? 0 : (64 - base % 64) % 64 / 4;
    } catch (LinkageError e) { // no jdk.unsupported module: unaligned, still right
      return 0;
    }
  }

  @Override
  protected int floatPhase() { return LINE_PHASE; }

  /** Floats of scratch from which {@link #zero(Tensor)} runs on all the threads: 16 MiB. */
  private static final int ZERO_PARALLEL_MIN = 1 << 22;

  /**
   * Zeroes scratch on all the threads when it is large (logits and log-softmax over GPT-2's 50,257 tokens: 25 MB for
   * 128 rows): one thread filled 14-15 GB/s, two 17-22 GB/s at 6.4 M floats, 9 and 16 GB/s at 100 M (2-core Xeon);
   * smaller scratch, in cache, on one (25 GB/s at 2 M floats, 12-19 on two).
   */
  @Override
  protected void zero(Tensor t) {
    int size = t.size(), chunk = 1 << 20;
    if (size < ZERO_PARALLEL_MIN) {
      super.zero(t);
      return;
    }
    pool.forEach((size + chunk - 1) / chunk, i -> Arrays.fill(mem, t.offset() + i * chunk, t.offset() + Math.min(size, (i + 1) * chunk), 0f));
  }

  /** Splits {@code tasks} over the threads when the op is big enough to pay for it. */
  private void parallel(int tasks, long work, java.util.function.IntConsumer body) {
    if (work < PARALLEL_MIN) {
      for (int i = 0; i < tasks; i++) body.accept(i);
    } else {
      pool.forEach(tasks, body);
    }
  }

  // ---- matmul ----

  /** A zero bias: kernels add a bias vector unconditionally (see {@link #packed8x3}). */
  private static final float[] ZERO = new float[PANEL];

  @Override
  protected void matmulImpl(Tensor out, Tensor a, Tensor b, Tensor bias, int m, int n, int k, boolean transB) {
    float[] x = mem;
    if (transB) {
      dotMatmul(x, a.offset(), x, b.offset(), bias, out.offset(), m, n, k);
    } else {
      panelMatmul(x, a.offset(), x, b.offset(), n, PANEL, bias, out.offset(), m, n, k, null);
    }
  }

  // ---- Linear: weights packed in panels ----

  /**
   * In-major weights are packed in panels of 3 vectors of columns ({@link HalfTensor#panel()}) in a float bank, as the
   * other engines keep float32 Linear weights (the float arena holds state, activations and small weights; a float32
   * model's Linear weights take what {@link #linear32Values} counts, reserved up front by its loader); out-major ones
   * stay as given, in the float arena.
   */
  @Override
  public LinearWeight uploadLinear(float[] w, int out, int in) {
    if (w.length != (long) out * in) throw new IllegalArgumentException("linear weight has " + w.length + " floats, expected " + out + " x " + in);
    if (!inMajor) return new LinearWeight(upload(w), out, in, false);
    int panels = (out + PANEL - 1) / PANEL;
    float[] packed = new float[Math.toIntExact(ArenaOps.size(panels, in, PANEL))];
    for (int pn = 0; pn < panels; pn++) {
      int j0 = pn * PANEL, cols = Math.min(PANEL, out - j0);
      for (int p = 0; p < in; p++) {
        int base = (pn * in + p) * PANEL;
        for (int c = 0; c < cols; c++) packed[base + c] = w[(j0 + c) * in + p];
      }
    }
    return LinearWeight.banked(uploadBanked(packed).packed(PANEL), out, in);
  }

  @Override
  public long linearBytes(int out, int in, Quantization q) {
    if (q == Quantization.NONE) return 0;
    return ArenaOps.size((out + PANEL - 1) / PANEL, q == Quantization.INT4 ? (in + 1) / 2 : in, PANEL);
  }

  @Override
  public long linear32Values(int out, int in) { return inMajor ? ArenaOps.size((out + PANEL - 1) / PANEL, in, PANEL) : 0; }

  @Override
  public void linear(Tensor out, Tensor x, LinearWeight w, Tensor bias, int rows) { linear(out, x, w, bias, rows, null); }

  /**
   * Packed float weights (in a float bank): the activation (null: none) runs on each task's block of the output right
   * after it is computed; other weights (quantized, 16-bit, plain) run their op, then the activation.
   */
  @Override
  public void linear(Tensor out, Tensor x, LinearWeight w, Tensor bias, int rows, Activation act) {
    HalfTensor b = w.banked();
    if (b != null && b.dtype() == DType.F32 && b.panel() != 0) {
      if (b.panel() != PANEL) throw new IllegalArgumentException("a Linear weight packed in panels of " + b.panel() + ", this engine's are " + PANEL);
      check(out, size(rows, w.out()), "linear out");
      check(x, size(rows, w.in()), "linear x");
      if (bias != null) check(bias, w.out(), "linear bias");
      packedF32(out, x, b, bias, rows, w.out(), w.in(), act);
      return;
    }
    if (!w.isQuantized() && w.panel() != 0) throw new IllegalArgumentException("a float Linear weight packed in the float arena: this engine packs them in float banks");
    if (w.isQuantized()) linearQuantized(out, x, w, bias, rows);
    else if (b != null) linear16(out, x, b, bias, rows, w.out(), w.in());
    else matmul(out, x, w.data(), bias, rows, w.out(), w.in(), !w.inMajor());
    if (act != null) activation(act, out, out, Math.multiplyExact(rows, w.out()));
  }

  /** A packed float32 Linear weight in a float bank ({@link #uploadLinear}), the activation (null: none) fused. */
  private void packedF32(Tensor out, Tensor x, HalfTensor w, Tensor bias, int rows, int n, int k, Activation act) {
    check(w, size((n + PANEL - 1) / PANEL, k, PANEL), "linear weight");
    panelMatmul(mem, x.offset(), floatBanks[w.bank()], w.offset(), PANEL, k * PANEL, bias, out.offset(), rows, n, k, act);
  }

  /**
   * out[m, n] = a[m, k] b (+ bias), a, bias and out in {@code x}, b in {@code w} (the arena or a float bank) in panels of 3
   * vectors of columns: panel pn starts at {@code bo + pn * panelStep}
   * and its row p at {@code + p * ldb} (packed weights: ldb = PANEL, panelStep = k * PANEL; a plain [k, n] matrix:
   * ldb = n, panelStep = PANEL). The rows of a, in whole blocks of 8, are first packed so that the kernel reads the 8
   * rows' values of one k step from one place ({@link #packRows}). Tasks are (panel) x (64 rows); a ragged last panel
   * goes through a scratch row. {@code act} (null: none) is applied to each task's block of the output once computed,
   * while it is in cache: the values {@link #activation} would give.
   */
  private void panelMatmul(float[] x, int ao, float[] w, int bo, int ldb, int panelStep, Tensor bias, int oo, int m, int n, int k, Activation act) {
    int panels = (n + PANEL - 1) / PANEL, chunks = (m + ROW_CHUNK - 1) / ROW_CHUNK;
    boolean packed = ldb == PANEL;
    float[] bArr = bias == null ? ZERO : x;
    float[] ap = packRows(x, ao, m, k);
    parallel(panels * chunks, (long) m * n * k, t -> {
      int pn = t / chunks, i0 = (t % chunks) * ROW_CHUNK, i1 = Math.min(m, i0 + ROW_CHUNK);
      int j = pn * PANEL, cols = Math.min(PANEL, n - j), wp = bo + pn * panelStep;
      int bp = bias == null ? 0 : bias.offset() + j;
      if (cols == PANEL) {
        int full = i0 + (i1 - i0) / 8 * 8;
        panel8(ap, i0, full, k, w, wp, ldb, x, oo + j, n, bArr, bp);
        for (int i = full; i < i1; i++) packed1x3(x, ao + i * k, k, w, wp, ldb, x, oo + i * n + j, n, bArr, bp);
      } else if (packed) { // the zero-padded last panel of packed weights
        float[] row = new float[PANEL];
        for (int i = i0; i < i1; i++) {
          packed1x3(x, ao + i * k, k, w, wp, ldb, row, 0, PANEL, ZERO, 0);
          for (int c = 0; c < cols; c++) x[oo + i * n + j + c] = bias == null ? row[c] : row[c] + x[bp + c];
        }
      } else { // the last columns of a plain matrix: scalar
        for (int i = i0; i < i1; i++) {
          for (int c = 0; c < cols; c++) {
            float s = 0;
            for (int p = 0; p < k; p++) s = Math.fma(x[ao + i * k + p], w[bo + p * n + j + c], s);
            x[oo + i * n + j + c] = bias == null ? s : s + x[bp + c];
          }
        }
      }
      if (act != null) for (int i = i0; i < i1; i++) activateRun(act, x, oo + i * n + j, cols);
    });
  }

  /** x[o, o + len) = act(x[o, o + len)) in place: whole vectors, then the tail lane by lane (as {@link #activationImpl}). */
  private static void activateRun(Activation act, float[] x, int o, int len) {
    int i = 0;
    for (; i + L <= len; i += L) activate(act, FloatVector.fromArray(F, x, o + i)).intoArray(x, o + i);
    for (; i < len; i++) x[o + i] = activate(act, FloatVector.broadcast(F, x[o + i])).lane(0);
  }

  /** Scratch of the packed rows of a, reused across calls (an engine runs one op at a time). */
  private float[] packedRows = new float[0];

  @Override
  protected long extraHostBytes() { return 4L * packedRows.length; }

  /**
   * The rows of a[m, k] in whole blocks of 8, each block {@code [k][8]}: block i/8 at {@code i * k}, the 8 values of k
   * step p at {@code i * k + 8 p}. The kernel then broadcasts from one cache line per k step instead of 8 rows apart
   * (measured on the BERT shapes, one core: 172 against 147 GFLOP/s).
   */
  private float[] packRows(float[] x, int ao, int m, int k) {
    int blocks = m / 8;
    long need = (long) blocks * 8 * k;
    if (need == 0) return packedRows;
    if (packedRows.length < need) packedRows = new float[Math.toIntExact(need)];
    float[] ap = packedRows;
    parallel(blocks, need, bi -> {
      int base = bi * 8 * k, src = ao + bi * 8 * k;
      for (int p = 0; p < k; p++) {
        int o = base + p * 8, i = src + p;
        ap[o] = x[i];
        ap[o + 1] = x[i + k];
        ap[o + 2] = x[i + 2 * k];
        ap[o + 3] = x[i + 3 * k];
        ap[o + 4] = x[i + 4 * k];
        ap[o + 5] = x[i + 5 * k];
        ap[o + 6] = x[i + 6 * k];
        ap[o + 7] = x[i + 7 * k];
      }
    });
    return ap;
  }

  /**
   * Rows [i0, full) of the packed rows, in blocks of 8, by one panel of b (row p at {@code wp + p * ldw}) into
   * out[i, oo + ...] (rows n apart), bias added. Over a long k the panel is taken a block of {@link #kBlock} rows at a
   * time, each block over all the row blocks, so that it stays in L2 (a LLaMA-1B down projection's panel, k = 8192, is
   * 1.5 MiB; in blocks of 1,024 the op ran 10-17 % faster). Each output is the same sequential sum as unblocked: the
   * partial sums go to the output between blocks (exactly, as floats) and the next block starts from them.
   */
  private static void panel8(float[] ap, int i0, int full, int k, float[] w, int wp, int ldw, float[] o, int oo, int n, float[] bias, int bp) {
    int kc = kBlock(k);
    for (int kb = 0; kb < k; kb += kc) {
      int steps = Math.min(kc, k - kb);
      boolean first = kb == 0, last = kb + steps == k;
      for (int i = i0; i < full; i += 8) {
        int op = oo + i * n;
        packed8x3(ap, i * k + 8 * kb, steps, w, wp + kb * ldw, ldw, first ? ZERO : o, first ? 0 : op, first ? 0 : n,
            o, op, n, last ? bias : ZERO, last ? bp : 0);
      }
    }
  }

  /**
   * The k-block of {@link #panel8}: all of k up to 2,048 (a panel of 3 vectors of columns is then at most 384 KiB),
   * else equal blocks of at most 1,024 (measured on 2,048 x 8,192: 1,024 and 2,048 alike, 512 a little slower; no
   * gain on k of 384 to 3,072).
   */
  static int kBlock(int k) {
    if (k <= 2048) return k;
    int blocks = (k + 1023) / 1024;
    return (k + blocks - 1) / blocks;
  }

  /**
   * Eight rows by one panel (3 vectors of columns): 24 accumulators, one broadcast activation per row per k step, the
   * activations read from the packed rows ({@link #packRows}: block at a0, k step p at a0 + 8 p).
   * Every vector is assigned unconditionally: C2 (JDK 17) keeps vectors in registers only when no branch merges them
   * (a conditional bias add made this kernel 10x slower), so a missing bias is a zero array.
   */
  private static void packed8x3(float[] x, int a0, int k, float[] w, int wp, int ldw, float[] o, int op, int ldo, float[] bias, int bp) {
    packed8x3(x, a0, k, w, wp, ldw, ZERO, 0, 0, o, op, ldo, bias, bp);
  }

  private static void packed8x3(float[] x, int a0, int k, float[] w, int wp, int ldw, float[] c, int cp, int ldc,
      float[] o, int op, int ldo, float[] bias, int bp) {
    // x: the packed rows
    FloatVector c00 = FloatVector.fromArray(F, c, cp), c01 = FloatVector.fromArray(F, c, cp + L), c02 = FloatVector.fromArray(F, c, cp + 2 * L);
    FloatVector c10 = FloatVector.fromArray(F, c, cp + ldc), c11 = FloatVector.fromArray(F, c, cp + ldc + L), c12 = FloatVector.fromArray(F, c, cp + ldc + 2 * L);
    FloatVector c20 = FloatVector.fromArray(F, c, cp + 2 * ldc), c21 = FloatVector.fromArray(F, c, cp + 2 * ldc + L), c22 = FloatVector.fromArray(F, c, cp + 2 * ldc + 2 * L);
    FloatVector c30 = FloatVector.fromArray(F, c, cp + 3 * ldc), c31 = FloatVector.fromArray(F, c, cp + 3 * ldc + L), c32 = FloatVector.fromArray(F, c, cp + 3 * ldc + 2 * L);
    FloatVector c40 = FloatVector.fromArray(F, c, cp + 4 * ldc), c41 = FloatVector.fromArray(F, c, cp + 4 * ldc + L), c42 = FloatVector.fromArray(F, c, cp + 4 * ldc + 2 * L);
    FloatVector c50 = FloatVector.fromArray(F, c, cp + 5 * ldc), c51 = FloatVector.fromArray(F, c, cp + 5 * ldc + L), c52 = FloatVector.fromArray(F, c, cp + 5 * ldc + 2 * L);
    FloatVector c60 = FloatVector.fromArray(F, c, cp + 6 * ldc), c61 = FloatVector.fromArray(F, c, cp + 6 * ldc + L), c62 = FloatVector.fromArray(F, c, cp + 6 * ldc + 2 * L);
    FloatVector c70 = FloatVector.fromArray(F, c, cp + 7 * ldc), c71 = FloatVector.fromArray(F, c, cp + 7 * ldc + L), c72 = FloatVector.fromArray(F, c, cp + 7 * ldc + 2 * L);
    for (int p = 0, a = a0; p < k; p++, wp += ldw, a += 8) {
      FloatVector b0 = FloatVector.fromArray(F, w, wp), b1 = FloatVector.fromArray(F, w, wp + L), b2 = FloatVector.fromArray(F, w, wp + 2 * L);
      FloatVector v;
      v = FloatVector.broadcast(F, x[a + 0]);
      c00 = b0.fma(v, c00);
      c01 = b1.fma(v, c01);
      c02 = b2.fma(v, c02);
      v = FloatVector.broadcast(F, x[a + 1]);
      c10 = b0.fma(v, c10);
      c11 = b1.fma(v, c11);
      c12 = b2.fma(v, c12);
      v = FloatVector.broadcast(F, x[a + 2]);
      c20 = b0.fma(v, c20);
      c21 = b1.fma(v, c21);
      c22 = b2.fma(v, c22);
      v = FloatVector.broadcast(F, x[a + 3]);
      c30 = b0.fma(v, c30);
      c31 = b1.fma(v, c31);
      c32 = b2.fma(v, c32);
      v = FloatVector.broadcast(F, x[a + 4]);
      c40 = b0.fma(v, c40);
      c41 = b1.fma(v, c41);
      c42 = b2.fma(v, c42);
      v = FloatVector.broadcast(F, x[a + 5]);
      c50 = b0.fma(v, c50);
      c51 = b1.fma(v, c51);
      c52 = b2.fma(v, c52);
      v = FloatVector.broadcast(F, x[a + 6]);
      c60 = b0.fma(v, c60);
      c61 = b1.fma(v, c61);
      c62 = b2.fma(v, c62);
      v = FloatVector.broadcast(F, x[a + 7]);
      c70 = b0.fma(v, c70);
      c71 = b1.fma(v, c71);
      c72 = b2.fma(v, c72);
    }
    FloatVector d0 = FloatVector.fromArray(F, bias, bp), d1 = FloatVector.fromArray(F, bias, bp + L), d2 = FloatVector.fromArray(F, bias, bp + 2 * L);
    c00.add(d0).intoArray(o, op + 0 * ldo);
    c01.add(d1).intoArray(o, op + 0 * ldo + L);
    c02.add(d2).intoArray(o, op + 0 * ldo + 2 * L);
    c10.add(d0).intoArray(o, op + 1 * ldo);
    c11.add(d1).intoArray(o, op + 1 * ldo + L);
    c12.add(d2).intoArray(o, op + 1 * ldo + 2 * L);
    c20.add(d0).intoArray(o, op + 2 * ldo);
    c21.add(d1).intoArray(o, op + 2 * ldo + L);
    c22.add(d2).intoArray(o, op + 2 * ldo + 2 * L);
    c30.add(d0).intoArray(o, op + 3 * ldo);
    c31.add(d1).intoArray(o, op + 3 * ldo + L);
    c32.add(d2).intoArray(o, op + 3 * ldo + 2 * L);
    c40.add(d0).intoArray(o, op + 4 * ldo);
    c41.add(d1).intoArray(o, op + 4 * ldo + L);
    c42.add(d2).intoArray(o, op + 4 * ldo + 2 * L);
    c50.add(d0).intoArray(o, op + 5 * ldo);
    c51.add(d1).intoArray(o, op + 5 * ldo + L);
    c52.add(d2).intoArray(o, op + 5 * ldo + 2 * L);
    c60.add(d0).intoArray(o, op + 6 * ldo);
    c61.add(d1).intoArray(o, op + 6 * ldo + L);
    c62.add(d2).intoArray(o, op + 6 * ldo + 2 * L);
    c70.add(d0).intoArray(o, op + 7 * ldo);
    c71.add(d1).intoArray(o, op + 7 * ldo + L);
    c72.add(d2).intoArray(o, op + 7 * ldo + 2 * L);
  }

  /**
   * One row by one panel.
   * Every vector is assigned unconditionally: C2 (JDK 17) keeps vectors in registers only when no branch merges them
   * (a conditional bias add made this kernel 10x slower), so a missing bias is a zero array.
   */
  private static void packed1x3(float[] x, int a0, int k, float[] w, int wp, int ldw, float[] o, int op, int ldo, float[] bias, int bp) {
    FloatVector z = FloatVector.zero(F);
    FloatVector c00 = z, c01 = z, c02 = z;
    for (int p = 0; p < k; p++, wp += ldw) {
      FloatVector b0 = FloatVector.fromArray(F, w, wp), b1 = FloatVector.fromArray(F, w, wp + L), b2 = FloatVector.fromArray(F, w, wp + 2 * L);
      int a = a0 + p;
      FloatVector v;
      v = FloatVector.broadcast(F, x[a + 0 * k]);
      c00 = b0.fma(v, c00);
      c01 = b1.fma(v, c01);
      c02 = b2.fma(v, c02);
    }
    FloatVector d0 = FloatVector.fromArray(F, bias, bp), d1 = FloatVector.fromArray(F, bias, bp + L), d2 = FloatVector.fromArray(F, bias, bp + 2 * L);
    c00.add(d0).intoArray(o, op + 0 * ldo);
    c01.add(d1).intoArray(o, op + 0 * ldo + L);
    c02.add(d2).intoArray(o, op + 0 * ldo + 2 * L);
  }

  /**
   * out[m, n] = a[m, k] w^T (+ bias) with float w given {@code [n, k]} (in the arena or a float bank).
   * Tasks are (24 columns) x (64 rows); inside, blocks of 4 rows x 3 columns of dot products.
   */
  private void dotMatmul(float[] x, int ao, float[] wf, int wo, Tensor bias, int oo, int m, int n, int k) {
    final int cols = 24;
    int colTasks = (n + cols - 1) / cols, chunks = (m + ROW_CHUNK - 1) / ROW_CHUNK;
    int biasOff = bias == null ? -1 : bias.offset();
    parallel(colTasks * chunks, (long) m * n * k, t -> {
      int j0 = (t / chunks) * cols, j1 = Math.min(n, j0 + cols);
      int i0 = (t % chunks) * ROW_CHUNK, i1 = Math.min(m, i0 + ROW_CHUNK);
      float[] acc = new float[12];
      for (int i = i0; i < i1; i += 4) {
        int rows = Math.min(4, i1 - i);
        for (int j = j0; j < j1; j += 3) {
          int cs = Math.min(3, j1 - j);
          if (rows == 4 && cs == 3) {
            dot4x3F(x, ao + i * k, wf, wo + j * k, k, acc);
          } else {
            for (int r = 0; r < rows; r++) {
              for (int c = 0; c < cs; c++) {
                acc[r * 3 + c] = dot1F(x, ao + (i + r) * k, wf, wo + (j + c) * k, k);
              }
            }
          }
          for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cs; c++) {
              float v = acc[r * 3 + c];
              x[oo + (i + r) * n + j + c] = biasOff >= 0 ? v + x[biasOff + j + c] : v;
            }
          }
        }
      }
    });
  }

  /**
   * L 16-bit values widened to floats: bf16 by a shift ({@link #widenBf16}); f16 by the exponent rebias (x 2^112), exact
   * for every value ({@link #widenF16}). Each kernel has a method per dtype, and the dtype is tested once, outside, by a
   * dispatch that returns no vector, so C2 compiles each kernel with its own dtype's profile. What went wrong with one
   * kernel for both, in JVMs that ran f16 and bf16 weights (JDK 17 C2, {@code bin/benchmark linear16}):
   * <ul>
   *   <li>in about one JVM in four, a conversion inside a kernel was compiled as a call ({@code -XX:+PrintIntrinsics}:
   *       "missing constant"), its vectors allocated: that kernel 3-6x slower for the life of the compiled code;</li>
   *   <li>with the branch inside a loop, the widening on the side the profile saw least was left un-inlined
   *       ({@code widenF16} is too big for a cold call site), every widened vector allocated (f16 prefill 30 % slower).</li>
   * </ul>
   */
  static FloatVector widen(char[] h, int off, boolean f16) {
    return f16 ? widenF16(h, off) : widenBf16(h, off);
  }

  private static IntVector load16(char[] h, int off) {
    return (IntVector) ShortVector.fromCharArray(S, h, off).convertShape(VectorOperators.S2I, I, 0);
  }

  private static FloatVector widenBf16(char[] h, int off) {
    return load16(h, off).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
  }

  private static FloatVector widenF16(char[] h, int off) {
    IntVector bits = load16(h, off);
    IntVector mag = bits.and(0x7fff);
    FloatVector v = mag.lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(0x1p112f);
    VectorMask<Integer> special = mag.compare(VectorOperators.GE, 0x7c00); // inf and NaN keep their class
    IntVector out = v.reinterpretAsInts().blend(mag.lanewise(VectorOperators.LSHL, 13).or(0x7f800000), special);
    return out.or(bits.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
  }

  /** Dot products of 4 rows of x with 3 rows of w (float), k along both: acc[r * 3 + c]. */
  private static void dot4x3F(float[] x, int a0, float[] w, int w0, int k, float[] acc) {
    FloatVector z = FloatVector.zero(F);
    FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
    int a1 = a0 + k, a2 = a1 + k, a3 = a2 + k, w1 = w0 + k, w2 = w1 + k;
    int p = 0;
    for (; p + L <= k; p += L) {
      FloatVector b0 = FloatVector.fromArray(F, w, w0 + p), b1 = FloatVector.fromArray(F, w, w1 + p), b2 = FloatVector.fromArray(F, w, w2 + p);
      FloatVector v;
      v = FloatVector.fromArray(F, x, a0 + p);
      c00 = v.fma(b0, c00);
      c01 = v.fma(b1, c01);
      c02 = v.fma(b2, c02);
      v = FloatVector.fromArray(F, x, a1 + p);
      c10 = v.fma(b0, c10);
      c11 = v.fma(b1, c11);
      c12 = v.fma(b2, c12);
      v = FloatVector.fromArray(F, x, a2 + p);
      c20 = v.fma(b0, c20);
      c21 = v.fma(b1, c21);
      c22 = v.fma(b2, c22);
      v = FloatVector.fromArray(F, x, a3 + p);
      c30 = v.fma(b0, c30);
      c31 = v.fma(b1, c31);
      c32 = v.fma(b2, c32);
    }
    acc[0] = c00.reduceLanes(VectorOperators.ADD);
    acc[1] = c01.reduceLanes(VectorOperators.ADD);
    acc[2] = c02.reduceLanes(VectorOperators.ADD);
    acc[3] = c10.reduceLanes(VectorOperators.ADD);
    acc[4] = c11.reduceLanes(VectorOperators.ADD);
    acc[5] = c12.reduceLanes(VectorOperators.ADD);
    acc[6] = c20.reduceLanes(VectorOperators.ADD);
    acc[7] = c21.reduceLanes(VectorOperators.ADD);
    acc[8] = c22.reduceLanes(VectorOperators.ADD);
    acc[9] = c30.reduceLanes(VectorOperators.ADD);
    acc[10] = c31.reduceLanes(VectorOperators.ADD);
    acc[11] = c32.reduceLanes(VectorOperators.ADD);
    for (; p < k; p++) {
      float b0 = w[w0 + p], b1 = w[w1 + p], b2 = w[w2 + p];
      for (int r = 0; r < 4; r++) {
        float v = x[a0 + r * k + p];
        acc[r * 3] = Math.fma(v, b0, acc[r * 3]);
        acc[r * 3 + 1] = Math.fma(v, b1, acc[r * 3 + 1]);
        acc[r * 3 + 2] = Math.fma(v, b2, acc[r * 3 + 2]);
      }
    }
  }

  /** One dot product of length k (float w). */
  private static float dot1F(float[] x, int a, float[] w, int wo, int k) {
    FloatVector s = FloatVector.zero(F);
    int p = 0;
    for (; p + L <= k; p += L) s = FloatVector.fromArray(F, x, a + p).fma(FloatVector.fromArray(F, w, wo + p), s);
    float v = s.reduceLanes(VectorOperators.ADD);
    for (; p < k; p++) v = Math.fma(x[a + p], w[wo + p], v);
    return v;
  }

  /**
   * Below this many rows a packed 16-bit Linear weight ({@link #upload16Linear}) is read in place by kernels widening in
   * registers (decode); from it on (prefill, encoders) each task widens one panel to float and runs the float kernels
   * over all rows, the widening amortised over the rows. Both sum each output in the same order. A row-major 16-bit
   * weight ({@link #upload16}: no model's Linear layer, tied heads included) takes the panels at every row count,
   * widened by transposing ({@link #widenPanel}): the same sums again, slower for a few rows.
   */
  private static final int PANEL_ROWS_16 = 32;

  /**
   * 16-bit Linear weights packed like the float ones: panel pn of 3 vectors of columns holds {@code [in][PANEL]} values
   * (the last panel zero-padded). A call widens each panel contiguously (a quarter of the transposing
   * {@link #widenPanel}'s time) and runs the float kernels on it whatever the row count, so every output is the same
   * sequential sum over k in a decode step as in a prefill, alone or in any batch.
   */
  @Override
  public HalfTensor upload16Linear(char[] bits, DType dtype, int out, int in) {
    Ops.checkLinear16(bits, out, in);
    if (dtype == DType.F32) throw new IllegalArgumentException("upload16Linear takes BF16 or F16 bits, not " + dtype);
    int panels = (out + PANEL - 1) / PANEL;
    char[] packed = new char[Math.toIntExact(ArenaOps.size(panels, in, PANEL))];
    for (int pn = 0; pn < panels; pn++) {
      int j0 = pn * PANEL, cols = Math.min(PANEL, out - j0);
      for (int c = 0; c < cols; c++) {
        int src = (j0 + c) * in, dst = pn * in * PANEL + c;
        for (int p = 0; p < in; p++) packed[dst + p * PANEL] = bits[src + p];
      }
    }
    return upload16(packed, dtype).packed(PANEL);
  }

  @Override
  public long linear16Values(int out, int in) { return ArenaOps.size((out + PANEL - 1) / PANEL, in, PANEL); }

  @Override
  protected int linear16Panel() { return PANEL; }

  @Override
  protected void linear16Impl(Tensor out, Tensor x, HalfTensor w, Tensor bias, int rows, int n, int k) {
    boolean f16 = w.dtype() == DType.F16;
    if (w.dtype() == DType.F32 && w.panel() == PANEL) {
      packedF32(out, x, w, bias, rows, n, k, null);
      return;
    }
    if (w.dtype() == DType.F32) { // float32 in a float bank, read as stored: what matmul does with a transposed b
      dotMatmul(mem, x.offset(), floatBanks[w.bank()], w.offset(), bias, out.offset(), rows, n, k);
      return;
    }
    boolean packed = w.panel() == PANEL;
    if (packed) check(w, size((n + PANEL - 1) / PANEL, k, PANEL), "linear16 packed weight");
    if (rows < PANEL_ROWS_16 && packed) {
      packed16Rows(x.offset(), banks[w.bank()], w.offset(), f16, bias, out.offset(), rows, n, k);
      return;
    }
    // each thread's panel of W^T as floats, [k][PANEL], in the arena (not zeroed: each task writes what it reads)
    int slotSize = roundUp16((long) k * PANEL);
    try (Scope scratchScope = scope()) {
      Tensor scratch = allocUnzeroed(Math.toIntExact((long) slotSize * pool.threads()));
      float[] m = mem; // after the scratch was allocated: the arena may have grown
      char[] h = banks[w.bank()];
      int xo = x.offset(), wo = w.offset(), oo = out.offset();
      float[] ap = packRows(m, xo, rows, k);
      int panels = (n + PANEL - 1) / PANEL, full = rows / 8 * 8;
      // one lambda per layout: each is compiled with its own profile (sharing one, the row-major path's gathers in
      // widenPanel were left un-intrinsified by C2 once packed weights took most of the calls: 4x slower)
      if (packed) {
        parallel(panels, (long) rows * n * k, pn -> {
          int po = scratch.offset() + pool.slot() * slotSize;
          widenPacked(h, wo + pn * k * PANEL, k * PANEL, f16, m, po);
          panelRows(m, ap, xo, po, bias, oo, pn, rows, full, n, k);
        });
      } else {
        parallel(panels, (long) rows * n * k, pn -> {
          int j = pn * PANEL, cols = Math.min(PANEL, n - j), po = scratch.offset() + pool.slot() * slotSize;
          int p0 = 0;
          if (cols == PANEL) {
            p0 = widenPanel(h, wo + j * k, k, f16, m, po);
          } else { // the last panel: zero beyond its columns
            for (int p = 0; p < k; p++) Arrays.fill(m, po + p * PANEL + cols, po + (p + 1) * PANEL, 0f);
          }
          for (int c = 0; c < cols; c++) {
            int src = wo + (j + c) * k;
            for (int p = p0; p < k; p++) m[po + p * PANEL + c] = f16 ? Half.toFloat(h[src + p]) : Float.intBitsToFloat(h[src + p] << 16);
          }
          panelRows(m, ap, xo, po, bias, oo, pn, rows, full, n, k);
        });
      }
    }
  }

  /**
   * All rows by panel pn, widened at m[po..] ([k][PANEL]): blocks of 8 packed rows (ap), then single rows; a ragged last
   * panel through a tile.
   */
  private static void panelRows(float[] m, float[] ap, int xo, int po, Tensor bias, int oo, int pn, int rows, int full, int n, int k) {
    int j = pn * PANEL, cols = Math.min(PANEL, n - j);
    float[] bArr = bias == null || cols < PANEL ? ZERO : m;
    int bp = bias == null || cols < PANEL ? 0 : bias.offset() + j;
    if (cols == PANEL) {
      panel8(ap, 0, full, k, m, po, PANEL, m, oo + j, n, bArr, bp);
      for (int i = full; i < rows; i++) packed1x3(m, xo + i * k, k, m, po, PANEL, m, oo + i * n + j, n, bArr, bp);
    } else {
      float[] tile = new float[8 * PANEL];
      for (int i = 0; i < rows; ) {
        int r8 = i + 8 <= full ? 8 : 1;
        if (r8 == 8) packed8x3(ap, i * k, k, m, po, PANEL, tile, 0, PANEL, ZERO, 0);
        else packed1x3(m, xo + i * k, k, m, po, PANEL, tile, 0, PANEL, ZERO, 0);
        fromTile(m, tile, r8, oo + i * n + j, n, cols, bias, j);
        i += r8;
      }
    }
  }

  /** The first cols columns of rows of a tile {@code [rows][PANEL]} into m at o (rows ldo apart), plus bias[j..]. */
  private static void fromTile(float[] m, float[] tile, int rows, int o, int ldo, int cols, Tensor bias, int j) {
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) m[o + r * ldo + c] = tile[r * PANEL + c] + (bias == null ? 0f : m[bias.offset() + j + c]);
    }
  }

  /**
   * A few rows (decode) by packed 16-bit weights read in place: per panel, blocks of 4 rows then single rows, each
   * k step's 3 weight vectors widened in registers. Each output is the sum the widened panel gives in
   * {@link #packed8x3} (the same fma chain over k from zero, the bias added last), so a row's bits do not depend on the
   * call's row count.
   */
  private void packed16Rows(int xo, char[] h, int wo, boolean f16, Tensor bias, int oo, int rows, int n, int k) {
    float[] m = mem;
    int panels = (n + PANEL - 1) / PANEL, blocks = rows / 4 * 4;
    parallel(panels, (long) rows * n * k, pn -> {
      int j = pn * PANEL, cols = Math.min(PANEL, n - j), wp = wo + pn * k * PANEL;
      if (cols == PANEL) {
        float[] bArr = bias == null ? ZERO : m;
        int bp = bias == null ? 0 : bias.offset() + j;
        for (int i = 0; i < blocks; i += 4) packed4x3H(m, xo + i * k, k, h, wp, f16, m, oo + i * n + j, n, bArr, bp);
        for (int i = blocks; i < rows; i++) packed1x3H(m, xo + i * k, k, h, wp, f16, m, oo + i * n + j, bArr, bp);
      } else { // the zero-padded last panel, through a tile
        float[] tile = new float[4 * PANEL];
        for (int i = 0; i < rows; ) {
          int r4 = i + 4 <= blocks ? 4 : 1;
          if (r4 == 4) packed4x3H(m, xo + i * k, k, h, wp, f16, tile, 0, PANEL, ZERO, 0);
          else packed1x3H(m, xo + i * k, k, h, wp, f16, tile, 0, ZERO, 0);
          fromTile(m, tile, r4, oo + i * n + j, n, cols, bias, j);
          i += r4;
        }
      }
    });
  }

  /** Four rows of x (k apart, from a0) by one packed 16-bit panel (row p at wp + p * PANEL); as {@link #packed8x3}. */
  private static void packed4x3H(float[] x, int a0, int k, char[] w, int wp, boolean f16, float[] o, int op, int ldo, float[] bias, int bp) {
    if (f16) packed4x3F16(x, a0, k, w, wp, o, op, ldo, bias, bp);
    else packed4x3Bf16(x, a0, k, w, wp, o, op, ldo, bias, bp);
  }

  /** {@link #packed4x3H} for bf16 weights. */
  private static void packed4x3Bf16(float[] x, int a0, int k, char[] w, int wp, float[] o, int op, int ldo, float[] bias, int bp) {
    FloatVector z = FloatVector.zero(F);
    FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
    for (int p = 0; p < k; p++, wp += PANEL) {
      FloatVector b0 = widenBf16(w, wp), b1 = widenBf16(w, wp + L), b2 = widenBf16(w, wp + 2 * L);
      int a = a0 + p;
      FloatVector v;
      v = FloatVector.broadcast(F, x[a]);
      c00 = b0.fma(v, c00);
      c01 = b1.fma(v, c01);
      c02 = b2.fma(v, c02);
      v = FloatVector.broadcast(F, x[a + k]);
      c10 = b0.fma(v, c10);
      c11 = b1.fma(v, c11);
      c12 = b2.fma(v, c12);
      v = FloatVector.broadcast(F, x[a + 2 * k]);
      c20 = b0.fma(v, c20);
      c21 = b1.fma(v, c21);
      c22 = b2.fma(v, c22);
      v = FloatVector.broadcast(F, x[a + 3 * k]);
      c30 = b0.fma(v, c30);
      c31 = b1.fma(v, c31);
      c32 = b2.fma(v, c32);
    }
    FloatVector d0 = FloatVector.fromArray(F, bias, bp), d1 = FloatVector.fromArray(F, bias, bp + L), d2 = FloatVector.fromArray(F, bias, bp + 2 * L);
    c00.add(d0).intoArray(o, op);
    c01.add(d1).intoArray(o, op + L);
    c02.add(d2).intoArray(o, op + 2 * L);
    c10.add(d0).intoArray(o, op + ldo);
    c11.add(d1).intoArray(o, op + ldo + L);
    c12.add(d2).intoArray(o, op + ldo + 2 * L);
    c20.add(d0).intoArray(o, op + 2 * ldo);
    c21.add(d1).intoArray(o, op + 2 * ldo + L);
    c22.add(d2).intoArray(o, op + 2 * ldo + 2 * L);
    c30.add(d0).intoArray(o, op + 3 * ldo);
    c31.add(d1).intoArray(o, op + 3 * ldo + L);
    c32.add(d2).intoArray(o, op + 3 * ldo + 2 * L);
  }

  /** {@link #packed4x3H} for f16 weights. */
  private static void packed4x3F16(float[] x, int a0, int k, char[] w, int wp, float[] o, int op, int ldo, float[] bias, int bp) {
    FloatVector z = FloatVector.zero(F);
    FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
    for (int p = 0; p < k; p++, wp += PANEL) {
      FloatVector b0 = widenF16(w, wp), b1 = widenF16(w, wp + L), b2 = widenF16(w, wp + 2 * L);
      int a = a0 + p;
      FloatVector v;
      v = FloatVector.broadcast(F, x[a]);
      c00 = b0.fma(v, c00);
      c01 = b1.fma(v, c01);
      c02 = b2.fma(v, c02);
      v = FloatVector.broadcast(F, x[a + k]);
      c10 = b0.fma(v, c10);
      c11 = b1.fma(v, c11);
      c12 = b2.fma(v, c12);
      v = FloatVector.broadcast(F, x[a + 2 * k]);
      c20 = b0.fma(v, c20);
      c21 = b1.fma(v, c21);
      c22 = b2.fma(v, c22);
      v = FloatVector.broadcast(F, x[a + 3 * k]);
      c30 = b0.fma(v, c30);
      c31 = b1.fma(v, c31);
      c32 = b2.fma(v, c32);
    }
    FloatVector d0 = FloatVector.fromArray(F, bias, bp), d1 = FloatVector.fromArray(F, bias, bp + L), d2 = FloatVector.fromArray(F, bias, bp + 2 * L);
    c00.add(d0).intoArray(o, op);
    c01.add(d1).intoArray(o, op + L);
    c02.add(d2).intoArray(o, op + 2 * L);
    c10.add(d0).intoArray(o, op + ldo);
    c11.add(d1).intoArray(o, op + ldo + L);
    c12.add(d2).intoArray(o, op + ldo + 2 * L);
    c20.add(d0).intoArray(o, op + 2 * ldo);
    c21.add(d1).intoArray(o, op + 2 * ldo + L);
    c22.add(d2).intoArray(o, op + 2 * ldo + 2 * L);
    c30.add(d0).intoArray(o, op + 3 * ldo);
    c31.add(d1).intoArray(o, op + 3 * ldo + L);
    c32.add(d2).intoArray(o, op + 3 * ldo + 2 * L);
  }

  /** One row by one packed 16-bit panel; as {@link #packed4x3H}. */
  private static void packed1x3H(float[] x, int a0, int k, char[] w, int wp, boolean f16, float[] o, int op, float[] bias, int bp) {
    if (f16) packed1x3F16(x, a0, k, w, wp, o, op, bias, bp);
    else packed1x3Bf16(x, a0, k, w, wp, o, op, bias, bp);
  }

  /** {@link #packed1x3H} for bf16 weights. */
  private static void packed1x3Bf16(float[] x, int a0, int k, char[] w, int wp, float[] o, int op, float[] bias, int bp) {
    FloatVector z = FloatVector.zero(F);
    FloatVector c00 = z, c01 = z, c02 = z;
    for (int p = 0; p < k; p++, wp += PANEL) {
      FloatVector v = FloatVector.broadcast(F, x[a0 + p]);
      c00 = widenBf16(w, wp).fma(v, c00);
      c01 = widenBf16(w, wp + L).fma(v, c01);
      c02 = widenBf16(w, wp + 2 * L).fma(v, c02);
    }
    FloatVector d0 = FloatVector.fromArray(F, bias, bp), d1 = FloatVector.fromArray(F, bias, bp + L), d2 = FloatVector.fromArray(F, bias, bp + 2 * L);
    c00.add(d0).intoArray(o, op);
    c01.add(d1).intoArray(o, op + L);
    c02.add(d2).intoArray(o, op + 2 * L);
  }

  /** {@link #packed1x3H} for f16 weights. */
  private static void packed1x3F16(float[] x, int a0, int k, char[] w, int wp, float[] o, int op, float[] bias, int bp) {
    FloatVector z = FloatVector.zero(F);
    FloatVector c00 = z, c01 = z, c02 = z;
    for (int p = 0; p < k; p++, wp += PANEL) {
      FloatVector v = FloatVector.broadcast(F, x[a0 + p]);
      c00 = widenF16(w, wp).fma(v, c00);
      c01 = widenF16(w, wp + L).fma(v, c01);
      c02 = widenF16(w, wp + 2 * L).fma(v, c02);
    }
    FloatVector d0 = FloatVector.fromArray(F, bias, bp), d1 = FloatVector.fromArray(F, bias, bp + L), d2 = FloatVector.fromArray(F, bias, bp + 2 * L);
    c00.add(d0).intoArray(o, op);
    c01.add(d1).intoArray(o, op + L);
    c02.add(d2).intoArray(o, op + 2 * L);
  }

  /** n 16-bit values from h[src..] widened into panel[po..] (n a multiple of PANEL, so of L). */
  private static void widenPacked(char[] h, int src, int n, boolean f16, float[] panel, int po) {
    if (f16) widenPackedF16(h, src, n, panel, po);
    else widenPackedBf16(h, src, n, panel, po);
  }

  private static void widenPackedBf16(char[] h, int src, int n, float[] panel, int po) {
    for (int i = 0; i < n; i += L) widenBf16(h, src + i).intoArray(panel, po + i);
  }

  private static void widenPackedF16(char[] h, int src, int n, float[] panel, int po) {
    for (int i = 0; i < n; i += L) widenF16(h, src + i).intoArray(panel, po + i);
  }

  /** L values of each of PANEL rows (k apart from src) widened into buf {@code [PANEL][L]}. */
  private static void widenRowsBf16(char[] h, int src, int k, float[] buf) {
    for (int c = 0; c < PANEL; c++) widenBf16(h, src + c * k).intoArray(buf, c * L);
  }

  private static void widenRowsF16(char[] h, int src, int k, float[] buf) {
    for (int c = 0; c < PANEL; c++) widenF16(h, src + c * k).intoArray(buf, c * L);
  }

  /** Lane i of a gather: every L-th float of the widening buffer (one column's value at one k step). */
  private static final int[] COLUMN_STEP = new int[L];

  static {
    for (int i = 0; i < L; i++) COLUMN_STEP[i] = i * L;
  }

  /**
   * The first whole-vector steps of k of PANEL out-major 16-bit rows (row c at {@code src + c * k}) into a panel
   * {@code [k][PANEL]} of floats at panel[po..]: per L steps, each row's L values widened in registers ({@link #widen}) into a
   * buffer {@code [PANEL][L]}, then each step's PANEL values gathered from it into the panel's row. Three times faster
   * than element by element (0.4 against 1.2 ns a value); a LLaMA-1B prefill widens 1 G values. Returns the steps done
   * (k rounded down to whole vectors); the caller widens the rest.
   */
  private static int widenPanel(char[] h, int src, int k, boolean f16, float[] panel, int po) {
    float[] buf = new float[PANEL * L];
    int p0 = 0;
    for (; p0 + L <= k; p0 += L) {
      if (f16) widenRowsF16(h, src + p0, k, buf);
      else widenRowsBf16(h, src + p0, k, buf);
      for (int p = 0; p < L; p++) {
        int o = po + (p0 + p) * PANEL;
        for (int v = 0; v < PANEL; v += L) FloatVector.fromArray(F, buf, v * L + p, COLUMN_STEP, 0).intoArray(panel, o + v);
      }
    }
    return p0;
  }

  // ---- Linear: quantized weights (int8 / int4), dequantized in registers ----

  /** Bytes of one load: L int8 values (one float vector's lanes); null where vectors are narrower than 8 floats. */
  private static final VectorSpecies<Byte> B = L >= 8 ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;

  /**
   * Quantized weights are packed in the panels of the float ones whatever the linear layout (the layout setting is about
   * float weights): panel pn of 3 vectors of columns holds, for INT8, {@code [in][PANEL]} bytes and {@code [PANEL]}
   * scales (one per output column); for INT4, {@code [ceil(in / 2)][PANEL]} bytes, byte (p, c) holding inputs 2p (low
   * nibble) and 2p + 1 (high nibble) of column c, and {@code [groups][PANEL]} scales. The last panel is zero-padded
   * (its scales too). The kernels load L bytes, sign-extend them to ints and convert to floats in registers.
   */
  @Override
  public LinearWeight uploadLinear(QuantizedWeights q) {
    if (B == null) {
      throw new UnsupportedOperationException("the CPU engine's quantized Linear needs vectors of at least 8 floats (AVX2); this CPU has "
          + L + "; use --quantize none or --device java");
    }
    int out = q.out(), in = q.in(), panels = (out + PANEL - 1) / PANEL, groups = q.groups();
    boolean int4 = q.scheme() == Quantization.INT4;
    int steps = int4 ? (in + 1) / 2 : in, scaleRows = int4 ? groups : 1;
    byte[] packed = new byte[Math.toIntExact(ArenaOps.size(panels, steps, PANEL))];
    float[] scales = new float[Math.toIntExact(ArenaOps.size(panels, scaleRows, PANEL))];
    for (int pn = 0; pn < panels; pn++) {
      int j0 = pn * PANEL, cols = Math.min(PANEL, out - j0);
      for (int c = 0; c < cols; c++) {
        int j = j0 + c;
        for (int p = 0; p < steps; p++) {
          int v = int4 ? (q.q(j, 2 * p) & 0xf) | (2 * p + 1 < in ? q.q(j, 2 * p + 1) << 4 : 0) : q.q(j, p);
          packed[(pn * steps + p) * PANEL + c] = (byte) v;
        }
        for (int g = 0; g < scaleRows; g++) scales[(pn * scaleRows + g) * PANEL + c] = q.scales()[j * groups + g];
      }
    }
    ByteTensor values = uploadBytes(packed);
    Tensor s = upload(scales);
    return new LinearWeight(null, out, in, true, PANEL, new LinearWeight.Quantized(q.scheme(), q.group(), values, s));
  }

  @Override
  protected void linearQuantizedImpl(Tensor out, Tensor x, LinearWeight w, Tensor bias, int rows) {
    LinearWeight.Quantized q = w.quantized();
    if (w.panel() != PANEL) {
      throw new IllegalArgumentException("a quantized Linear weight uploaded by another engine (panel " + w.panel()
          + "); upload it with this CPU engine's uploadLinear");
    }
    int n = w.out(), k = w.in(), panels = (n + PANEL - 1) / PANEL;
    boolean int4 = q.scheme() == Quantization.INT4;
    int group = q.group(), groups = q.groups(k), steps = int4 ? (k + 1) / 2 : k, scaleRows = int4 ? groups : 1;
    if (q.values().size() < ArenaOps.size(panels, steps, PANEL)) throw new IllegalArgumentException("quantized weight: too few bytes for [" + n + ", " + k + "]");
    check(q.scales(), ArenaOps.size(panels, scaleRows, PANEL), "quantized weight scales");
    float[] m = mem;
    byte[] wb = bytes;
    int xo = x.offset(), oo = out.offset(), vo = q.values().offset(), so = q.scales().offset();
    // INT4 with an odd k: the kernels take whole pairs of inputs; the last input is added after them
    int kk = int4 ? k & ~1 : k;
    int chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
    float[] bArr = bias == null ? ZERO : m;
    float[] ap = packRows(m, xo, rows, k);
    parallel(panels * chunks, (long) rows * n * k, t -> {
      int pn = t / chunks, i0 = (t % chunks) * ROW_CHUNK, i1 = Math.min(rows, i0 + ROW_CHUNK);
      int j = pn * PANEL, cols = Math.min(PANEL, n - j), wp = vo + pn * steps * PANEL, sp = so + pn * scaleRows * PANEL;
      int bp = bias == null ? 0 : bias.offset() + j;
      if (cols == PANEL) {
        int i = i0;
        for (; i + 8 <= i1 && i + 8 <= rows / 8 * 8; i += 8) {
          if (int4) q4x8(ap, i * k, kk, group, wb, wp, m, sp, m, oo + i * n + j, n, bArr, bp);
          else q8x8(ap, i * k, k, wb, wp, m, sp, m, oo + i * n + j, n, bArr, bp);
        }
        for (; i < i1; i++) {
          if (int4) q4x1(m, xo + i * k, kk, group, wb, wp, m, sp, m, oo + i * n + j, bArr, bp);
          else q8x1(m, xo + i * k, k, wb, wp, m, sp, m, oo + i * n + j, bArr, bp);
        }
      } else { // the zero-padded last panel: through a scratch row
        float[] row = new float[PANEL];
        for (int i = i0; i < i1; i++) {
          if (int4) q4x1(m, xo + i * k, kk, group, wb, wp, m, sp, row, 0, ZERO, 0);
          else q8x1(m, xo + i * k, k, wb, wp, m, sp, row, 0, ZERO, 0);
          for (int c = 0; c < cols; c++) m[oo + i * n + j + c] = bias == null ? row[c] : row[c] + m[bp + c];
        }
      }
      if (kk < k) { // INT4, odd k: input k - 1 (the low nibble of the last byte of each column)
        int last = wp + (steps - 1) * PANEL, gs = sp + (groups - 1) * PANEL;
        for (int i = i0; i < i1; i++) {
          float xv = m[xo + i * k + k - 1];
          for (int c = 0; c < cols; c++) m[oo + i * n + j + c] += xv * (((wb[last + c] << 28) >> 28) * m[gs + c]);
        }
      }
    });
  }

  /** L int8 weights from w[off..] as floats, in registers. */
  private static FloatVector widen8(byte[] w, int off) {
    return (FloatVector) ByteVector.fromArray(B, w, off).convertShape(VectorOperators.B2I, I, 0).convert(VectorOperators.I2F, 0);
  }

  /** L bytes from w[off..] sign-extended to ints (each holds two int4 values). */
  private static IntVector bytesToInts(byte[] w, int off) {
    return (IntVector) ByteVector.fromArray(B, w, off).convertShape(VectorOperators.B2I, I, 0);
  }

  /** The low nibbles (sign-extended) as floats. */
  private static FloatVector lowNibbles(IntVector v) {
    return (FloatVector) v.lanewise(VectorOperators.LSHL, 28).lanewise(VectorOperators.ASHR, 28).convert(VectorOperators.I2F, 0);
  }

  /** The high nibbles (sign-extended: the byte was) as floats. */
  private static FloatVector highNibbles(IntVector v) {
    return (FloatVector) v.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0);
  }

  /**
   * Eight rows (packed, {@link #packRows}) by one INT8 panel: {@link #packed8x3} with the weights widened from bytes in
   * registers; the per-column scale is applied once to the sums (it is constant along k), then the bias.
   */
  private static void q8x8(float[] x, int a0, int k, byte[] w, int wp, float[] s, int sp, float[] o, int op, int ldo, float[] bias, int bp) {
    FloatVector z = FloatVector.zero(F);
    FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z, c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z, c60 = z, c61 = z, c62 = z, c70 = z, c71 = z, c72 = z;
    for (int p = 0, a = a0; p < k; p++, wp += PANEL, a += 8) {
      FloatVector b0 = widen8(w, wp), b1 = widen8(w, wp + L), b2 = widen8(w, wp + 2 * L);
      FloatVector v;
      v = FloatVector.broadcast(F, x[a + 0]);
      c00 = b0.fma(v, c00);
      c01 = b1.fma(v, c01);
      c02 = b2.fma(v, c02);
      v = FloatVector.broadcast(F, x[a + 1]);
      c10 = b0.fma(v, c10);
      c11 = b1.fma(v, c11);
      c12 = b2.fma(v, c12);
      v = FloatVector.broadcast(F, x[a + 2]);
      c20 = b0.fma(v, c20);
      c21 = b1.fma(v, c21);
      c22 = b2.fma(v, c22);
      v = FloatVector.broadcast(F, x[a + 3]);
      c30 = b0.fma(v, c30);
      c31 = b1.fma(v, c31);
      c32 = b2.fma(v, c32);
      v = FloatVector.broadcast(F, x[a + 4]);
      c40 = b0.fma(v, c40);
      c41 = b1.fma(v, c41);
      c42 = b2.fma(v, c42);
      v = FloatVector.broadcast(F, x[a + 5]);
      c50 = b0.fma(v, c50);
      c51 = b1.fma(v, c51);
      c52 = b2.fma(v, c52);
      v = FloatVector.broadcast(F, x[a + 6]);
      c60 = b0.fma(v, c60);
      c61 = b1.fma(v, c61);
      c62 = b2.fma(v, c62);
      v = FloatVector.broadcast(F, x[a + 7]);
      c70 = b0.fma(v, c70);
      c71 = b1.fma(v, c71);
      c72 = b2.fma(v, c72);
    }
    FloatVector s0 = FloatVector.fromArray(F, s, sp), s1 = FloatVector.fromArray(F, s, sp + L), s2 = FloatVector.fromArray(F, s, sp + 2 * L);
    FloatVector d0 = FloatVector.fromArray(F, bias, bp), d1 = FloatVector.fromArray(F, bias, bp + L), d2 = FloatVector.fromArray(F, bias, bp + 2 * L);
    c00.fma(s0, d0).intoArray(o, op + 0 * ldo);
    c01.fma(s1, d1).intoArray(o, op + 0 * ldo + 1 * L);
    c02.fma(s2, d2).intoArray(o, op + 0 * ldo + 2 * L);
    c10.fma(s0, d0).intoArray(o, op + 1 * ldo);
    c11.fma(s1, d1).intoArray(o, op + 1 * ldo + 1 * L);
    c12.fma(s2, d2).intoArray(o, op + 1 * ldo + 2 * L);
    c20.fma(s0, d0).intoArray(o, op + 2 * ldo);
    c21.fma(s1, d1).intoArray(o, op + 2 * ldo + 1 * L);
    c22.fma(s2, d2).intoArray(o, op + 2 * ldo + 2 * L);
    c30.fma(s0, d0).intoArray(o, op + 3 * ldo);
    c31.fma(s1, d1).intoArray(o, op + 3 * ldo + 1 * L);
    c32.fma(s2, d2).intoArray(o, op + 3 * ldo + 2 * L);
    c40.fma(s0, d0).intoArray(o, op + 4 * ldo);
    c41.fma(s1, d1).intoArray(o, op + 4 * ldo + 1 * L);
    c42.fma(s2, d2).intoArray(o, op + 4 * ldo + 2 * L);
    c50.fma(s0, d0).intoArray(o, op + 5 * ldo);
    c51.fma(s1, d1).intoArray(o, op + 5 * ldo + 1 * L);
    c52.fma(s2, d2).intoArray(o, op + 5 * ldo + 2 * L);
    c60.fma(s0, d0).intoArray(o, op + 6 * ldo);
    c61.fma(s1, d1).intoArray(o, op + 6 * ldo + 1 * L);
    c62.fma(s2, d2).intoArray(o, op + 6 * ldo + 2 * L);
    c70.fma(s0, d0).intoArray(o, op + 7 * ldo);
    c71.fma(s1, d1).intoArray(o, op + 7 * ldo + 1 * L);
    c72.fma(s2, d2).intoArray(o, op + 7 * ldo + 2 * L);
  }

  /** One row by one INT8 panel. */
  private static void q8x1(float[] x, int a0, int k, byte[] w, int wp, float[] s, int sp, float[] o, int op, float[] bias, int bp) {
    FloatVector z = FloatVector.zero(F);
    FloatVector c00 = z, c01 = z, c02 = z;
    for (int p = 0; p < k; p++, wp += PANEL) {
      FloatVector v = FloatVector.broadcast(F, x[a0 + p]);
      c00 = widen8(w, wp).fma(v, c00);
      c01 = widen8(w, wp + L).fma(v, c01);
      c02 = widen8(w, wp + 2 * L).fma(v, c02);
    }
    FloatVector s0 = FloatVector.fromArray(F, s, sp), s1 = FloatVector.fromArray(F, s, sp + L), s2 = FloatVector.fromArray(F, s, sp + 2 * L);
    c00.fma(s0, FloatVector.fromArray(F, bias, bp)).intoArray(o, op);
    c01.fma(s1, FloatVector.fromArray(F, bias, bp + L)).intoArray(o, op + L);
    c02.fma(s2, FloatVector.fromArray(F, bias, bp + 2 * L)).intoArray(o, op + 2 * L);
  }

  /**
   * Eight rows (packed, {@link #packRows}) by one INT4 panel over the first k (even) inputs: per pair of inputs, the
   * scales of its group (reloaded every step from L1: a loop over groups around the loop over inputs kept C2 from holding
   * the accumulators in registers, 50x slower), one load of bytes per column vector, low and high nibbles widened to
   * floats and scaled in registers (6 weight vectors beside the 24 accumulators).
   */
  private static void q4x8(float[] x, int a0, int k, int group, byte[] w, int wp, float[] s, int sp, float[] o, int op, int ldo, float[] bias, int bp) {
    FloatVector z = FloatVector.zero(F);
    FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z, c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z, c60 = z, c61 = z, c62 = z, c70 = z, c71 = z, c72 = z;
    for (int p = 0, a = a0; p < k; p += 2, wp += PANEL, a += 16) {
      int sg = sp + p / group * PANEL;
      FloatVector sc = FloatVector.fromArray(F, s, sg);
      IntVector iv = bytesToInts(w, wp);
      FloatVector b0 = lowNibbles(iv).mul(sc), h0 = highNibbles(iv).mul(sc);
      sc = FloatVector.fromArray(F, s, sg + L);
      iv = bytesToInts(w, wp + L);
      FloatVector b1 = lowNibbles(iv).mul(sc), h1 = highNibbles(iv).mul(sc);
      sc = FloatVector.fromArray(F, s, sg + 2 * L);
      iv = bytesToInts(w, wp + 2 * L);
      FloatVector b2 = lowNibbles(iv).mul(sc), h2 = highNibbles(iv).mul(sc);
      FloatVector v;
      v = FloatVector.broadcast(F, x[a + 0]);
      c00 = b0.fma(v, c00);
      c01 = b1.fma(v, c01);
      c02 = b2.fma(v, c02);
      v = FloatVector.broadcast(F, x[a + 1]);
      c10 = b0.fma(v, c10);
      c11 = b1.fma(v, c11);
      c12 = b2.fma(v, c12);
      v = FloatVector.broadcast(F, x[a + 2]);
      c20 = b0.fma(v, c20);
      c21 = b1.fma(v, c21);
      c22 = b2.fma(v, c22);
      v = FloatVector.broadcast(F, x[a + 3]);
      c30 = b0.fma(v, c30);
      c31 = b1.fma(v, c31);
      c32 = b2.fma(v, c32);
      v = FloatVector.broadcast(F, x[a + 4]);
      c40 = b0.fma(v, c40);
      c41 = b1.fma(v, c41);
      c42 = b2.fma(v, c42);
      v = FloatVector.broadcast(F, x[a + 5]);
      c50 = b0.fma(v, c50);
      c51 = b1.fma(v, c51);
      c52 = b2.fma(v, c52);
      v = FloatVector.broadcast(F, x[a + 6]);
      c60 = b0.fma(v, c60);
      c61 = b1.fma(v, c61);
      c62 = b2.fma(v, c62);
      v = FloatVector.broadcast(F, x[a + 7]);
      c70 = b0.fma(v, c70);
      c71 = b1.fma(v, c71);
      c72 = b2.fma(v, c72);
      v = FloatVector.broadcast(F, x[a + 8 + 0]);
      c00 = h0.fma(v, c00);
      c01 = h1.fma(v, c01);
      c02 = h2.fma(v, c02);
      v = FloatVector.broadcast(F, x[a + 8 + 1]);
      c10 = h0.fma(v, c10);
      c11 = h1.fma(v, c11);
      c12 = h2.fma(v, c12);
      v = FloatVector.broadcast(F, x[a + 8 + 2]);
      c20 = h0.fma(v, c20);
      c21 = h1.fma(v, c21);
      c22 = h2.fma(v, c22);
      v = FloatVector.broadcast(F, x[a + 8 + 3]);
      c30 = h0.fma(v, c30);
      c31 = h1.fma(v, c31);
      c32 = h2.fma(v, c32);
      v = FloatVector.broadcast(F, x[a + 8 + 4]);
      c40 = h0.fma(v, c40);
      c41 = h1.fma(v, c41);
      c42 = h2.fma(v, c42);
      v = FloatVector.broadcast(F, x[a + 8 + 5]);
      c50 = h0.fma(v, c50);
      c51 = h1.fma(v, c51);
      c52 = h2.fma(v, c52);
      v = FloatVector.broadcast(F, x[a + 8 + 6]);
      c60 = h0.fma(v, c60);
      c61 = h1.fma(v, c61);
      c62 = h2.fma(v, c62);
      v = FloatVector.broadcast(F, x[a + 8 + 7]);
      c70 = h0.fma(v, c70);
      c71 = h1.fma(v, c71);
      c72 = h2.fma(v, c72);
    }
    FloatVector d0 = FloatVector.fromArray(F, bias, bp), d1 = FloatVector.fromArray(F, bias, bp + L), d2 = FloatVector.fromArray(F, bias, bp + 2 * L);
    c00.add(d0).intoArray(o, op + 0 * ldo);
    c01.add(d1).intoArray(o, op + 0 * ldo + 1 * L);
    c02.add(d2).intoArray(o, op + 0 * ldo + 2 * L);
    c10.add(d0).intoArray(o, op + 1 * ldo);
    c11.add(d1).intoArray(o, op + 1 * ldo + 1 * L);
    c12.add(d2).intoArray(o, op + 1 * ldo + 2 * L);
    c20.add(d0).intoArray(o, op + 2 * ldo);
    c21.add(d1).intoArray(o, op + 2 * ldo + 1 * L);
    c22.add(d2).intoArray(o, op + 2 * ldo + 2 * L);
    c30.add(d0).intoArray(o, op + 3 * ldo);
    c31.add(d1).intoArray(o, op + 3 * ldo + 1 * L);
    c32.add(d2).intoArray(o, op + 3 * ldo + 2 * L);
    c40.add(d0).intoArray(o, op + 4 * ldo);
    c41.add(d1).intoArray(o, op + 4 * ldo + 1 * L);
    c42.add(d2).intoArray(o, op + 4 * ldo + 2 * L);
    c50.add(d0).intoArray(o, op + 5 * ldo);
    c51.add(d1).intoArray(o, op + 5 * ldo + 1 * L);
    c52.add(d2).intoArray(o, op + 5 * ldo + 2 * L);
    c60.add(d0).intoArray(o, op + 6 * ldo);
    c61.add(d1).intoArray(o, op + 6 * ldo + 1 * L);
    c62.add(d2).intoArray(o, op + 6 * ldo + 2 * L);
    c70.add(d0).intoArray(o, op + 7 * ldo);
    c71.add(d1).intoArray(o, op + 7 * ldo + 1 * L);
    c72.add(d2).intoArray(o, op + 7 * ldo + 2 * L);
  }

  /** One row by one INT4 panel over the first k (even) inputs. */
  private static void q4x1(float[] x, int a0, int k, int group, byte[] w, int wp, float[] s, int sp, float[] o, int op, float[] bias, int bp) {
    FloatVector z = FloatVector.zero(F);
    FloatVector c00 = z, c01 = z, c02 = z;
    for (int p = 0; p < k; p += 2, wp += PANEL) {
      {
        int sg = sp + p / group * PANEL;
        FloatVector s0 = FloatVector.fromArray(F, s, sg), s1 = FloatVector.fromArray(F, s, sg + L), s2 = FloatVector.fromArray(F, s, sg + 2 * L);
        IntVector v0 = bytesToInts(w, wp), v1 = bytesToInts(w, wp + L), v2 = bytesToInts(w, wp + 2 * L);
        FloatVector v = FloatVector.broadcast(F, x[a0 + p]);
        c00 = lowNibbles(v0).mul(s0).fma(v, c00);
        c01 = lowNibbles(v1).mul(s1).fma(v, c01);
        c02 = lowNibbles(v2).mul(s2).fma(v, c02);
        v = FloatVector.broadcast(F, x[a0 + p + 1]);
        c00 = highNibbles(v0).mul(s0).fma(v, c00);
        c01 = highNibbles(v1).mul(s1).fma(v, c01);
        c02 = highNibbles(v2).mul(s2).fma(v, c02);
      }
    }
    c00.add(FloatVector.fromArray(F, bias, bp)).intoArray(o, op);
    c01.add(FloatVector.fromArray(F, bias, bp + L)).intoArray(o, op + L);
    c02.add(FloatVector.fromArray(F, bias, bp + 2 * L)).intoArray(o, op + 2 * L);
  }

  // ---- element-wise ----

  /** Element-wise work in runs of 16K floats, parallel when long. */
  private void elementwise(int n, java.util.function.BiConsumer<Integer, Integer> run) {
    final int chunk = 1 << 14;
    int tasks = (n + chunk - 1) / chunk;
    parallel(tasks, n * 4L, t -> run.accept(t * chunk, Math.min(n, t * chunk + chunk)));
  }

  @Override
  protected void addImpl(Tensor out, Tensor a, Tensor b, int n) {
    float[] x = mem;
    int ao = a.offset(), bo = b.offset(), oo = out.offset();
    elementwise(n, (s, e) -> {
      int i = s;
      for (; i + L <= e; i += L) FloatVector.fromArray(F, x, ao + i).add(FloatVector.fromArray(F, x, bo + i)).intoArray(x, oo + i);
      for (; i < e; i++) x[oo + i] = x[ao + i] + x[bo + i];
    });
  }

  @Override
  protected void mulImpl(Tensor out, Tensor a, Tensor b, int n) {
    float[] x = mem;
    int ao = a.offset(), bo = b.offset(), oo = out.offset();
    elementwise(n, (s, e) -> {
      int i = s;
      for (; i + L <= e; i += L) FloatVector.fromArray(F, x, ao + i).mul(FloatVector.fromArray(F, x, bo + i)).intoArray(x, oo + i);
      for (; i < e; i++) x[oo + i] = x[ao + i] * x[bo + i];
    });
  }

  @Override
  protected void scaleImpl(Tensor out, Tensor t, float s, int n) {
    float[] x = mem;
    int xo = t.offset(), oo = out.offset();
    elementwise(n, (st, e) -> {
      int i = st;
      for (; i + L <= e; i += L) FloatVector.fromArray(F, x, xo + i).mul(s).intoArray(x, oo + i);
      for (; i < e; i++) x[oo + i] = x[xo + i] * s;
    });
  }

  @Override
  protected void copyImpl(Tensor out, Tensor t, int n) { System.arraycopy(mem, t.offset(), mem, out.offset(), n); }

  @Override
  protected void activationImpl(Activation act, Tensor out, Tensor t, int n) {
    float[] x = mem;
    int xo = t.offset(), oo = out.offset();
    elementwise(n, (s, e) -> {
      int i = s;
      for (; i + L <= e; i += L) activate(act, FloatVector.fromArray(F, x, xo + i)).intoArray(x, oo + i);
      for (; i < e; i++) x[oo + i] = activate(act, FloatVector.broadcast(F, x[xo + i])).lane(0);
    });
  }

  static FloatVector activate(Activation act, FloatVector v) {
    return switch (act) {
      case GELU_ERF -> v.mul(0.5f).mul(erf(v.mul((float) (1 / Math.sqrt(2)))).add(1f));
      case GELU_TANH -> {
        FloatVector inner = v.mul(v).mul(v).mul(0.044715f).add(v).mul((float) Math.sqrt(2 / Math.PI));
        yield v.mul(0.5f).mul(tanh(inner).add(1f));
      }
      case QUICK_GELU -> v.div(exp(v.mul(-1.702f)).add(1f));
      case SILU -> v.div(exp(v.neg()).add(1f));
      case RELU -> v.max(0f);
    };
  }

  /**
   * e^x in float, within 1 ulp of Math.exp (measured over 4.4 million x in [-104, 89]; results below the normal floats
   * rounded once): x = n ln 2 + r, |r| <= ln 2 / 2, e^r by Cephes' polynomial, times 2^n in two exact steps. Not the
   * Vector API's EXP: C2 compiles that to Intel's SVML and the interpreter and C1 run Math.exp lane by lane, so an op's
   * last bits changed with the JIT's progress (a warm engine and a cold one gave different embeddings for the same
   * batch). This is plain IEEE arithmetic, the same bits at every tier. No min/max clamps: Java's float min and max cost
   * C2 a handful of instructions each; out-of-range lanes are blended at the end instead.
   */
  static FloatVector exp(FloatVector x) {
    // t = 1.5 * 2^23 + round(x / ln 2): the rounded n is t's low bits (no float-to-int convert: C2 of JDK 17 has none)
    FloatVector t = x.fma(FloatVector.broadcast(F, 1.44269504088896341f), FloatVector.broadcast(F, 12582912f));
    FloatVector n = t.sub(12582912f);
    FloatVector r = n.fma(FloatVector.broadcast(F, -0.693359375f), x); // exact: 0.693359375 has 9 bits
    r = n.fma(FloatVector.broadcast(F, 2.12194440e-4f), r);
    IntVector k = t.reinterpretAsInts().sub(0x4B400000);
    IntVector a = k.lanewise(VectorOperators.ASHR, 1), b = k.sub(a); // x in [-104, 88.8]: each in [-75, 64], 2^a and 2^b normal
    FloatVector e = expReduced(r).mul(a.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
        .mul(b.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
    return e.blend(0f, x.compare(VectorOperators.LT, -104f)).blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, 88.72284f));
  }

  /**
   * {@link #exp} for x <= 0 (a softmax's x - max), cheaper: one scaling step, results below the normal floats
   * (x < -87.33655) flushed to zero, as -infinity's (a masked score's) must be. NaN stays NaN. As fast as SVML's EXP
   * (3.2-3.7 against 3.8 ns a vector of 16 on the AVX-512 Xeon).
   */
  static FloatVector expNonPositive(FloatVector x) {
    FloatVector t = x.fma(FloatVector.broadcast(F, 1.44269504088896341f), FloatVector.broadcast(F, 12582912f));
    FloatVector n = t.sub(12582912f);
    FloatVector r = n.fma(FloatVector.broadcast(F, -0.693359375f), x);
    r = n.fma(FloatVector.broadcast(F, 2.12194440e-4f), r);
    FloatVector scale = t.reinterpretAsInts().add(127 - 0x4B400000).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats(); // 2^n
    return expReduced(r).mul(scale).blend(0f, x.compare(VectorOperators.LT, -87.33655f)); // ln of the least normal float
  }

  /** e^r for |r| <= ln 2 / 2: Cephes' expf polynomial, 1 + r + r^2 p(r). */
  private static FloatVector expReduced(FloatVector r) {
    FloatVector p = r.mul(1.9875691500e-4f).add(1.3981999507e-3f);
    p = p.fma(r, FloatVector.broadcast(F, 8.3334519073e-3f));
    p = p.fma(r, FloatVector.broadcast(F, 4.1665795894e-2f));
    p = p.fma(r, FloatVector.broadcast(F, 1.6666665459e-1f));
    p = p.fma(r, FloatVector.broadcast(F, 5.0000001201e-1f));
    return p.fma(r.mul(r), r).add(1f);
  }

  /** tanh(u) = 1 - 2 / (e^{2u} + 1), on {@link #exp} (the same bits at every JIT tier; within 2e-7 of Math.tanh). */
  static FloatVector tanh(FloatVector u) {
    return FloatVector.broadcast(F, 1f).sub(FloatVector.broadcast(F, 2f).div(exp(u.add(u)).add(1f)));
  }

  /**
   * erf in float: a rational approximation on [-4, 4] (odd polynomial of degree 13 over an even one of degree 8; the
   * form of Eigen's float erf), saturating to +-1 beyond, where erf is 1 in float.
   */
  static FloatVector erf(FloatVector v) {
    FloatVector x = v.max(-4f).min(4f), x2 = x.mul(x);
    FloatVector p = x2.mul(-2.72614225801306e-10f).add(2.77068142495902e-08f);
    p = p.fma(x2, FloatVector.broadcast(F, -2.10102402082508e-06f));
    p = p.fma(x2, FloatVector.broadcast(F, -5.69250639462346e-05f));
    p = p.fma(x2, FloatVector.broadcast(F, -7.34990630326855e-04f));
    p = p.fma(x2, FloatVector.broadcast(F, -2.95459980854025e-03f));
    p = p.fma(x2, FloatVector.broadcast(F, -1.60960333262415e-02f));
    p = p.mul(x);
    FloatVector q = x2.mul(-1.45660718464996e-05f).add(-2.13374055278905e-04f);
    q = q.fma(x2, FloatVector.broadcast(F, -1.68282697438203e-03f));
    q = q.fma(x2, FloatVector.broadcast(F, -7.37332916720468e-03f));
    q = q.fma(x2, FloatVector.broadcast(F, -1.42647390514189e-02f));
    return p.div(q);
  }

  // ---- normalisation ----

  private static float sum(float[] x, int o, int n) {
    FloatVector s = FloatVector.zero(F);
    int j = 0;
    for (; j + L <= n; j += L) s = s.add(FloatVector.fromArray(F, x, o + j));
    float r = s.reduceLanes(VectorOperators.ADD);
    for (; j < n; j++) r += x[o + j];
    return r;
  }

  /** sum((x - c)^2) over n floats. */
  private static float sumSquares(float[] x, int o, int n, float c) {
    FloatVector s = FloatVector.zero(F);
    int j = 0;
    for (; j + L <= n; j += L) {
      FloatVector d = FloatVector.fromArray(F, x, o + j).sub(c);
      s = d.fma(d, s);
    }
    float r = s.reduceLanes(VectorOperators.ADD);
    for (; j < n; j++) r += (x[o + j] - c) * (x[o + j] - c);
    return r;
  }

  @Override
  protected void layerNormImpl(Tensor out, Tensor t, Tensor gamma, Tensor beta, int rows, int dim, float eps) {
    float[] x = mem;
    int go = gamma.offset(), bo = beta == null ? -1 : beta.offset();
    parallel(rows, (long) rows * dim, r -> {
      int xo = t.offset() + r * dim;
      normalizeRow(x, xo, out.offset() + r * dim, go, bo, dim, eps, sum(x, xo, dim) / dim);
    });
  }

  /** The residual add and LayerNorm in one pass over each row: the sum is stored and summed as {@link #sum} sums it. */
  @Override
  public void addLayerNorm(Tensor out, Tensor a, Tensor b, Tensor gamma, Tensor beta, int rows, int dim, float eps) {
    check(out, size(rows, dim), "addLayerNorm out");
    check(a, size(rows, dim), "addLayerNorm a");
    check(b, size(rows, dim), "addLayerNorm b");
    check(gamma, dim, "addLayerNorm gamma");
    if (beta != null) check(beta, dim, "addLayerNorm beta");
    checkOpen();
    float[] x = mem;
    int go = gamma.offset(), bo = beta == null ? -1 : beta.offset();
    parallel(rows, 2L * rows * dim, r -> {
      int xo = a.offset() + r * dim, yo = b.offset() + r * dim;
      FloatVector s = FloatVector.zero(F);
      int j = 0;
      for (; j + L <= dim; j += L) {
        FloatVector v = FloatVector.fromArray(F, x, xo + j).add(FloatVector.fromArray(F, x, yo + j));
        v.intoArray(x, xo + j);
        s = s.add(v);
      }
      float total = s.reduceLanes(VectorOperators.ADD);
      for (; j < dim; j++) {
        float v = x[xo + j] + x[yo + j];
        x[xo + j] = v;
        total += v;
      }
      normalizeRow(x, xo, out.offset() + r * dim, go, bo, dim, eps, total / dim);
    });
  }

  /** out row = (x row - mean) / sqrt(var + eps) * gamma + beta (bo < 0: no beta), the variance about {@code mean}. */
  private static void normalizeRow(float[] x, int xo, int oo, int go, int bo, int dim, float eps, float mean) {
    float inv = (float) (1 / Math.sqrt(sumSquares(x, xo, dim, mean) / dim + eps));
    int j = 0;
    for (; j + L <= dim; j += L) {
      FloatVector v = FloatVector.fromArray(F, x, xo + j).sub(mean).mul(inv).mul(FloatVector.fromArray(F, x, go + j));
      if (bo >= 0) v = v.add(FloatVector.fromArray(F, x, bo + j));
      v.intoArray(x, oo + j);
    }
    for (; j < dim; j++) x[oo + j] = (x[xo + j] - mean) * inv * x[go + j] + (bo >= 0 ? x[bo + j] : 0f);
  }

  @Override
  protected void rmsNormImpl(Tensor out, Tensor t, Tensor weight, int rows, int dim, float eps) {
    float[] x = mem;
    int wo = weight.offset();
    parallel(rows, (long) rows * dim, r -> {
      int xo = t.offset() + r * dim, oo = out.offset() + r * dim;
      float inv = (float) (1 / Math.sqrt(sumSquares(x, xo, dim, 0f) / dim + eps));
      int j = 0;
      for (; j + L <= dim; j += L) FloatVector.fromArray(F, x, xo + j).mul(inv).mul(FloatVector.fromArray(F, x, wo + j)).intoArray(x, oo + j);
      for (; j < dim; j++) x[oo + j] = x[xo + j] * inv * x[wo + j];
    });
  }

  @Override
  protected void l2NormalizeImpl(Tensor out, Tensor t, int rows, int dim) {
    float[] x = mem;
    parallel(rows, (long) rows * dim, r -> {
      int xo = t.offset() + r * dim, oo = out.offset() + r * dim;
      float inv = (float) (1 / Math.max(Math.sqrt(sumSquares(x, xo, dim, 0f)), 1e-12));
      int j = 0;
      for (; j + L <= dim; j += L) FloatVector.fromArray(F, x, xo + j).mul(inv).intoArray(x, oo + j);
      for (; j < dim; j++) x[oo + j] = x[xo + j] * inv;
    });
  }

  @Override
  protected void softmaxImpl(Tensor out, Tensor t, Tensor mask, boolean maskPerRow, int rows, int cols, float temperature, boolean log) {
    float[] x = mem;
    float invT = 1f / temperature;
    boolean exactDivide = invT * temperature != 1f; // x / T as the reference rounds it, unless 1/T is exact
    parallel(rows, (long) rows * cols * 8, r -> {
      int xo = t.offset() + r * cols, oo = out.offset() + r * cols, mo = mask == null ? -1 : mask.offset() + (maskPerRow ? r * cols : 0);
      // z = x / T + mask, kept in out; its max
      float m = scaledMax(x, xo, oo, mo, cols, temperature, invT, exactDivide);
      for (int j = cols / L * L; j < cols; j++) {
        float v = (exactDivide ? x[xo + j] / temperature : x[xo + j] * invT) + (mo >= 0 ? x[mo + j] : 0f);
        x[oo + j] = v;
        m = Math.max(m, v);
      }
      // sum of exp(z - max), in double across vectors' float partial sums
      FloatVector s = FloatVector.zero(F);
      int j = 0;
      for (; j + L <= cols; j += L) {
        FloatVector e = expNonPositive(FloatVector.fromArray(F, x, oo + j).sub(m));
        if (!log) e.intoArray(x, oo + j);
        s = s.add(e);
      }
      double sum = s.reduceLanes(VectorOperators.ADD);
      for (; j < cols; j++) {
        float e = expNonPositive(FloatVector.broadcast(F, x[oo + j] - m)).lane(0);
        if (!log) x[oo + j] = e;
        sum += e;
      }
      if (log) {
        float shift = (float) (m + Math.log(sum));
        j = 0;
        for (; j + L <= cols; j += L) FloatVector.fromArray(F, x, oo + j).sub(shift).intoArray(x, oo + j);
        for (; j < cols; j++) x[oo + j] = x[oo + j] - shift;
      } else {
        float inv = (float) (1 / sum);
        j = 0;
        for (; j + L <= cols; j += L) FloatVector.fromArray(F, x, oo + j).mul(inv).intoArray(x, oo + j);
        for (; j < cols; j++) x[oo + j] = x[oo + j] * inv;
      }
    });
  }

  /**
   * The whole vectors of z = x / T (x * invT where 1/T is exact) + mask (mo < 0: none) into out, and their max. One loop
   * per case, none of them merging vectors from two branches: C2 (JDK 17) then keeps each loop's vectors in registers
   * whatever other callers' profiles saw (with the choices inside one loop, a test JVM that had run other models left
   * its stores un-intrinsified, the Vector API's Java fallback).
   */
  private static float scaledMax(float[] x, int xo, int oo, int mo, int cols, float temperature, float invT, boolean exactDivide) {
    FloatVector mx = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
    int end = cols / L * L;
    if (mo >= 0 && exactDivide) {
      for (int j = 0; j < end; j += L) {
        FloatVector v = FloatVector.fromArray(F, x, xo + j).div(temperature).add(FloatVector.fromArray(F, x, mo + j));
        v.intoArray(x, oo + j);
        mx = mx.max(v);
      }
      return mx.reduceLanes(VectorOperators.MAX);
    }
    if (mo >= 0) {
      for (int j = 0; j < end; j += L) {
        FloatVector v = FloatVector.fromArray(F, x, xo + j).mul(invT).add(FloatVector.fromArray(F, x, mo + j));
        v.intoArray(x, oo + j);
        mx = mx.max(v);
      }
      return mx.reduceLanes(VectorOperators.MAX);
    }
    if (exactDivide) {
      for (int j = 0; j < end; j += L) {
        FloatVector v = FloatVector.fromArray(F, x, xo + j).div(temperature);
        v.intoArray(x, oo + j);
        mx = mx.max(v);
      }
      return mx.reduceLanes(VectorOperators.MAX);
    }
    for (int j = 0; j < end; j += L) {
      FloatVector v = FloatVector.fromArray(F, x, xo + j).mul(invT);
      v.intoArray(x, oo + j);
      mx = mx.max(v);
    }
    return mx.reduceLanes(VectorOperators.MAX);
  }

  // ---- attention ----

  /**
   * Fused per (batch entry, KV head): the head's keys are copied transposed ({@code [headDim, kLen]}) and its values
   * contiguous ({@code [kLen, headDim]}) into the thread's buffers, once for the query heads that share them; then for
   * each query of those heads, the scores against all keys are
   * broadcast multiply-adds over headDim (no horizontal sums), masked, soft-maxed with vector exp, and the output is the
   * weighted sum of the value rows. No score matrix leaves the thread.
   */
  @Override
  protected void attentionImpl(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, IntTensor positions, Tensor scores, Attention sp) {
    if (sp.qLen() == 1) {
      decodeAttention(out, q, k, v, keyMask, positions, sp);
      return;
    }
    int hd = sp.headDim(), group = sp.heads() / sp.kvHeads(), kLen = sp.kLen(), kPad = (kLen + L - 1) / L * L;
    // each thread's buffers, in the arena (on cache lines; not zeroed: each task writes what it reads): k^T [hd][kPad],
    // the values [kLen][hd], the key mask as an additive row [kPad], the scores of a block of queries [8][kPad]
    int ktSize = roundUp16((long) hd * kPad), vvSize = roundUp16((long) kLen * hd), rowSize = roundUp16(kPad);
    long perSlot = (long) ktSize + vvSize + rowSize + roundUp16(8L * kPad);
    // where each lane of a gather of k^T reads: key j's row (the last key's for the padding lanes, zeroed after)
    int[] keyRows = new int[kPad];
    for (int j = 0; j < kPad; j++) keyRows[j] = Math.multiplyExact(Math.min(j, kLen - 1), sp.kvStride());
    try (Scope scratchScope = scope()) {
      Tensor scratch = allocUnzeroed(Math.toIntExact(perSlot * pool.threads()));
      attentionBlocks(out, q, k, v, keyMask, positions, sp, scratch.offset(), (int) perSlot, ktSize, vvSize, rowSize, keyRows);
    }
  }

  private static int roundUp16(long n) { return Math.toIntExact((n + 15) & ~15L); }

  /**
   * Query heads per attention task: a task takes a (batch entry, KV head) pair and the query heads sharing its keys
   * (4 with LLaMA-1B's 32/8), the group split over more tasks only where there would be fewer than two per thread.
   */
  private int headsPerTask(Attention sp) {
    int group = sp.heads() / sp.kvHeads(), pairs = sp.batch() * sp.kvHeads();
    return Math.max(1, group / Math.max(1, Math.min(group, (2 * pool.threads() + pairs - 1) / pairs)));
  }

  /** x[o .. o + 3] = a * scale + 0 (the prefill kernels' score with a zero mask entry), one per accumulator. */
  private static void put4(float[] x, int o, float scale, float a0, float a1, float a2, float a3) {
    x[o] = a0 * scale + 0f;
    x[o + 1] = a1 * scale + 0f;
    x[o + 2] = a2 * scale + 0f;
    x[o + 3] = a3 * scale + 0f;
  }

  /**
   * One query per (batch entry, head): a decode step. Each task takes a batch entry's KV head and the query heads that
   * share it, and reads the keys and values where they lie in the cache, only those its query sees (causal, window),
   * once: no k^T copy. Transposing was 85 % of a step's attention with LLaVA-7B's 16 KiB cache rows (a gather over 16
   * rows 16 KiB apart per vector), and a decode step uses the copy for one query only. A score is the prefill
   * kernels' sum: one fma chain over d in order per key (scalar here, in lanes there), so decoding gives the same bits
   * as a prefill over the same keys.
   */
  private void decodeAttention(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, IntTensor positions, Attention sp) {
    int kPad = (sp.kLen() + L - 1) / L * L, headsPerTask = headsPerTask(sp);
    int perSlot = roundUp16((long) headsPerTask * kPad);
    try (Scope scratchScope = scope()) {
      Tensor scratch = allocUnzeroed(Math.toIntExact((long) perSlot * pool.threads()));
      decodeBlocks(out, q, k, v, keyMask, positions, sp, headsPerTask, scratch.offset(), perSlot);
    }
  }

  private void decodeBlocks(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, IntTensor positions, Attention sp,
      int headsPerTask, int scratch0, int perSlot) {
    float[] x = mem; // after the scratch was allocated: the arena may have grown
    int[] im = imem;
    int hd = sp.headDim(), group = sp.heads() / sp.kvHeads(), kLen = sp.kLen(), kPad = (kLen + L - 1) / L * L, ks = sp.kvStride();
    int parts = (group + headsPerTask - 1) / headsPerTask;
    long work = (long) sp.batch() * sp.heads() * kLen * hd * 4;
    parallel(sp.batch() * sp.kvHeads() * parts, work, t -> {
      int bg = t / parts, b = bg / sp.kvHeads(), g = bg % sp.kvHeads(), h0 = g * group + (t % parts) * headsPerTask;
      int nh = Math.min(headsPerTask, (g + 1) * group - h0);
      int pos = positions == null ? sp.posOffset() : im[positions.offset() + b];
      int qo = q.offset() + b * sp.qStride() + h0 * hd, oo = out.offset() + b * sp.outStride() + h0 * hd;
      // the keys this query sees: [lo, hi], of which the padding mask may hide some
      int lo = sp.window() > 0 ? Math.max(0, pos - sp.window() + 1) : 0, hi = sp.causal() ? Math.min(kLen - 1, pos) : kLen - 1;
      if (lo > hi) { // a query that sees no key gets zeros
        Arrays.fill(x, oo, oo + nh * hd, 0f);
        return;
      }
      int kRow0 = k.offset() + b * sp.kvRows() * ks + g * hd, vRow0 = v.offset() + b * sp.kvRows() * ks + g * hd;
      int po = scratch0 + pool.slot() * perSlot, mask = keyMask == null ? -1 : keyMask.offset() + b * kLen;
      // whole vectors [j0, j1) around [lo, hi] for the softmax, lanes aligned as in the prefill kernels (the same sums)
      int j0 = lo / L * L, j1 = Math.min(kPad, (hi + L) / L * L);
      for (int r = 0; r < nh; r++) {
        Arrays.fill(x, po + r * kPad + j0, po + r * kPad + lo, Float.NEGATIVE_INFINITY);
        Arrays.fill(x, po + r * kPad + hi + 1, po + r * kPad + j1, Float.NEGATIVE_INFINITY);
      }
      scoresFromRows(x, im, qo, nh, hd, kRow0, ks, lo, hi + 1, sp.scale(), mask, po, kPad);
      for (int r = 0; r < nh; r++) {
        int base = po + r * kPad;
        float mx = max(x, base + j0, j1 - j0);
        if (mx == Float.NEGATIVE_INFINITY) {
          Arrays.fill(x, oo + r * hd, oo + (r + 1) * hd, 0f);
          continue;
        }
        float inv = (float) (1 / expShifted(x, base + j0, j1 - j0, mx));
        // the keys outside [lo, hi] have weight 0: skipping them leaves every sum as it was
        weightedValues(x, base + lo, hi + 1 - lo, vRow0 + lo * ks, ks, hd, inv, oo + r * hd);
      }
    });
  }

  /**
   * p[h * pitch + j] = scale * q_h . k_j + (0, or -inf where the padding mask hides key j) for keys j in [j0, j1) and
   * the nh query heads at qo (hd apart), key j's row at k0 + j * ks: eight keys' fma chains at a time, each over d in
   * order, as one lane of {@link #scores4} computes it. Each key row is read once, from where it lies, for all heads.
   */
  private static void scoresFromRows(float[] x, int[] im, int qo, int nh, int hd, int k0, int ks, int j0, int j1, float scale,
      int mask, int po, int pitch) {
    int h0 = 0;
    for (; h0 + 4 <= nh; h0 += 4) { // GQA: four heads share each load of a key (1.5x the 8-key kernel's FMAs per ns)
      int j = j0;
      for (; j + 4 <= j1; j += 4) scores4x4Rows(x, qo + h0 * hd, hd, k0 + j * ks, ks, scale, po + h0 * pitch + j, pitch);
      for (; j < j1; j++) for (int h = h0; h < h0 + 4; h++) x[po + h * pitch + j] = scoreRow(x, qo + h * hd, hd, k0 + j * ks, scale);
    }
    if (h0 < nh) { // the other heads (all of them without GQA): eight keys at a time
      int j = j0;
      for (; j + 8 <= j1; j += 8) {
        int r0 = k0 + j * ks;
        for (int h = h0; h < nh; h++) scores8Rows(x, qo + h * hd, hd, r0, ks, scale, po + h * pitch + j);
      }
      for (; j < j1; j++) for (int h = h0; h < nh; h++) x[po + h * pitch + j] = scoreRow(x, qo + h * hd, hd, k0 + j * ks, scale);
    }
    if (mask >= 0) { // the padding mask hides keys: -inf, as its additive row gives in the prefill kernels
      for (int i = j0; i < j1; i++) if (im[mask + i] == 0) for (int h = 0; h < nh; h++) x[po + h * pitch + i] = Float.NEGATIVE_INFINITY;
    }
  }

  /** One key's score (its row at r) against one query: one fma chain over d. */
  private static float scoreRow(float[] x, int qo, int hd, int r, float scale) {
    float a = 0;
    for (int d = 0; d < hd; d++) a = Math.fma(x[r + d], x[qo + d], a);
    return a * scale + 0f;
  }

  /**
   * Four keys' scores (rows ks apart from r0) against four query heads (hd apart from qo), into four rows pitch apart:
   * sixteen fma chains over d, each key value loaded once for the four heads.
   */
  private static void scores4x4Rows(float[] x, int qo, int hd, int r0, int ks, float scale, int o, int pitch) {
    int r1 = r0 + ks, r2 = r1 + ks, r3 = r2 + ks, q1 = qo + hd, q2 = q1 + hd, q3 = q2 + hd;
    float a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
    float a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
    for (int d = 0; d < hd; d++) {
      float k0 = x[r0 + d], k1 = x[r1 + d], k2 = x[r2 + d], k3 = x[r3 + d], q = x[qo + d];
      a00 = Math.fma(k0, q, a00);
      a01 = Math.fma(k1, q, a01);
      a02 = Math.fma(k2, q, a02);
      a03 = Math.fma(k3, q, a03);
      q = x[q1 + d];
      a10 = Math.fma(k0, q, a10);
      a11 = Math.fma(k1, q, a11);
      a12 = Math.fma(k2, q, a12);
      a13 = Math.fma(k3, q, a13);
      q = x[q2 + d];
      a20 = Math.fma(k0, q, a20);
      a21 = Math.fma(k1, q, a21);
      a22 = Math.fma(k2, q, a22);
      a23 = Math.fma(k3, q, a23);
      q = x[q3 + d];
      a30 = Math.fma(k0, q, a30);
      a31 = Math.fma(k1, q, a31);
      a32 = Math.fma(k2, q, a32);
      a33 = Math.fma(k3, q, a33);
    }
    put4(x, o, scale, a00, a01, a02, a03);
    put4(x, o + pitch, scale, a10, a11, a12, a13);
    put4(x, o + 2 * pitch, scale, a20, a21, a22, a23);
    put4(x, o + 3 * pitch, scale, a30, a31, a32, a33);
  }

  /** Eight keys' scores (rows ks apart from r0) against one query: eight independent fma chains over d (two FMA units' latency). */
  private static void scores8Rows(float[] x, int qo, int hd, int r0, int ks, float scale, int o) {
    int r1 = r0 + ks, r2 = r1 + ks, r3 = r2 + ks, r4 = r3 + ks, r5 = r4 + ks, r6 = r5 + ks, r7 = r6 + ks;
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (int d = 0; d < hd; d++) {
      float qd = x[qo + d];
      a0 = Math.fma(x[r0 + d], qd, a0);
      a1 = Math.fma(x[r1 + d], qd, a1);
      a2 = Math.fma(x[r2 + d], qd, a2);
      a3 = Math.fma(x[r3 + d], qd, a3);
      a4 = Math.fma(x[r4 + d], qd, a4);
      a5 = Math.fma(x[r5 + d], qd, a5);
      a6 = Math.fma(x[r6 + d], qd, a6);
      a7 = Math.fma(x[r7 + d], qd, a7);
    }
    put4(x, o, scale, a0, a1, a2, a3);
    put4(x, o + 4, scale, a4, a5, a6, a7);
  }

  private void attentionBlocks(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, IntTensor positions, Attention sp,
      int scratch0, int perSlot, int ktSize, int vvSize, int rowSize, int[] keyRows) {
    float[] x = mem; // after the scratch was allocated: the arena may have grown
    int[] im = imem;
    int hd = sp.headDim(), group = sp.heads() / sp.kvHeads(), kLen = sp.kLen(), kPad = (kLen + L - 1) / L * L;
    long work = (long) sp.batch() * sp.heads() * sp.qLen() * kLen * hd * 2;
    // a task per (batch entry, KV head): its keys transposed and values copied once for the query heads that share them
    int headsPerTask = headsPerTask(sp);
    int parts = (group + headsPerTask - 1) / headsPerTask;
    parallel(sp.batch() * sp.kvHeads() * parts, work, t -> {
      int bg = t / parts, b = bg / sp.kvHeads(), g = bg % sp.kvHeads(), h0 = g * group + (t % parts) * headsPerTask;
      int start = positions == null ? sp.posOffset() : im[positions.offset() + b];
      // this thread's buffers
      int kto = scratch0 + pool.slot() * perSlot, vvo = kto + ktSize, kao = vvo + vvSize, po = kao + rowSize;
      int kRow0 = k.offset() + b * sp.kvRows() * sp.kvStride() + g * hd;
      int vRow0 = v.offset() + b * sp.kvRows() * sp.kvStride() + g * hd;
      // the keys some query of this entry sees (causal, window), in whole vectors: only those are copied and scored
      int taskLo = sp.window() > 0 ? Math.max(0, start - sp.window() + 1) : 0;
      int taskHi = sp.causal() ? Math.min(kLen - 1, start + sp.qLen() - 1) : kLen - 1;
      int t0 = taskLo > taskHi ? 0 : taskLo / L * L, t1 = taskLo > taskHi ? 0 : Math.min(kPad, (taskHi + L) / L * L);
      transposeKeys(x, kRow0, keyRows, kLen, hd, kto, kPad, t0, t1);
      for (int j = t0; j < Math.min(t1, kLen); j++) {
        System.arraycopy(x, vRow0 + j * sp.kvStride(), x, vvo + j * hd, hd);
        // the padding mask as an additive row: -inf hides a key (and the padding up to whole vectors)
        x[kao + j] = keyMask != null && im[keyMask.offset() + b * kLen + j] == 0 ? Float.NEGATIVE_INFINITY : 0f;
      }
      Arrays.fill(x, kao + Math.max(t0, kLen), kao + Math.max(t1, kLen), Float.NEGATIVE_INFINITY);
      float[] inv = new float[8];
      boolean[] sees = new boolean[8];
      int qs = sp.qStride(), os = sp.outStride();
      for (int h = h0; h < Math.min(h0 + headsPerTask, (g + 1) * group); h++) {
        for (int i0 = 0, nq; i0 < sp.qLen(); i0 += nq) {
          // a block of 8 queries (then up to 4): their scores share each load of k^T, their outputs each load of v
          nq = Math.min(sp.qLen() - i0 >= 8 ? 8 : 4, sp.qLen() - i0);
          int qo = q.offset() + (b * sp.qLen() + i0) * qs + h * hd, oo = out.offset() + (b * sp.qLen() + i0) * os + h * hd;
          // the block's keys [j0, j1), whole vectors around those its queries see: a causal prefill scores half the
          // pairs. Skipped keys would have had weight 0 (every sum below is as it was) and whole -inf vectors (the max
          // and the lanes' exp sums too)
          int bLo = sp.window() > 0 ? Math.max(0, start + i0 - sp.window() + 1) : 0;
          int bHi = sp.causal() ? Math.min(kLen - 1, start + i0 + nq - 1) : kLen - 1;
          if (bLo > bHi) { // no query of the block sees a key: zeros
            for (int r = 0; r < nq; r++) Arrays.fill(x, oo + r * os, oo + r * os + hd, 0f);
            continue;
          }
          int j0 = bLo / L * L, j1 = Math.min(kPad, (bHi + L) / L * L), n = Math.min(j1, kLen) - j0;
          if (nq == 8) {
            int jv = j0;
            for (; jv + 2 * L <= j1; jv += 2 * L) scores8x2(x, qo, qs, kto, kPad, hd, jv, sp.scale(), kao, po);
            if (jv < j1) {
              scores4(x, qo, qs, kto, kPad, hd, jv, sp.scale(), kao, po);
              scores4(x, qo + 4 * qs, qs, kto, kPad, hd, jv, sp.scale(), kao, po + 4 * kPad);
            }
          } else if (nq == 4) {
            int jv = j0;
            for (; jv + 2 * L <= j1; jv += 2 * L) scores4x2(x, qo, qs, kto, kPad, hd, jv, sp.scale(), kao, po);
            if (jv < j1) scores4(x, qo, qs, kto, kPad, hd, jv, sp.scale(), kao, po);
          } else {
            int jv = j0;
            for (; jv + 2 * L <= j1; jv += 2 * L) for (int r = 0; r < nq; r++) scores1x2(x, qo + r * qs, kto, kPad, hd, jv, sp.scale(), kao, po + r * kPad);
            for (; jv < j1; jv += L) for (int r = 0; r < nq; r++) scoresVector(x, qo + r * qs, kto, kPad, hd, jv, sp.scale(), kao, po + r * kPad);
          }
          boolean all = nq >= 4;
          for (int r = 0; r < nq; r++) {
            // keys [lo, hi] are visible to this query (causal, sliding window); the padding mask is in the scores
            int pos = start + i0 + r, base = po + r * kPad;
            int lo = sp.window() > 0 ? Math.max(0, pos - sp.window() + 1) : 0, hi = sp.causal() ? Math.min(kLen - 1, pos) : kLen - 1;
            if (lo > j0) Arrays.fill(x, base + j0, base + Math.min(lo, j1), Float.NEGATIVE_INFINITY);
            // (keys kLen .. kPad are -inf already: keyAdd put them in every score)
            if (hi + 1 < Math.min(kLen, j1)) Arrays.fill(x, base + Math.max(j0, hi + 1), base + Math.min(kLen, j1), Float.NEGATIVE_INFINITY);
            float mx = max(x, base + j0, j1 - j0);
            sees[r] = mx != Float.NEGATIVE_INFINITY;
            if (!sees[r]) { // a query that sees no key gets zeros
              Arrays.fill(x, oo + r * os, oo + r * os + hd, 0f);
              all = false;
              continue;
            }
            inv[r] = (float) (1 / expShifted(x, base + j0, j1 - j0, mx));
          }
          // the value kernels over keys [j0, j0 + n): their weights and value rows from j0 on
          int pj = po + j0, vj = vvo + j0 * hd;
          if (all && nq == 8) {
            int d = 0;
            for (; d + 2 * L <= hd; d += 2 * L) values8x2(x, pj, kPad, n, vj, hd, d, inv, oo + d, os);
            for (; d + L <= hd; d += L) {
              values4(x, pj, kPad, n, vj, hd, d, inv, 0, oo + d, os);
              values4(x, pj, kPad, n, vj, hd, d, inv, 4, oo + 4 * os + d, os);
            }
            for (; d < hd; d++) for (int r = 0; r < 8; r++) x[oo + r * os + d] = valueScalar(x, pj + r * kPad, n, vj, hd, d) * inv[r];
          } else if (all) {
            int d = 0;
            for (; d + 2 * L <= hd; d += 2 * L) values4x2(x, pj, kPad, n, vj, hd, d, inv, oo + d, os);
            for (; d + L <= hd; d += L) values4(x, pj, kPad, n, vj, hd, d, inv, 0, oo + d, os);
            for (; d < hd; d++) for (int r = 0; r < 4; r++) x[oo + r * os + d] = valueScalar(x, pj + r * kPad, n, vj, hd, d) * inv[r];
          } else {
            for (int r = 0; r < nq; r++) if (sees[r]) weightedValues(x, pj + r * kPad, n, vj, hd, hd, inv[r], oo + r * os);
          }
        }
      }
    });
  }

  /**
   * k^T of one head at x[kto..]: [d][j] = k_j[d] for the keys j in [g0, g1) (whole vectors; key j's row at
   * {@code k0 + keyRows[j]}), {@code kPad} columns per row, the padding columns past kLen zero (zero keys, whose scores the mask row makes -inf; stale
   * values could be inf or NaN). A vector of L keys' values at one d is one gather: 2.5 times faster than element by
   * element (0.2 against 0.5 ns a value, more in place, where k^T is a fifth of a short sequence's attention).
   */
  private static void transposeKeys(float[] x, int k0, int[] keyRows, int kLen, int hd, int kto, int kPad, int g0, int g1) {
    FloatVector zero = FloatVector.zero(F);
    for (int g = g0; g < g1; g += L) {
      VectorMask<Float> real = F.indexInRange(g, kLen); // the padding lanes read the last key: blended to zero
      for (int d = 0; d < hd; d++) zero.blend(FloatVector.fromArray(F, x, k0 + d, keyRows, g), real).intoArray(x, kto + d * kPad + g);
    }
  }


  /** Scores of 4 consecutive queries (rows qs apart) against L keys: one load of k^T feeds 4 independent FMA chains. */
  private static void scores4(float[] x, int qo, int qs, int kto, int kPad, int hd, int jv, float scale, int kao, int po) {
    FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
    for (int d = 0; d < hd; d++) {
      FloatVector k = FloatVector.fromArray(F, x, kto + d * kPad + jv);
      a0 = k.fma(FloatVector.broadcast(F, x[qo + d]), a0);
      a1 = k.fma(FloatVector.broadcast(F, x[qo + qs + d]), a1);
      a2 = k.fma(FloatVector.broadcast(F, x[qo + 2 * qs + d]), a2);
      a3 = k.fma(FloatVector.broadcast(F, x[qo + 3 * qs + d]), a3);
    }
    FloatVector m = FloatVector.fromArray(F, x, kao + jv);
    a0.mul(scale).add(m).intoArray(x, po + jv);
    a1.mul(scale).add(m).intoArray(x, po + kPad + jv);
    a2.mul(scale).add(m).intoArray(x, po + 2 * kPad + jv);
    a3.mul(scale).add(m).intoArray(x, po + 3 * kPad + jv);
  }

  /**
   * Scores of 8 queries against 2L keys: 2 loads of k^T and 8 broadcasts feed 16 independent FMA chains (twice the
   * work per load of {@link #scores4x2}, and enough chains to cover the FMA latency). Each score is the same sum in
   * the same order as in the 4-query kernels.
   */
  private static void scores8x2(float[] x, int qo, int qs, int kto, int kPad, int hd, int jv, float scale, int kao, int po) {
    FloatVector z = FloatVector.zero(F), q;
    FloatVector a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z, a4 = z, b4 = z, a5 = z, b5 = z, a6 = z, b6 = z, a7 = z, b7 = z;
    for (int d = 0; d < hd; d++) {
      FloatVector k0 = FloatVector.fromArray(F, x, kto + d * kPad + jv), k1 = FloatVector.fromArray(F, x, kto + d * kPad + jv + L);
      q = FloatVector.broadcast(F, x[qo + d]);
      a0 = k0.fma(q, a0);
      b0 = k1.fma(q, b0);
      q = FloatVector.broadcast(F, x[qo + 1 * qs + d]);
      a1 = k0.fma(q, a1);
      b1 = k1.fma(q, b1);
      q = FloatVector.broadcast(F, x[qo + 2 * qs + d]);
      a2 = k0.fma(q, a2);
      b2 = k1.fma(q, b2);
      q = FloatVector.broadcast(F, x[qo + 3 * qs + d]);
      a3 = k0.fma(q, a3);
      b3 = k1.fma(q, b3);
      q = FloatVector.broadcast(F, x[qo + 4 * qs + d]);
      a4 = k0.fma(q, a4);
      b4 = k1.fma(q, b4);
      q = FloatVector.broadcast(F, x[qo + 5 * qs + d]);
      a5 = k0.fma(q, a5);
      b5 = k1.fma(q, b5);
      q = FloatVector.broadcast(F, x[qo + 6 * qs + d]);
      a6 = k0.fma(q, a6);
      b6 = k1.fma(q, b6);
      q = FloatVector.broadcast(F, x[qo + 7 * qs + d]);
      a7 = k0.fma(q, a7);
      b7 = k1.fma(q, b7);
    }
    FloatVector m0 = FloatVector.fromArray(F, x, kao + jv), m1 = FloatVector.fromArray(F, x, kao + jv + L);
    a0.mul(scale).add(m0).intoArray(x, po + 0 * kPad + jv);
    b0.mul(scale).add(m1).intoArray(x, po + 0 * kPad + jv + L);
    a1.mul(scale).add(m0).intoArray(x, po + 1 * kPad + jv);
    b1.mul(scale).add(m1).intoArray(x, po + 1 * kPad + jv + L);
    a2.mul(scale).add(m0).intoArray(x, po + 2 * kPad + jv);
    b2.mul(scale).add(m1).intoArray(x, po + 2 * kPad + jv + L);
    a3.mul(scale).add(m0).intoArray(x, po + 3 * kPad + jv);
    b3.mul(scale).add(m1).intoArray(x, po + 3 * kPad + jv + L);
    a4.mul(scale).add(m0).intoArray(x, po + 4 * kPad + jv);
    b4.mul(scale).add(m1).intoArray(x, po + 4 * kPad + jv + L);
    a5.mul(scale).add(m0).intoArray(x, po + 5 * kPad + jv);
    b5.mul(scale).add(m1).intoArray(x, po + 5 * kPad + jv + L);
    a6.mul(scale).add(m0).intoArray(x, po + 6 * kPad + jv);
    b6.mul(scale).add(m1).intoArray(x, po + 6 * kPad + jv + L);
    a7.mul(scale).add(m0).intoArray(x, po + 7 * kPad + jv);
    b7.mul(scale).add(m1).intoArray(x, po + 7 * kPad + jv + L);
  }

  /** Scores of 4 queries against 2L keys: 2 loads of k^T and 4 broadcasts feed 8 FMAs (the loads, not the FMAs, bound these loops). */
  private static void scores4x2(float[] x, int qo, int qs, int kto, int kPad, int hd, int jv, float scale, int kao, int po) {
    FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int d = 0; d < hd; d++) {
      FloatVector k0 = FloatVector.fromArray(F, x, kto + d * kPad + jv), k1 = FloatVector.fromArray(F, x, kto + d * kPad + jv + L);
      FloatVector q = FloatVector.broadcast(F, x[qo + d]);
      a0 = k0.fma(q, a0);
      b0 = k1.fma(q, b0);
      q = FloatVector.broadcast(F, x[qo + qs + d]);
      a1 = k0.fma(q, a1);
      b1 = k1.fma(q, b1);
      q = FloatVector.broadcast(F, x[qo + 2 * qs + d]);
      a2 = k0.fma(q, a2);
      b2 = k1.fma(q, b2);
      q = FloatVector.broadcast(F, x[qo + 3 * qs + d]);
      a3 = k0.fma(q, a3);
      b3 = k1.fma(q, b3);
    }
    FloatVector m0 = FloatVector.fromArray(F, x, kao + jv), m1 = FloatVector.fromArray(F, x, kao + jv + L);
    a0.mul(scale).add(m0).intoArray(x, po + jv);
    b0.mul(scale).add(m1).intoArray(x, po + jv + L);
    a1.mul(scale).add(m0).intoArray(x, po + kPad + jv);
    b1.mul(scale).add(m1).intoArray(x, po + kPad + jv + L);
    a2.mul(scale).add(m0).intoArray(x, po + 2 * kPad + jv);
    b2.mul(scale).add(m1).intoArray(x, po + 2 * kPad + jv + L);
    a3.mul(scale).add(m0).intoArray(x, po + 3 * kPad + jv);
    b3.mul(scale).add(m1).intoArray(x, po + 3 * kPad + jv + L);
  }

  /** Two vectors of 8 queries' outputs: 2 loads of a value row and 8 broadcasts feed 16 FMA chains. */
  private static void values8x2(float[] x, int po, int kPad, int kLen, int vvo, int hd, int d, float[] inv, int oo, int os) {
    FloatVector z = FloatVector.zero(F), w;
    FloatVector a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z, a4 = z, b4 = z, a5 = z, b5 = z, a6 = z, b6 = z, a7 = z, b7 = z;
    for (int j = 0; j < kLen; j++) {
      FloatVector v0 = FloatVector.fromArray(F, x, vvo + j * hd + d), v1 = FloatVector.fromArray(F, x, vvo + j * hd + d + L);
      w = FloatVector.broadcast(F, x[po + j]);
      a0 = v0.fma(w, a0);
      b0 = v1.fma(w, b0);
      w = FloatVector.broadcast(F, x[po + 1 * kPad + j]);
      a1 = v0.fma(w, a1);
      b1 = v1.fma(w, b1);
      w = FloatVector.broadcast(F, x[po + 2 * kPad + j]);
      a2 = v0.fma(w, a2);
      b2 = v1.fma(w, b2);
      w = FloatVector.broadcast(F, x[po + 3 * kPad + j]);
      a3 = v0.fma(w, a3);
      b3 = v1.fma(w, b3);
      w = FloatVector.broadcast(F, x[po + 4 * kPad + j]);
      a4 = v0.fma(w, a4);
      b4 = v1.fma(w, b4);
      w = FloatVector.broadcast(F, x[po + 5 * kPad + j]);
      a5 = v0.fma(w, a5);
      b5 = v1.fma(w, b5);
      w = FloatVector.broadcast(F, x[po + 6 * kPad + j]);
      a6 = v0.fma(w, a6);
      b6 = v1.fma(w, b6);
      w = FloatVector.broadcast(F, x[po + 7 * kPad + j]);
      a7 = v0.fma(w, a7);
      b7 = v1.fma(w, b7);
    }
    a0.mul(inv[0]).intoArray(x, oo + 0 * os);
    b0.mul(inv[0]).intoArray(x, oo + 0 * os + L);
    a1.mul(inv[1]).intoArray(x, oo + 1 * os);
    b1.mul(inv[1]).intoArray(x, oo + 1 * os + L);
    a2.mul(inv[2]).intoArray(x, oo + 2 * os);
    b2.mul(inv[2]).intoArray(x, oo + 2 * os + L);
    a3.mul(inv[3]).intoArray(x, oo + 3 * os);
    b3.mul(inv[3]).intoArray(x, oo + 3 * os + L);
    a4.mul(inv[4]).intoArray(x, oo + 4 * os);
    b4.mul(inv[4]).intoArray(x, oo + 4 * os + L);
    a5.mul(inv[5]).intoArray(x, oo + 5 * os);
    b5.mul(inv[5]).intoArray(x, oo + 5 * os + L);
    a6.mul(inv[6]).intoArray(x, oo + 6 * os);
    b6.mul(inv[6]).intoArray(x, oo + 6 * os + L);
    a7.mul(inv[7]).intoArray(x, oo + 7 * os);
    b7.mul(inv[7]).intoArray(x, oo + 7 * os + L);
  }

  /** Two vectors of 4 queries' outputs: 2 loads of a value row and 4 broadcasts feed 8 FMAs. */
  private static void values4x2(float[] x, int po, int kPad, int kLen, int vvo, int hd, int d, float[] inv, int oo, int os) {
    FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int j = 0; j < kLen; j++) {
      FloatVector v0 = FloatVector.fromArray(F, x, vvo + j * hd + d), v1 = FloatVector.fromArray(F, x, vvo + j * hd + d + L);
      FloatVector w = FloatVector.broadcast(F, x[po + j]);
      a0 = v0.fma(w, a0);
      b0 = v1.fma(w, b0);
      w = FloatVector.broadcast(F, x[po + kPad + j]);
      a1 = v0.fma(w, a1);
      b1 = v1.fma(w, b1);
      w = FloatVector.broadcast(F, x[po + 2 * kPad + j]);
      a2 = v0.fma(w, a2);
      b2 = v1.fma(w, b2);
      w = FloatVector.broadcast(F, x[po + 3 * kPad + j]);
      a3 = v0.fma(w, a3);
      b3 = v1.fma(w, b3);
    }
    a0.mul(inv[0]).intoArray(x, oo);
    b0.mul(inv[0]).intoArray(x, oo + L);
    a1.mul(inv[1]).intoArray(x, oo + os);
    b1.mul(inv[1]).intoArray(x, oo + os + L);
    a2.mul(inv[2]).intoArray(x, oo + 2 * os);
    b2.mul(inv[2]).intoArray(x, oo + 2 * os + L);
    a3.mul(inv[3]).intoArray(x, oo + 3 * os);
    b3.mul(inv[3]).intoArray(x, oo + 3 * os + L);
  }

  /** One vector of 4 queries' outputs: one load of a value row feeds 4 FMA chains. */
  private static void values4(float[] x, int po, int kPad, int kLen, int vvo, int hd, int d, float[] inv, int r0, int oo, int os) {
    FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
    int pb = r0 * kPad;
    for (int j = 0; j < kLen; j++) {
      FloatVector v = FloatVector.fromArray(F, x, vvo + j * hd + d);
      a0 = v.fma(FloatVector.broadcast(F, x[po + pb + j]), a0);
      a1 = v.fma(FloatVector.broadcast(F, x[po + pb + kPad + j]), a1);
      a2 = v.fma(FloatVector.broadcast(F, x[po + pb + 2 * kPad + j]), a2);
      a3 = v.fma(FloatVector.broadcast(F, x[po + pb + 3 * kPad + j]), a3);
    }
    a0.mul(inv[r0]).intoArray(x, oo);
    a1.mul(inv[r0 + 1]).intoArray(x, oo + os);
    a2.mul(inv[r0 + 2]).intoArray(x, oo + 2 * os);
    a3.mul(inv[r0 + 3]).intoArray(x, oo + 3 * os);
  }

  /** One output of a query: its kLen weights at base against the value rows vs apart from vvo, at column d. */
  private static float valueScalar(float[] x, int base, int kLen, int vvo, int vs, int d) {
    float acc = 0;
    for (int j = 0; j < kLen; j++) acc = Math.fma(x[base + j], x[vvo + j * vs + d], acc);
    return acc;
  }

  /**
   * p[jv, jv + 2L) = scale * q . k_j + keyAdd[j] for 2L keys of one query: two FMA chains (one per vector of keys), each
   * score the same sum in the same order as in the 4- and 8-query kernels, so a query's scores do not depend on how
   * many queries its block had (a sequence's length, its batch).
   */
  private static void scores1x2(float[] x, int qo, int kto, int kPad, int hd, int jv, float scale, int kao, int po) {
    FloatVector a0 = FloatVector.zero(F), a1 = a0;
    for (int d = 0; d < hd; d++) {
      FloatVector q = FloatVector.broadcast(F, x[qo + d]);
      a0 = FloatVector.fromArray(F, x, kto + d * kPad + jv).fma(q, a0);
      a1 = FloatVector.fromArray(F, x, kto + d * kPad + jv + L).fma(q, a1);
    }
    a0.mul(scale).add(FloatVector.fromArray(F, x, kao + jv)).intoArray(x, po + jv);
    a1.mul(scale).add(FloatVector.fromArray(F, x, kao + jv + L)).intoArray(x, po + jv + L);
  }

  /** {@link #scores1x2} for the last L keys. */
  private static void scoresVector(float[] x, int qo, int kto, int kPad, int hd, int jv, float scale, int kao, int po) {
    FloatVector a0 = FloatVector.zero(F);
    for (int d = 0; d < hd; d++) a0 = FloatVector.fromArray(F, x, kto + d * kPad + jv).fma(FloatVector.broadcast(F, x[qo + d]), a0);
    a0.mul(scale).add(FloatVector.fromArray(F, x, kao + jv)).intoArray(x, po + jv);
  }

  private static float max(float[] p, int base, int n) {
    FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
    for (int j = 0; j < n; j += L) m = m.max(FloatVector.fromArray(F, p, base + j));
    return m.reduceLanes(VectorOperators.MAX);
  }

  /** p[j] = exp(p[j] - mx) in place over whole vectors; returns their sum. */
  private static double expShifted(float[] p, int base, int n, float mx) {
    FloatVector s = FloatVector.zero(F);
    for (int j = base; j < base + n; j += L) {
      FloatVector e = expNonPositive(FloatVector.fromArray(F, p, j).sub(mx));
      e.intoArray(p, j);
      s = s.add(e);
    }
    return s.reduceLanes(VectorOperators.ADD);
  }

  /**
   * out[0, hd) = inv * sum_j p[j] vv[j, :] over kLen keys, vv the head's value rows vs apart (the contiguous copy, or
   * the cache itself; invisible keys have p[j] = 0): each output the same sum in the same order as in the 4- and
   * 8-query kernels (one chain over the keys in order).
   */
  private static void weightedValues(float[] x, int base, int kLen, int vvo, int vs, int hd, float inv, int oo) {
    int d = 0;
    for (; d + 2 * L <= hd; d += 2 * L) weightedValues2(x, base, kLen, vvo, vs, d, inv, oo + d);
    for (; d + L <= hd; d += L) weightedValuesVector(x, base, kLen, vvo, vs, d, inv, oo + d);
    for (; d < hd; d++) x[oo + d] = valueScalar(x, base, kLen, vvo, vs, d) * inv;
  }

  /**
   * Two vectors of the output, one chain each. A method of its own: C2 (JDK 17) keeps the accumulators in registers
   * here, but boxes them (the Vector API's slow Java path, 10x slower) inside the loop over d.
   */
  private static void weightedValues2(float[] x, int base, int kLen, int vvo, int vs, int d, float inv, int oo) {
    FloatVector a0 = FloatVector.zero(F), a1 = a0;
    for (int j = 0; j < kLen; j++) {
      FloatVector w = FloatVector.broadcast(F, x[base + j]);
      a0 = FloatVector.fromArray(F, x, vvo + j * vs + d).fma(w, a0);
      a1 = FloatVector.fromArray(F, x, vvo + j * vs + d + L).fma(w, a1);
    }
    a0.mul(inv).intoArray(x, oo);
    a1.mul(inv).intoArray(x, oo + L);
  }

  /** One vector of the output (see {@link #weightedValues2}). */
  private static void weightedValuesVector(float[] x, int base, int kLen, int vvo, int vs, int d, float inv, int oo) {
    FloatVector a0 = FloatVector.zero(F);
    for (int j = 0; j < kLen; j++) a0 = FloatVector.fromArray(F, x, vvo + j * vs + d).fma(FloatVector.broadcast(F, x[base + j]), a0);
    a0.mul(inv).intoArray(x, oo);
  }

  private static float dot(float[] a, int ao, float[] b, int bo, int n) {
    int j = 0;
    float r;
    if (n >= L) {
      FloatVector s = FloatVector.zero(F);
      for (; j + L <= n; j += L) s = FloatVector.fromArray(F, a, ao + j).fma(FloatVector.fromArray(F, b, bo + j), s);
      r = s.reduceLanes(VectorOperators.ADD);
    } else {
      r = 0;
    }
    for (; j < n; j++) r = Math.fma(a[ao + j], b[bo + j], r);
    return r;
  }

  /** Rotary embedding: the reference's arithmetic exactly (cos/sin of the float angle, rounded to float). */
  @Override
  protected void ropeImpl(Tensor t, int rows, int heads, int headDim, int rowStride, IntTensor positions, Tensor invFreq) {
    float[] x = mem;
    int half = headDim / 2;
    parallel(rows, (long) rows * heads * headDim * 8, r -> {
      int pos = imem[positions.offset() + r];
      float[] cos = new float[half], sin = new float[half];
      for (int i = 0; i < half; i++) {
        float ang = pos * x[invFreq.offset() + i];
        cos[i] = (float) Math.cos(ang);
        sin[i] = (float) Math.sin(ang);
      }
      for (int h = 0; h < heads; h++) {
        int base = t.offset() + r * rowStride + h * headDim;
        for (int i = 0; i < half; i++) {
          float x1 = x[base + i], x2 = x[base + i + half];
          x[base + i] = x1 * cos[i] - x2 * sin[i];
          x[base + i + half] = x2 * cos[i] + x1 * sin[i];
        }
      }
    });
  }

  // ---- embeddings, pooling, selection ----

  @Override
  protected void gatherImpl(Tensor out, Tensor table, IntTensor ids, int n, int vocab, int dim, boolean accumulate) {
    float[] x = mem;
    for (int i = 0; i < n; i++) {
      int id = imem[ids.offset() + i], oo = out.offset() + i * dim;
      boolean ok = id >= 0 && id < vocab;
      if (!accumulate) {
        if (ok) System.arraycopy(x, table.offset() + id * dim, x, oo, dim);
        else Arrays.fill(x, oo, oo + dim, 0f);
      } else if (ok) {
        int to = table.offset() + id * dim, d = 0;
        for (; d + L <= dim; d += L) FloatVector.fromArray(F, x, oo + d).add(FloatVector.fromArray(F, x, to + d)).intoArray(x, oo + d);
        for (; d < dim; d++) x[oo + d] += x[to + d];
      }
    }
  }

  @Override
  protected void gather16Impl(Tensor out, HalfTensor table, IntTensor ids, int n, int vocab, int dim) {
    DType t = table.dtype();
    char[] h = t == DType.F32 ? null : banks[table.bank()];
    for (int i = 0; i < n; i++) {
      int id = imem[ids.offset() + i], oo = out.offset() + i * dim;
      if (id < 0 || id >= vocab) {
        Arrays.fill(mem, oo, oo + dim, 0f);
        continue;
      }
      int panel = table.panel();
      if (panel != 0) { // packed as a Linear weight ([panels][dim][panel], upload16Linear): row id is a column of its panel
        int to = table.offset() + (id / panel) * dim * panel + id % panel;
        for (int d = 0; d < dim; d++) mem[oo + d] = t.toFloat(h[to + d * panel]);
        continue;
      }
      int to = table.offset() + id * dim;
      if (h == null) System.arraycopy(floatBanks[table.bank()], to, mem, oo, dim);
      else for (int d = 0; d < dim; d++) mem[oo + d] = t.toFloat(h[to + d]);
    }
  }

  @Override
  protected void meanPoolImpl(Tensor out, Tensor t, IntTensor mask, int batch, int seq, int dim) {
    float[] x = mem;
    parallel(batch, (long) batch * seq * dim, b -> {
      int count = 0;
      for (int s = 0; s < seq; s++) count += imem[mask.offset() + b * seq + s];
      float[] acc = new float[dim];
      for (int s = 0; s < seq; s++) {
        int w = imem[mask.offset() + b * seq + s];
        if (w == 0) continue;
        int xo = t.offset() + (b * seq + s) * dim, d = 0;
        for (; d + L <= dim; d += L) FloatVector.fromArray(F, x, xo + d).fma(FloatVector.broadcast(F, (float) w), FloatVector.fromArray(F, acc, d)).intoArray(acc, d);
        for (; d < dim; d++) acc[d] = Math.fma(x[xo + d], w, acc[d]);
      }
      float div = (float) Math.max(count, 1e-9);
      for (int d = 0; d < dim; d++) x[out.offset() + b * dim + d] = acc[d] / div;
    });
  }

  /** Per row: one pass keeping the k best in order (insertion), with the reference's order (ties: lower index). */
  @Override
  protected void topKImpl(Tensor vals, IntTensor ids, Tensor t, int rows, int cols, int k) {
    float[] x = mem;
    parallel(rows, (long) rows * cols, r -> {
      int base = t.offset() + r * cols, vo = vals.offset() + r * k, io = ids.offset() + r * k;
      int kept = Math.min(k, cols);
      float[] bv = new float[kept];
      int[] bi = new int[kept];
      int n = 0, j = 0;
      while (j < cols) {
        if (n == kept && j + L <= cols) {
          // once k values are kept, a vector of values matters only if one is above the k-th or NaN (first for
          // Float.compare): a tie with it comes later, so after it
          FloatVector v = FloatVector.fromArray(F, x, base + j);
          if (!v.compare(VectorOperators.GT, bv[n - 1]).or(v.compare(VectorOperators.NE, v)).anyTrue()) {
            j += L;
            continue;
          }
          for (int end = j + L; j < end; j++) n = offer(x[base + j], j, bv, bi, n);
        } else {
          n = offer(x[base + j], j, bv, bi, n);
          j++;
        }
      }
      for (int s = 0; s < k; s++) {
        x[vo + s] = s < kept ? bv[s] : OpsKernel.NEG_BIG;
        imem[io + s] = s < kept ? bi[s] : -1;
      }
    });
  }

  /** Value v at index i offered to the n best so far (bv, bi: in order, room for bv.length): the new count. */
  private static int offer(float v, int i, float[] bv, int[] bi, int n) {
    int kept = bv.length;
    if (n == kept && !before(v, i, bv[n - 1], bi[n - 1])) return n;
    int at = n == kept ? n - 1 : n++;
    while (at > 0 && before(v, i, bv[at - 1], bi[at - 1])) {
      bv[at] = bv[at - 1];
      bi[at] = bi[at - 1];
      at--;
    }
    bv[at] = v;
    bi[at] = i;
    return n;
  }

  /** The reference's order: larger value first (Float.compare), equal values by lower index. */
  private static boolean before(float v, int i, float w, int j) {
    return v != w ? Float.compare(v, w) > 0 : i < j;
  }
}
