package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every {@link CpuOps} op against its {@link JavaOps} twin on awkward sizes (1, 7, 63, 1023, 1025: not multiples of the
 * vector width 8 or 16, the 3-vector matmul panel or the 4-row block), with the same per-op tolerances as the OpenCL
 * kernels: |cpu - java| <= tol * max(1, |java|). Three threads, so that the split of every op is exercised even on a
 * 2-core machine.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CpuOpsParityTest {
  private CpuOps cpu;
  private CpuOps cpuOutMajor;
  private JavaOps java;
  private final Random rnd = new Random(7);

  @BeforeAll
  void open() {
    cpu = new CpuOps(3);
    cpuOutMajor = new CpuOps(3, EngineConfig.defaults().withLinearLayout("out-major"));
    java = new JavaOps();
    assertEquals("cpu", cpu.device().kind());
  }

  @AfterAll
  void close() {
    cpu.close();
    cpuOutMajor.close();
    java.close();
  }

  private float[] random(int n, float scale) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (rnd.nextFloat() * 2 - 1) * scale;
    return x;
  }

  private void parity(String op, double tol, Function<Ops, float[]> run) { parity(op, tol, cpu, run); }

  private void parity(String op, double tol, Ops engine, Function<Ops, float[]> run) {
    float[] expected, actual;
    try (Ops.Scope s = java.scope()) {
      expected = run.apply(java);
    }
    try (Ops.Scope s = engine.scope()) {
      actual = run.apply(engine);
    }
    assertEquals(expected.length, actual.length, op + " output length");
    double worst = 0;
    int at = -1;
    for (int i = 0; i < expected.length; i++) {
      double err = Math.abs(expected[i] - actual[i]) / Math.max(1, Math.abs(expected[i]));
      if (!(err <= worst)) {
        worst = err;
        at = i;
      }
    }
    assertTrue(worst <= tol, op + ": worst relative error " + worst + " at " + at + " (java " + (at >= 0 ? expected[at] : 0)
        + ", cpu " + (at >= 0 ? actual[at] : 0) + ") exceeds " + tol);
  }

  private static Tensor in(Ops ops, float[] data) {
    Tensor t = ops.alloc(data.length);
    ops.write(t, data);
    return t;
  }

  private static IntTensor in(Ops ops, int[] data) {
    IntTensor t = ops.allocInts(data.length);
    ops.write(t, data);
    return t;
  }

  @ParameterizedTest(name = "matmul m={0} n={1} k={2} transB={3} bias={4}")
  @CsvSource({"1,1,1,true,false", "1,7,63,true,true", "7,63,1025,true,true", "1023,9,65,true,false", "33,384,384,true,true",
      "9,17,8,true,true", "15,3,15,true,false", "1,1,1,false,true", "63,1023,7,false,true", "17,1025,33,false,false",
      "33,384,384,false,true", "130,1536,384,false,true", "5,49,17,false,false", "17,100,2600,false,true"})
  void matmul(int m, int n, int k, boolean transB, boolean bias) {
    float[] a = random(m * k, 1), b = random(n * k, 1), c = random(n, 1);
    parity("matmul", 2e-6 * Math.sqrt(k) + 1e-6, ops -> {
      Tensor out = ops.alloc(m * n);
      ops.matmul(out, in(ops, a), in(ops, b), bias ? in(ops, c) : null, m, n, k, transB);
      return ops.read(out);
    });
  }

  @ParameterizedTest(name = "linear rows={0} out={1} in={2} outMajor={3}")
  @CsvSource({"1,7,63,false", "63,1025,7,false", "7,33,1023,true", "130,384,384,true", "130,384,384,false", "19,100,4100,false",
      "70,96,3000,false"})
  void linearInEitherLayout(int rows, int out, int in, boolean outMajor) {
    float[] w = random(out * in, 1), bias = random(out, 1), x = random(rows * in, 1);
    CpuOps engine = outMajor ? cpuOutMajor : cpu;
    LinearWeight jw = java.uploadLinear(w, out, in), cw = engine.uploadLinear(w, out, in);
    assertEquals(!outMajor, cw.banked() != null && cw.banked().panel() == CpuOps.PANEL, "layout: packed panels in a float bank");
    assertEquals(outMajor, cw.data() != null, "layout: out-major in the float arena");
    Tensor jb = java.upload(bias), cb = engine.upload(bias);
    parity("linear", 2e-6 * Math.sqrt(in) + 1e-6, engine, ops -> {
      Tensor o = ops.alloc(rows * out);
      ops.linear(o, in(ops, x), ops == java ? jw : cw, ops == java ? jb : cb, rows);
      return ops.read(o);
    });
  }

  @ParameterizedTest(name = "linear16 rows={0} n={1} k={2} {3} bias={4}")
  @CsvSource({"1,1,1,BF16,false", "1,7,63,BF16,true", "7,63,1025,F16,true", "33,384,384,BF16,false", "5,130,64,F16,true", "40,130,64,F16,true", "67,2048,16,BF16,true", "32,49,1025,BF16,false",
      "4,3,32,BF16,false", "9,2048,16,F16,false", "35,100,4100,BF16,true", "40,96,2500,F16,false"})
  void linear16(int rows, int n, int k, DType dt, boolean bias) {
    char[] w = new char[n * k];
    for (int i = 0; i < w.length; i++) w[i] = dt.fromFloat((rnd.nextFloat() * 2 - 1) * 0.5f);
    float[] x = random(rows * k, 1), b = random(n, 1);
    HalfTensor jw = java.upload16(w, dt), cw = cpu.upload16(w, dt);
    parity("linear16 " + dt, 2e-6 * Math.sqrt(k) + 1e-6, ops -> {
      Tensor o = ops.alloc(rows * n);
      ops.linear16(o, in(ops, x), ops == java ? jw : cw, bias ? in(ops, b) : null, rows, n, k);
      return ops.read(o);
    });
    // packed at upload (what the models' Linear layers use): the Java engine keeps its layout, the CPU engine packs
    HalfTensor jp = java.upload16Linear(w, dt, n, k), cp = cpu.upload16Linear(w, dt, n, k);
    assertEquals(0, jp.panel());
    assertEquals(CpuOps.PANEL, cp.panel());
    parity("packed linear16 " + dt, 2e-6 * Math.sqrt(k) + 1e-6, ops -> {
      Tensor o = ops.alloc(rows * n);
      ops.linear16(o, in(ops, x), ops == java ? jp : cp, bias ? in(ops, b) : null, rows, n, k);
      return ops.read(o);
    });
    // every row count sums in one order: each row alone, rows in fours, and the whole call give the same bits, and so
    // does the row-major weight (the same panels, widened by transposing)
    float[] whole = linear16Rows(cp, x, b, bias, 0, rows, n, k);
    for (int r = 0; r < rows; r++) {
      assertArrayEquals(Arrays.copyOfRange(whole, r * n, (r + 1) * n), linear16Rows(cp, x, b, bias, r, 1, n, k), "row " + r + " alone");
    }
    for (int r = 0; r + 4 <= rows; r += 4) {
      assertArrayEquals(Arrays.copyOfRange(whole, r * n, (r + 4) * n), linear16Rows(cp, x, b, bias, r, 4, n, k), "rows " + r + "..+4");
    }
    assertArrayEquals(whole, linear16Rows(cw, x, b, bias, 0, rows, n, k), "row-major weight, " + rows + " rows");
    assertArrayEquals(Arrays.copyOfRange(whole, 0, n), linear16Rows(cw, x, b, bias, 0, 1, n, k), "row-major weight, row 0 alone");
  }

  /** Rows [r0, r0 + rows) of x through the CPU engine's linear16 with weight w. */
  private float[] linear16Rows(HalfTensor w, float[] x, float[] b, boolean bias, int r0, int rows, int n, int k) {
    try (Ops.Scope s = cpu.scope()) {
      Tensor o = cpu.alloc(rows * n);
      cpu.linear16(o, in(cpu, Arrays.copyOfRange(x, r0 * k, (r0 + rows) * k)), w, bias ? in(cpu, b) : null, rows, n, k);
      return cpu.read(o);
    }
  }

  /** Every bf16 and f16 bit pattern widens in vector registers to exactly the float the reference gives. */
  @ParameterizedTest(name = "widening every {0} pattern")
  @EnumSource(value = DType.class, names = {"BF16", "F16"})
  void wideningIsExactForEveryPattern(DType dt) {
    char[] all = new char[1 << 16];
    for (int i = 0; i < all.length; i++) all[i] = (char) i;
    for (int off = 0; off < all.length; off += CpuOps.L) {
      float[] got = new float[CpuOps.L];
      CpuOps.widen(all, off, dt == DType.F16).intoArray(got, 0);
      for (int l = 0; l < CpuOps.L; l++) {
        int want = Float.floatToRawIntBits(dt.toFloat(all[off + l])), have = Float.floatToRawIntBits(got[l]);
        if (Float.isNaN(dt.toFloat(all[off + l]))) assertTrue(Float.isNaN(got[l]), "NaN pattern " + (off + l));
        else assertEquals(want, have, dt + " pattern 0x" + Integer.toHexString(off + l));
      }
    }
  }

  @ParameterizedTest(name = "elementwise n={0}")
  @CsvSource({"1", "7", "63", "1025", "100003"})
  void elementwise(int n) {
    float[] a = random(n, 3), b = random(n, 3);
    parity("add", 0, ops -> {
      Tensor x = in(ops, a);
      ops.add(x, x, in(ops, b), n);
      return ops.read(x);
    });
    parity("mul", 0, ops -> {
      Tensor o = ops.alloc(n);
      ops.mul(o, in(ops, a), in(ops, b), n);
      return ops.read(o);
    });
    parity("scale", 0, ops -> {
      Tensor o = ops.alloc(n);
      ops.scale(o, in(ops, a), 0.125f, n);
      return ops.read(o);
    });
    parity("copy", 0, ops -> {
      Tensor o = ops.alloc(n);
      ops.copy(o, in(ops, a), n);
      return ops.read(o);
    });
  }

  @ParameterizedTest(name = "activation {0}")
  @EnumSource(Activation.class)
  void activation(Activation act) {
    int n = 100003;
    float[] a = random(n, 8);
    a[0] = 0;
    a[1] = -20;
    a[2] = 20;
    a[3] = -5.5f;
    parity("activation " + act, 1e-6, ops -> {
      Tensor x = in(ops, a);
      ops.activation(act, x, x, n);
      return ops.read(x);
    });
  }

  @ParameterizedTest(name = "norms rows={0} dim={1}")
  @CsvSource({"1,1", "7,7", "3,63", "5,384", "2,1023", "1,1025", "63,129", "300,384"})
  void norms(int rows, int dim) {
    float[] x = random(rows * dim, 4), g = random(dim, 1), b = random(dim, 1);
    for (int i = 0; i < x.length; i++) x[i] += 2.5f;
    parity("layerNorm", 2e-5, ops -> {
      Tensor out = ops.alloc(rows * dim);
      ops.layerNorm(out, in(ops, x), in(ops, g), in(ops, b), rows, dim, 1e-12f);
      return ops.read(out);
    });
    parity("layerNorm no beta, in place", 2e-5, ops -> {
      Tensor t = in(ops, x);
      ops.layerNorm(t, t, in(ops, g), null, rows, dim, 1e-5f);
      return ops.read(t);
    });
    parity("rmsNorm", 1e-5, ops -> {
      Tensor out = ops.alloc(rows * dim);
      ops.rmsNorm(out, in(ops, x), in(ops, g), rows, dim, 1e-6f);
      return ops.read(out);
    });
    parity("l2Normalize", 1e-6, ops -> {
      Tensor out = ops.alloc(rows * dim);
      ops.l2Normalize(out, in(ops, x), rows, dim);
      return ops.read(out);
    });
  }

  @ParameterizedTest(name = "softmax rows={0} cols={1} T={2} log={3} mask={4}")
  @CsvSource({"1,1,1,false,none", "7,7,1,false,shared", "3,1023,2,true,none", "2,1025,0.5,true,perRow", "5,50257,1,true,none",
      "4,63,1,false,perRow", "3,129,0.7,false,shared", "300,64,1,false,none"})
  void softmax(int rows, int cols, float t, boolean log, String mask) {
    float[] x = random(rows * cols, 6);
    float[] m = new float[mask.equals("perRow") ? rows * cols : cols];
    for (int i = 0; i < m.length; i++) m[i] = rnd.nextInt(4) == 0 ? -3.4028235e38f : 0f;
    if (m.length > 0) m[0] = 0f;
    if (mask.equals("perRow")) for (int r = 0; r < rows; r++) m[r * cols] = 0f;
    parity("softmax", log ? 2e-5 : 2e-6, ops -> {
      Tensor out = ops.alloc(rows * cols);
      ops.softmax(out, in(ops, x), mask.equals("none") ? null : in(ops, m), mask.equals("perRow"), rows, cols, t, log);
      return ops.read(out);
    });
  }

  @ParameterizedTest(name = "attention b={0} q={1} k={2} h={3} kvh={4} d={5} causal={6} pos={7} window={8} padded={9}")
  @CsvSource({"1,1,1,1,1,1,false,0,0,false", "2,7,7,3,3,16,false,0,0,true", "3,63,63,4,2,8,true,0,0,true",
      "1,1,65,4,1,32,true,64,0,false", "2,17,17,2,2,7,true,0,8,false", "1,5,1025,2,1,4,true,1020,0,false",
      "4,129,129,12,12,32,false,0,0,true", "2,9,9,2,1,64,true,0,0,false", "1,3,40,2,2,80,false,0,0,true",
      "2,24,40,2,2,48,false,0,0,true", "1,16,16,2,1,20,true,0,0,false", "1,33,33,1,1,80,false,0,0,true", "3,30,30,12,12,32,false,0,0,true",
      // one query (a decode step's shape, the CPU engine's own path): padded, GQA, a window, head sizes off the vector width,
      // a query whose window lies past the keys (it sees none: zeros)
      "3,1,40,4,2,24,false,0,0,true", "2,1,50,8,2,16,true,45,8,false", "4,1,33,6,6,7,true,20,0,true", "1,1,10,2,1,8,true,30,4,false",
      "2,1,130,4,4,128,true,129,0,false",
      // queries past the keys with a window: the first see a few, the last none (blocks of 8 whose key ranges are cut)
      "1,9,10,2,1,8,true,8,3,false", "2,20,40,2,2,16,true,30,6,true"})
  void attention(int b, int q, int kLen, int h, int kvh, int d, boolean causal, int pos, int window, boolean padded) {
    Attention sp = new Attention(b, q, kLen, h, kvh, d, h * d, kvh * d, h * d, causal, pos, window, (float) (1 / Math.sqrt(d)));
    float[] qx = random(b * q * h * d, 2), kx = random(b * kLen * kvh * d, 2), vx = random(b * kLen * kvh * d, 2);
    int[] mask = new int[b * kLen];
    for (int i = 0; i < b; i++) {
      int len = padded ? Math.max(1, kLen - i * kLen / (b + 1)) : kLen;
      for (int j = 0; j < len; j++) mask[i * kLen + j] = 1;
    }
    parity("attention", 5e-6, ops -> {
      Tensor out = ops.alloc(b * q * h * d);
      ops.attention(out, in(ops, qx), in(ops, kx), in(ops, vx), padded ? in(ops, mask) : null, ops.alloc((int) sp.scoresSize()), sp);
      return ops.read(out);
    });
  }

  /**
   * The engine's attention buffers live in its arena and are not zeroed: arena memory that last held NaN and infinities
   * must not leak into a result (k^T's padding columns, past the last key, are zeroed by each task).
   */
  @Test
  void attentionOverStaleArenaMemory() {
    int b = 2, q = 9, kLen = 20, h = 3, d = 16;
    float[] qx = random(b * q * h * d, 2), kx = random(b * kLen * h * d, 2), vx = random(b * kLen * h * d, 2);
    int[] mask = new int[b * kLen];
    for (int j = 0; j < kLen + 11; j++) mask[j] = 1; // entry 0 sees all 20 keys, entry 1 its first 11
    Attention spec = new Attention(b, q, kLen, h, h, d, h * d, h * d, h * d, false, 0, 0, 0.25f);
    try (Ops.Scope s = cpu.scope()) { // fills the arena past the live tensors with NaN and -inf
      Tensor junk = cpu.alloc(1 << 20);
      float[] bad = new float[1 << 20];
      for (int i = 0; i < bad.length; i++) bad[i] = i % 3 == 0 ? Float.NaN : i % 3 == 1 ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
      cpu.write(junk, bad);
    }
    parity("attention over stale arena memory", 5e-6, ops -> {
      Tensor out = ops.alloc(b * q * h * d);
      ops.attention(out, in(ops, qx), in(ops, kx), in(ops, vx), in(ops, mask), ops.alloc((int) spec.scoresSize()), spec);
      float[] o = ops.read(out);
      for (float f : o) assertTrue(Float.isFinite(f), "a non-finite output");
      return o;
    });
  }

  @Test
  void attentionOverFusedQkvWithStrides() {
    int b = 2, s = 9, h = 3, d = 5, w = h * d;
    float[] qkv = random(b * s * 3 * w, 1);
    Attention sp = Attention.selfAttention(b, s, h, d, false).withStrides(3 * w, 3 * w, w);
    parity("attention fused qkv", 5e-6, ops -> {
      Tensor t = in(ops, qkv);
      Tensor out = ops.alloc(b * s * w);
      ops.attention(out, t, t.slice(w, t.size() - w), t.slice(2 * w, t.size() - 2 * w), null, ops.alloc((int) sp.scoresSize()), sp);
      return ops.read(out);
    });
  }

  /**
   * A decode step (one query over the cache) gives the bits the prefill gave the same query over the same keys: its
   * scores are the same fma chains over d in the same order (scalar per key there, in lanes here), its softmax sums the
   * same lanes. Over a cache of exactly the keys seen and over a longer one (a ragged batch's longest entry).
   */
  @ParameterizedTest(name = "decode step equals prefill seq={0} h={1} kvh={2} d={3} window={4}")
  @CsvSource({"37,4,1,64,0", "70,4,2,24,0", "33,2,2,80,16", "5,3,3,7,0", "20,2,1,128,0"})
  void decodeStepGivesThePrefillsBits(int seq, int h, int kvh, int d, int window) {
    float[] qx = random(seq * h * d, 2), kx = random(seq * kvh * d, 2), vx = random(seq * kvh * d, 2);
    float scale = (float) (1 / Math.sqrt(d));
    try (Ops.Scope s = cpu.scope()) {
      Tensor q = in(cpu, qx), k = in(cpu, kx), v = in(cpu, vx), out = cpu.alloc(seq * h * d), one = cpu.alloc(h * d);
      Attention prefill = new Attention(1, seq, seq, h, kvh, d, h * d, kvh * d, h * d, true, 0, window, scale);
      cpu.attention(out, q, k, v, null, cpu.alloc((int) prefill.scoresSize()), prefill);
      float[] all = cpu.read(out);
      for (int i = 0; i < seq; i++) {
        int kLen = i % 2 == 0 ? i + 1 : seq;
        Attention step = new Attention(1, 1, kLen, h, kvh, d, h * d, kvh * d, h * d, true, 0, window, scale).withCacheRows(seq);
        cpu.attention(one, q.slice(i * h * d, h * d), k, v, null, in(cpu, new int[] {i}), cpu.alloc((int) step.scoresSize()), step);
        assertArrayEquals(Arrays.copyOfRange(all, i * h * d, (i + 1) * h * d), cpu.read(one), "query " + i + " over " + kLen + " keys");
      }
    }
  }

  /** A KV cache with ragged per-entry positions: cacheWrite of new rows, rope at their positions, attention over the cache. */
  @ParameterizedTest(name = "cached attention with ragged positions qLen={0}")
  @CsvSource({"2", "1"})
  void cachedAttentionWithRaggedPositions(int qLen) {
    int batch = 3, heads = 4, kvHeads = 2, hd = 16, rows = 12, w = kvHeads * hd;
    int[] pos = {0, 5, 9};
    float[] cacheInit = random(batch * rows * w, 1), newK = random(batch * qLen * w, 1), q = random(batch * qLen * heads * hd, 1);
    int[] ropePos = new int[batch * qLen];
    for (int b = 0; b < batch; b++) for (int i = 0; i < qLen; i++) ropePos[b * qLen + i] = pos[b] + i;
    float[] inv = Rope.invFreq(hd, 500000f, null);
    parity("cached attention", 5e-6, ops -> {
      Tensor cache = in(ops, cacheInit), k = in(ops, newK), qt = in(ops, q), invFreq = in(ops, inv);
      IntTensor p = in(ops, pos), rp = in(ops, ropePos);
      ops.rope(k, batch * qLen, kvHeads, hd, w, rp, invFreq);
      ops.rope(qt, batch * qLen, heads, hd, heads * hd, rp, invFreq);
      ops.cacheWrite(cache, k, p, batch, qLen, w, w, rows);
      Attention sp = new Attention(batch, qLen, rows, heads, kvHeads, hd, heads * hd, w, heads * hd, true, 0, 0, 0.25f);
      Tensor out = ops.alloc(batch * qLen * heads * hd);
      ops.attention(out, qt, cache, cache, null, p, ops.alloc((int) sp.scoresSize()), sp);
      float[] o = ops.read(out), c = ops.read(cache);
      float[] both = new float[o.length + c.length];
      System.arraycopy(o, 0, both, 0, o.length);
      System.arraycopy(c, 0, both, o.length, c.length);
      return both;
    });
  }

  @ParameterizedTest(name = "gather n={0} vocab={1} dim={2}")
  @CsvSource({"1,1,1", "7,63,7", "63,1025,384", "1025,30,3"})
  void gather(int n, int vocab, int dim) {
    float[] table = random(vocab * dim, 1), base = random(n * dim, 1);
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) ids[i] = rnd.nextInt(vocab + 2) - 1; // out-of-range ids read zeros
    parity("gather", 0, ops -> {
      Tensor out = ops.alloc(n * dim);
      ops.gather(out, in(ops, table), in(ops, ids), n, vocab, dim, false);
      return ops.read(out);
    });
    parity("gather accumulate", 0, ops -> {
      Tensor out = in(ops, base);
      ops.gather(out, in(ops, table), in(ops, ids), n, vocab, dim, true);
      return ops.read(out);
    });
    char[] t16 = new char[vocab * dim];
    for (int i = 0; i < t16.length; i++) t16[i] = DType.BF16.fromFloat(table[i]);
    HalfTensor jt = java.upload16(t16, DType.BF16), ct = cpu.upload16(t16, DType.BF16);
    parity("gather16", 0, ops -> {
      Tensor out = ops.alloc(n * dim);
      ops.gather16(out, ops == java ? jt : ct, in(ops, ids), n, vocab, dim);
      return ops.read(out);
    });
    // a table that is also a tied head: packed in panels as a Linear weight [vocab, dim], gathered from that layout
    for (DType dt : new DType[] {DType.BF16, DType.F16}) {
      char[] h = new char[vocab * dim];
      for (int i = 0; i < h.length; i++) h[i] = dt.fromFloat(table[i]);
      HalfTensor jp = java.upload16Linear(h, dt, vocab, dim), cp = cpu.upload16Linear(h, dt, vocab, dim);
      assertEquals(CpuOps.PANEL, cp.panel(), "the CPU engine packs it");
      parity("gather16 from a packed " + dt + " table", 0, ops -> {
        Tensor out = ops.alloc(n * dim);
        ops.gather16(out, ops == java ? jp : cp, in(ops, ids), n, vocab, dim);
        return ops.read(out);
      });
    }
    try (Ops.Scope sc = java.scope()) {
      Tensor out = java.alloc(n * dim);
      IntTensor in = in(java, ids);
      HalfTensor foreign = new HalfTensor(jt.bank(), jt.offset(), jt.size(), DType.BF16, CpuOps.PANEL);
      assertThrows(IllegalArgumentException.class, () -> java.gather16(out, foreign, in, n, vocab, dim), "a table packed by another engine");
    }
  }

  @ParameterizedTest(name = "meanPool b={0} s={1} d={2}")
  @CsvSource({"1,1,1", "7,7,63", "3,257,384", "2,1025,7"})
  void meanPool(int b, int s, int d) {
    float[] x = random(b * s * d, 3);
    int[] mask = new int[b * s];
    for (int i = 0; i < b; i++) for (int j = 0; j < Math.max(1, s - i * 3); j++) mask[i * s + j] = 1;
    parity("meanPool", 2e-6, ops -> {
      Tensor out = ops.alloc(b * d);
      ops.meanPool(out, in(ops, x), in(ops, mask), b, s, d);
      return ops.read(out);
    });
  }

  @ParameterizedTest(name = "topK rows={0} cols={1} k={2}")
  @CsvSource({"1,1,1", "7,63,20", "3,1025,20", "2,50257,20", "1,5,7"})
  void topK(int rows, int cols, int k) {
    float[] x = random(rows * cols, 10);
    for (int i = 0; i + 7 < x.length; i += 13) x[i + 7] = x[i]; // ties: lower index first
    int[][] ids = new int[2][];
    parity("topK values", 0, ops -> {
      Tensor vals = ops.alloc(rows * k);
      IntTensor idx = ops.allocInts(rows * k);
      ops.topK(vals, idx, in(ops, x), rows, cols, k);
      ids[ops == java ? 0 : 1] = ops.read(idx);
      return ops.read(vals);
    });
    assertArrayEquals(ids[0], ids[1], "topK indices");
  }

  /** NaN (first for Float.compare), infinities, both zeros and long runs of equal values: the same picks, in order. */
  @ParameterizedTest(name = "topK special values cols={0} k={1}")
  @CsvSource({"1000,20", "333,1", "64,63"})
  void topKSpecialValues(int cols, int k) {
    float[] pool = {Float.NEGATIVE_INFINITY, -1f, -0f, 0f, 1f, 2f, Float.POSITIVE_INFINITY, Float.NaN};
    int rows = 4;
    float[] x = new float[rows * cols];
    for (int r = 0; r < rows; r++) {
      for (int j = 0; j < cols; j++) {
        int i = r * cols + j;
        x[i] = r == 0 ? pool[(j * 7) % 6] // no NaN or +inf: the k-th value ties with most of the row
            : r == 1 ? pool[(j * 31 + 5) % pool.length] : r == 2 ? (j % 97 == 50 ? Float.NaN : j % 5) : -j;
      }
    }
    int[][] ids = new int[2][];
    float[][] vals = new float[2][];
    for (Ops ops : List.of(java, cpu)) {
      try (Ops.Scope s = ops.scope()) {
        Tensor v = ops.alloc(rows * k);
        IntTensor idx = ops.allocInts(rows * k);
        ops.topK(v, idx, in(ops, x), rows, cols, k);
        ids[ops == java ? 0 : 1] = ops.read(idx);
        vals[ops == java ? 0 : 1] = ops.read(v);
      }
    }
    assertArrayEquals(ids[0], ids[1], "topK indices");
    assertArrayEquals(vals[0], vals[1], "topK values"); // NaN equals NaN here
  }

  /**
   * Over a k long enough that the CPU engine takes the weights a block of k at a time (k > 2,048), a row's output is
   * bit for bit the same whichever rows share its batch: alone, among 9 or among 19 (blocks of 8 rows, tail rows).
   */
  @Test
  void linearRowsAreBatchInvariantOverLongK() {
    int out = 100, in = 4100, rows = 19;
    float[] w = random(out * in, 1), bias = random(out, 1), x = random(rows * in, 1);
    LinearWeight cw = cpu.uploadLinear(w, out, in);
    Tensor cb = cpu.upload(bias);
    float[] all;
    try (Ops.Scope s = cpu.scope()) {
      Tensor o = cpu.alloc(rows * out);
      cpu.linear(o, in(cpu, x), cw, cb, rows);
      all = cpu.read(o);
    }
    for (int first : new int[] {0, 10}) {
      int n = first == 0 ? 1 : 9;
      float[] part;
      try (Ops.Scope s = cpu.scope()) {
        Tensor o = cpu.alloc(n * out);
        cpu.linear(o, in(cpu, Arrays.copyOfRange(x, first * in, (first + n) * in)), cw, cb, n);
        part = cpu.read(o);
      }
      assertArrayEquals(Arrays.copyOfRange(all, first * out, (first + n) * out), part, "rows " + first + ".." + (first + n - 1));
    }
  }

  /**
   * A sequence's attention, bit for bit, whatever the padded length it runs at: its queries fall into blocks of 8, 4 or
   * fewer depending on that length, and every block kernel sums in the same order (head dims 40 and 64: whole vectors,
   * pairs of vectors and a scalar tail at 16 or 8 lanes).
   */
  @ParameterizedTest(name = "attention padding-invariant len={0} d={1}")
  @CsvSource({"13, 64", "5, 40", "30, 40", "2, 64"})
  void attentionDoesNotDependOnThePaddedLength(int len, int d) {
    int h = 3, w = h * d;
    float[] one = random(len * 3 * w, 2);
    float[] alone = null;
    for (int seq : new int[] {len, len + 1, len + 7, 2 * len + 19}) {
      float[] qkv = new float[2 * seq * 3 * w]; // the sequence, then one of length 1, each padded to seq with noise
      float[] noise = random(qkv.length, 5);
      System.arraycopy(noise, 0, qkv, 0, qkv.length);
      System.arraycopy(one, 0, qkv, 0, one.length);
      int[] mask = new int[2 * seq];
      for (int i = 0; i < len; i++) mask[i] = 1;
      mask[seq] = 1;
      Attention sp = Attention.selfAttention(2, seq, h, d, false).withStrides(3 * w, 3 * w, w);
      float[] got;
      try (Ops.Scope s = cpu.scope()) {
        Tensor t = in(cpu, qkv), out = cpu.alloc(2 * seq * w);
        IntTensor km = cpu.allocInts(mask.length);
        cpu.write(km, mask);
        cpu.attention(out, t, t.slice(w, t.size() - w), t.slice(2 * w, t.size() - 2 * w), km, cpu.alloc((int) sp.scoresSize()), sp);
        got = Arrays.copyOf(cpu.read(out), len * w);
      }
      if (alone == null) alone = got;
      else assertArrayEquals(alone, got, "the first " + len + " rows padded to " + seq);
    }
  }

  @Test
  void oneThreadComputesTheSame() {
    try (CpuOps one = new CpuOps(1)) {
      float[] a = random(70 * 96, 1), b = random(96 * 200, 1);
      parity("matmul on one thread", 2e-6 * Math.sqrt(96) + 1e-6, one, ops -> {
        Tensor out = ops.alloc(70 * 200);
        ops.matmul(out, in(ops, a), in(ops, b), null, 70, 200, 96, false);
        return ops.read(out);
      });
    }
  }

  /** The heap engines' arenas are Java arrays: scratch beyond one device buffer's 1 GiB (a large vocabulary's logits). */
  @Test
  void theHeapEngineHoldsMoreThanADeviceBuffer() {
    try (CpuOps big = new CpuOps(1); Ops.Scope s = big.scope()) {
      Tensor t = big.alloc(ArenaOps.MAX_FLOATS + 1024);
      big.write(t.slice(ArenaOps.MAX_FLOATS + 1000, 3), new float[] {1, 2, 3});
      assertArrayEquals(new float[] {1, 2, 3}, big.read(t.slice(ArenaOps.MAX_FLOATS + 1000, 3)));
    }
  }

  /**
   * Linear with the activation fused (applied per output block while in cache): the reference's Linear then activation,
   * and the CPU engine's own two ops within float rounding (not bit for bit: the Vector API's EXP and TANH give
   * different last bits in interpreted or C1 code, where they fall back to Math.exp per lane, than in C2's vector code).
   */
  @ParameterizedTest(name = "linear + {3} rows={0} out={1} in={2}")
  @CsvSource({"1,7,63,GELU_ERF", "9,49,17,GELU_TANH", "63,1025,7,QUICK_GELU", "130,1536,384,GELU_ERF", "33,96,33,SILU", "8,48,5,RELU"})
  void linearWithActivation(int rows, int out, int in, Activation act) {
    float[] w = random(out * in, 1), bias = random(out, 1), x = random(rows * in, 1);
    LinearWeight jw = java.uploadLinear(w, out, in), cw = cpu.uploadLinear(w, out, in);
    Tensor jb = java.upload(bias), cb = cpu.upload(bias);
    Function<Ops, float[]> fused = ops -> {
      Tensor o = ops.alloc(rows * out);
      ops.linear(o, in(ops, x), ops == java ? jw : cw, ops == java ? jb : cb, rows, act);
      return ops.read(o);
    };
    parity("linear + " + act, 2e-6 * Math.sqrt(in) + 1e-6, fused);
    float[] one, two;
    try (Ops.Scope s = cpu.scope()) {
      one = fused.apply(cpu);
    }
    try (Ops.Scope s = cpu.scope()) {
      Tensor o = cpu.alloc(rows * out);
      cpu.linear(o, in(cpu, x), cw, cb, rows);
      cpu.activation(act, o, o, rows * out);
      two = cpu.read(o);
    }
    assertClose(two, one, 1e-6, "fused linear + " + act + " against linear then activation on the CPU engine");
  }

  /**
   * The residual add and LayerNorm in one pass: the sum kept in a, out = layerNorm(sum), out aliasing b (pre-LN blocks)
   * or a separate tensor; against the reference's two ops, and the CPU engine's own two within float rounding (a lane
   * reduction's order may differ between C2's vector code and the Vector API's Java fallback).
   */
  @ParameterizedTest(name = "add + layerNorm rows={0} dim={1} outIsB={2}")
  @CsvSource({"1,1,false", "7,7,true", "3,63,false", "5,384,true", "2,1023,false", "63,129,true", "300,384,false"})
  void addLayerNorm(int rows, int dim, boolean outIsB) {
    float[] a = random(rows * dim, 4), b = random(rows * dim, 4), g = random(dim, 1), beta = random(dim, 1);
    for (int i = 0; i < a.length; i++) a[i] += 2.5f;
    Function<Ops, float[]> fused = ops -> {
      Tensor ta = in(ops, a), tb = in(ops, b), out = outIsB ? tb : ops.alloc(rows * dim);
      ops.addLayerNorm(out, ta, tb, in(ops, g), in(ops, beta), rows, dim, 1e-12f);
      return concat(ops.read(out), ops.read(ta));
    };
    parity("add + layerNorm", 2e-5, fused);
    float[] one, two;
    try (Ops.Scope s = cpu.scope()) {
      one = fused.apply(cpu);
    }
    try (Ops.Scope s = cpu.scope()) {
      Tensor ta = in(cpu, a), tb = in(cpu, b), out = outIsB ? tb : cpu.alloc(rows * dim);
      cpu.add(ta, ta, tb, rows * dim);
      cpu.layerNorm(out, ta, in(cpu, g), in(cpu, beta), rows, dim, 1e-12f);
      two = concat(cpu.read(out), cpu.read(ta));
    }
    assertClose(two, one, 1e-6, "fused add + layerNorm against add then layerNorm on the CPU engine");
  }

  private static void assertClose(float[] expected, float[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    for (int i = 0; i < expected.length; i++) {
      double err = Math.abs(expected[i] - actual[i]) / Math.max(1, Math.abs(expected[i]));
      assertTrue(err <= tol, what + ": " + actual[i] + " against " + expected[i] + " at " + i);
    }
  }

  private static float[] concat(float[] x, float[] y) {
    float[] r = Arrays.copyOf(x, x.length + y.length);
    System.arraycopy(y, 0, r, x.length, y.length);
    return r;
  }

  /**
   * Float32 weights in float banks ({@link Ops#uploadBanked}): Linear and gather against the Java engine; on both
   * engines the banked Linear is bit for bit the float-arena matmul with a transposed b (the same dot products).
   */
  @ParameterizedTest(name = "banked f32 linear rows={0} n={1} k={2} bias={3}")
  @CsvSource({"1,37,53,true", "7,37,53,false", "33,37,53,true", "1,1,1,false", "40,130,64,true", "9,1025,17,false", "67,2048,16,true"})
  void bankedF32Linear(int rows, int n, int k, boolean bias) {
    float[] w = random(n * k, 1), x = random(rows * k, 1), b = random(n, 1);
    HalfTensor jw = java.uploadBanked(w), cw = cpu.uploadBanked(w);
    parity("banked f32 linear", 2e-6 * Math.sqrt(k) + 1e-6, ops -> {
      Tensor o = ops.alloc(rows * n);
      ops.linear16(o, in(ops, x), ops == java ? jw : cw, bias ? in(ops, b) : null, rows, n, k);
      return ops.read(o);
    });
    for (ArenaOps ops : new ArenaOps[] {java, cpu}) {
      Tensor arenaW = ops.upload(w);
      try (Ops.Scope s = ops.scope()) {
        Tensor xs = in(ops, x), bs = bias ? in(ops, b) : null, banked = ops.alloc(rows * n), arena = ops.alloc(rows * n);
        ops.linear(banked, xs, LinearWeight.banked(ops == java ? jw : cw, n, k), bs, rows);
        ops.matmul(arena, xs, arenaW, bs, rows, n, k, true);
        assertArrayEquals(ops.read(arena), ops.read(banked), ops.device() + ": banked f32 linear = the float-arena matmul");
      }
    }
  }

  @ParameterizedTest(name = "banked f32 gather n={0} vocab={1} dim={2}")
  @CsvSource({"1,37,53", "7,37,53", "33,37,53", "1,1,1", "1025,30,3"})
  void bankedF32Gather(int n, int vocab, int dim) {
    float[] table = random(vocab * dim, 1);
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) ids[i] = rnd.nextInt(vocab + 2) - 1; // out-of-range ids read zeros
    HalfTensor jt = java.uploadBanked(table), ct = cpu.uploadBanked(table);
    parity("banked f32 gather", 0, ops -> {
      Tensor out = ops.alloc(n * dim);
      ops.gather16(out, ops == java ? jt : ct, in(ops, ids), n, vocab, dim);
      return ops.read(out);
    });
  }

  /** Float32 weights over several float banks (of 4,096 floats here): each op reads the right bank; a ninth is refused. */
  @Test
  void floatWeightsAcrossBanks() {
    try (JavaOps j2 = new JavaOps(); CpuOps c2 = new CpuOps(3)) {
      j2.bankMax = 4096;
      c2.bankMax = 4096;
      int n = 37, k = 53; // 1,961 floats: two tensors per bank
      HalfTensor[][] ts = new HalfTensor[2][16];
      for (int i = 0; i < 16; i++) {
        float[] w = random(n * k, 1);
        ts[0][i] = j2.uploadBanked(w);
        ts[1][i] = c2.uploadBanked(w);
        assertEquals(i / 2, ts[1][i].bank(), "tensor " + i + " in bank " + i / 2);
      }
      int[] ids = {0, 36, 5, -1, 37, 12, 1};
      for (int rows : new int[] {7, 33}) {
        float[] x = random(rows * k, 1);
        for (int i = 0; i < 16; i++) {
          float[][] out = new float[2][], got = new float[2][];
          int o = 0;
          for (Ops ops : new Ops[] {j2, c2}) {
            try (Ops.Scope s = ops.scope()) {
              Tensor y = ops.alloc(rows * n), g = ops.alloc(ids.length * k);
              ops.linear16(y, in(ops, x), ts[o][i], null, rows, n, k);
              ops.gather16(g, ts[o][i], in(ops, ids), ids.length, n, k);
              out[o] = ops.read(y);
              got[o++] = ops.read(g);
            }
          }
          for (int e = 0; e < out[0].length; e++) {
            assertEquals(out[0][e], out[1][e], (2e-6 * Math.sqrt(k) + 1e-6) * Math.max(1, Math.abs(out[0][e])), "tensor " + i + " rows " + rows);
          }
          assertArrayEquals(got[0], got[1], "gather from tensor " + i);
        }
      }
      DeviceMemoryException full = org.junit.jupiter.api.Assertions.assertThrows(DeviceMemoryException.class, () -> c2.uploadBanked(new float[3000]));
      assertTrue(full.getMessage().contains("all 8 float banks"), full.getMessage());
    }
  }
}
