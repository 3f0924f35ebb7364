package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every AparapiOps kernel against its JavaOps twin on awkward sizes (1, 7, 63, 1023, 1025: not multiples of the
 * work-group sizes 16, 64 and 128), each op with its own tolerance: |aparapi - java| <= tol * max(1, |java|).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpsParityTest {
  private AparapiOps cl;
  private JavaOps java;
  private final Random rnd = new Random(42);

  @BeforeAll
  void open() {
    cl = new AparapiOps(OpenCLTestSupport.device(), true);
    java = new JavaOps();
    assertTrue(cl.device().isOpenCL(), "AparapiOps must report an OpenCL device");
  }

  @AfterAll
  void close() {
    if (cl != null) {
      assertFalse(cl.fellBack(), "a kernel fell back to Java threads");
      cl.close();
    }
    if (java != null) java.close();
  }

  private float[] random(int n, float scale) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (rnd.nextFloat() * 2 - 1) * scale;
    return x;
  }

  /** Runs the same op on both Ops (inputs written fresh to each), compares the outputs. */
  private void parity(String op, double tol, Function<Ops, float[]> run) {
    // -Dsparkinfer.test.skip=REGEX: leave out the cases whose name matches (to isolate a kernel that crashes a new driver)
    String skip = System.getProperty("sparkinfer.test.skip");
    org.junit.jupiter.api.Assumptions.assumeTrue(skip == null || !op.matches(skip), "skipped by -Dsparkinfer.test.skip");
    float[] expected;
    float[] actual;
    try (Ops.Scope s = java.scope()) {
      expected = run.apply(java);
    }
    try (Ops.Scope s = cl.scope()) {
      actual = run.apply(cl);
    }
    assertTrue(cl.device().isOpenCL() && !cl.fellBack(), op + " did not run on OpenCL");
    assertEquals(expected.length, actual.length, op + " output length");
    double worst = 0;
    int worstAt = -1;
    for (int i = 0; i < expected.length; i++) {
      double err = Math.abs(expected[i] - actual[i]) / Math.max(1, Math.abs(expected[i]));
      if (!(err <= worst)) {
        worst = err;
        worstAt = i;
      }
    }
    assertTrue(worst <= tol, op + ": worst relative error " + worst + " at " + worstAt + " (java " + (worstAt >= 0 ? expected[worstAt] : 0)
        + ", opencl " + (worstAt >= 0 ? actual[worstAt] : 0) + ") exceeds " + tol);
  }

  /**
   * The kernel variants to compare: the CPU kind, and the GPU kind where its work-group barriers are safe (everywhere
   * but PoCL with its default loopvec method; the kernels module's second test run sets POCL_WORK_GROUP_METHOD=loops so
   * that PoCL checks them too).
   */
  private String[] variants(String cpuKind, String gpuKind) {
    return cl.barriersSafe() ? new String[] {cpuKind, gpuKind} : new String[] {cpuKind};
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

  @ParameterizedTest(name = "matmul m={0} n={1} k={2} transB={3} bias={4} kernel={5}")
  @CsvSource({"1,1,1,true,false,dot", "1,7,63,true,true,dot", "7,63,1025,true,true,dot", "1023,9,65,true,false,dot",
      "33,384,384,true,true,dot", "9,17,8,true,true,dot", "15,3,15,true,false,dot",
      "1,1,1,true,false,tiled", "1,7,63,true,true,tiled", "7,63,1025,true,true,tiled", "1023,9,65,true,false,tiled",
      "33,384,384,true,true,tiled", "63,1023,7,false,true,auto", "17,1025,33,false,false,auto", "33,384,384,true,true,auto"})
  void matmul(int m, int n, int k, boolean transB, boolean bias, String kernel) {
    org.junit.jupiter.api.Assumptions.assumeTrue(!kernel.equals("tiled") || cl.barriersSafe(),
        "the tiled matmul uses barriers: checked on PoCL only with POCL_WORK_GROUP_METHOD=loops");
    float[] a = random(m * k, 1), b = random(n * k, 1), c = random(n, 1);
    withProperty("sparkinfer.matmul.kernel", kernel, () -> parity("matmul " + kernel, 2e-6 * Math.sqrt(k) + 1e-6, ops -> {
      Tensor out = ops.alloc(m * n);
      ops.matmul(out, in(ops, a), in(ops, b), bias ? in(ops, c) : null, m, n, k, transB);
      return ops.read(out);
    }));
  }

  @ParameterizedTest(name = "linear rows={0} out={1} in={2} layout={3}")
  @CsvSource({"1,7,63,in-major", "63,1025,7,in-major", "7,33,1023,out-major", "130,384,384,out-major", "130,384,384,auto"})
  void linearInEitherLayout(int rows, int out, int in, String layout) {
    float[] w = random(out * in, 1), bias = random(out, 1), x = random(rows * in, 1);
    withProperty("sparkinfer.linear.layout", layout, () -> {
      LinearWeight jw = java.uploadLinear(w, out, in), cw = cl.uploadLinear(w, out, in);
      Tensor jb = java.upload(bias), cb = cl.upload(bias);
      if (!layout.equals("auto")) assertEquals(layout.equals("in-major"), cw.inMajor(), "layout chosen");
      parity("linear " + layout, 2e-6 * Math.sqrt(in) + 1e-6, ops -> {
        Tensor o = ops.alloc(rows * out);
        ops.linear(o, in(ops, x), ops == java ? jw : cw, ops == java ? jb : cb, rows);
        return ops.read(o);
      });
    });
  }

  @ParameterizedTest(name = "elementwise n={0} run={1}")
  @CsvSource({"1,device", "7,device", "63,device", "1023,device", "1025,device", "100003,device", "1025,1", "100003,1",
      "1025,7", "100003,7"})
  void elementwise(int n, String run) {
    if (run.equals("device")) elementwiseOps(n);
    else withProperty("sparkinfer.elementwise.run", run, () -> elementwiseOps(n));
  }

  /** Every element-wise op, and the zero fill of fresh scratch over memory left dirty by an earlier scope. */
  private void elementwiseOps(int n) {
    float[] a = random(n, 3), b = random(n, 3);
    for (Ops ops : new Ops[] {java, cl}) {
      try (Ops.Scope s = ops.scope()) {
        in(ops, a);
        in(ops, b);
      }
    }
    parity("zeroed scratch", 0, ops -> ops.read(ops.alloc(2 * n)));
    parity("add", 1e-7, ops -> {
      Tensor x = in(ops, a);
      ops.add(x, x, in(ops, b), n); // in place, as a residual add
      return ops.read(x);
    });
    parity("mul", 1e-7, ops -> {
      Tensor out = ops.alloc(n);
      ops.mul(out, in(ops, a), in(ops, b), n);
      return ops.read(out);
    });
    parity("scale", 1e-7, ops -> {
      Tensor out = ops.alloc(n);
      ops.scale(out, in(ops, a), 0.125f, n);
      return ops.read(out);
    });
    parity("copy", 0, ops -> {
      Tensor out = ops.alloc(n);
      ops.copy(out, in(ops, a), n);
      return ops.read(out);
    });
  }

  @ParameterizedTest(name = "activation {0}")
  @EnumSource(Activation.class)
  void activation(Activation act) {
    int n = 1025;
    float[] a = random(n, 8);
    a[0] = 0;
    a[1] = -20;
    a[2] = 20;
    for (String run : new String[] {"64", "1", "7"}) {
      withProperty("sparkinfer.elementwise.run", run, () -> parity("activation " + act + " run " + run, 1e-6, ops -> {
        Tensor x = in(ops, a);
        ops.activation(act, x, x, n);
        return ops.read(x);
      }));
    }
  }

  @ParameterizedTest(name = "norms rows={0} dim={1}")
  @CsvSource({"1,1", "7,7", "3,63", "5,384", "2,1023", "1,1025", "63,129"})
  void norms(int rows, int dim) {
    float[] x = random(rows * dim, 4), g = random(dim, 1), b = random(dim, 1);
    for (int i = 0; i < x.length; i++) x[i] += 2.5f; // non-zero mean
    for (String kernel : variants("rows", "groups")) {
      withProperty("sparkinfer.norm.kernel", kernel, () -> {
        parity("layerNorm " + kernel, 2e-5, ops -> {
          Tensor out = ops.alloc(rows * dim);
          ops.layerNorm(out, in(ops, x), in(ops, g), in(ops, b), rows, dim, 1e-12f);
          return ops.read(out);
        });
        parity("layerNorm no beta, in place " + kernel, 2e-5, ops -> {
          Tensor t = in(ops, x);
          ops.layerNorm(t, t, in(ops, g), null, rows, dim, 1e-5f);
          return ops.read(t);
        });
        parity("rmsNorm " + kernel, 1e-5, ops -> {
          Tensor out = ops.alloc(rows * dim);
          ops.rmsNorm(out, in(ops, x), in(ops, g), rows, dim, 1e-6f);
          return ops.read(out);
        });
      });
    }
    for (String kernel : variants("rows", "groups")) {
      withProperty("sparkinfer.norm.kernel", kernel, () -> parity("l2Normalize " + kernel, 1e-6, ops -> {
        Tensor out = ops.alloc(rows * dim);
        ops.l2Normalize(out, in(ops, x), rows, dim);
        return ops.read(out);
      }));
    }
  }

  @ParameterizedTest(name = "softmax rows={0} cols={1} T={2} log={3} mask={4}")
  @CsvSource({"1,1,1,false,none", "7,7,1,false,shared", "3,1023,2,true,none", "2,1025,0.5,true,perRow", "5,50257,1,true,none",
      "4,63,1,false,perRow"})
  void softmax(int rows, int cols, float t, boolean log, String mask) {
    float[] x = random(rows * cols, 6);
    float[] m = new float[mask.equals("perRow") ? rows * cols : cols];
    for (int i = 0; i < m.length; i++) m[i] = rnd.nextInt(4) == 0 ? -3.4028235e38f : 0f; // HF-style finfo.min mask
    if (m.length > 0) m[0] = 0f;
    if (mask.equals("perRow")) for (int r = 0; r < rows; r++) m[r * cols] = 0f;
    for (String kernel : variants("rows", "groups")) {
      withProperty("sparkinfer.softmax.kernel", kernel, () -> parity("softmax " + kernel, log ? 2e-5 : 2e-6, ops -> {
        Tensor out = ops.alloc(rows * cols);
        ops.softmax(out, in(ops, x), mask.equals("none") ? null : in(ops, m), mask.equals("perRow"), rows, cols, t, log);
        return ops.read(out);
      }));
    }
  }

  @ParameterizedTest(name = "attention b={0} q={1} k={2} h={3} kvh={4} d={5} causal={6} pos={7} window={8} padded={9}")
  @CsvSource({"1,1,1,1,1,1,false,0,0,false", "2,7,7,3,3,16,false,0,0,true", "3,63,63,4,2,8,true,0,0,true",
      "1,1,65,4,1,32,true,64,0,false", "2,17,17,2,2,7,true,0,8,false", "1,5,1025,2,1,4,true,1020,0,false",
      "4,129,129,12,12,32,false,0,0,true",
      // queries past the keys with a window: the first see a few, the last none (zeros)
      "1,9,10,2,1,8,true,8,3,false", "1,20,300,2,1,16,true,295,8,false"})
  void attention(int b, int q, int kLen, int h, int kvh, int d, boolean causal, int pos, int window, boolean padded) {
    Attention sp = new Attention(b, q, kLen, h, kvh, d, h * d, kvh * d, h * d, causal, pos, window, (float) (1 / Math.sqrt(d)));
    float[] qx = random(b * q * h * d, 2), kx = random(b * kLen * kvh * d, 2), vx = random(b * kLen * kvh * d, 2);
    int[] mask = new int[b * kLen];
    for (int i = 0; i < b; i++) {
      int len = padded ? Math.max(1, kLen - i * kLen / (b + 1)) : kLen;
      for (int j = 0; j < len; j++) mask[i * kLen + j] = 1;
    }
    for (String kernel : variants("rows", "split")) {
      withProperty("sparkinfer.attention.kernel", kernel, () -> parity("attention " + kernel, 5e-6, ops -> {
        Tensor out = ops.alloc(b * q * h * d);
        Tensor scores = ops.alloc((int) sp.scoresSize());
        ops.attention(out, in(ops, qx), in(ops, kx), in(ops, vx), padded ? in(ops, mask) : null, scores, sp);
        return ops.read(out);
      }));
    }
  }

  /** Runs {@code body} with a system property set (kernel choices) and the OpenCL engine's config re-read, restoring both. */
  private void withProperty(String key, String value, Runnable body) {
    String before = System.getProperty(key);
    System.setProperty(key, value);
    cl.reloadConfig();
    try {
      body.run();
    } finally {
      if (before == null) System.clearProperty(key);
      else System.setProperty(key, before);
      cl.reloadConfig();
    }
  }

  @Test
  void attentionOverFusedQkvWithStrides() {
    int b = 2, s = 9, h = 3, d = 5, w = h * d;
    float[] qkv = random(b * s * 3 * w, 1);
    Attention sp = Attention.selfAttention(b, s, h, d, false).withStrides(3 * w, 3 * w, w);
    for (String kernel : variants("rows", "split")) {
      withProperty("sparkinfer.attention.kernel", kernel, () -> parity("attention fused qkv " + kernel, 5e-6, ops -> {
        Tensor t = in(ops, qkv);
        Tensor out = ops.alloc(b * s * w);
        ops.attention(out, t, t.slice(w, t.size() - w), t.slice(2 * w, t.size() - 2 * w), null, ops.alloc((int) sp.scoresSize()), sp);
        return ops.read(out);
      }));
    }
  }

  @ParameterizedTest(name = "gather n={0} vocab={1} dim={2}")
  @CsvSource({"1,1,1", "7,63,7", "63,1025,384", "1025,30,3"})
  void gather(int n, int vocab, int dim) {
    float[] table = random(vocab * dim, 1), base = random(n * dim, 1);
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) ids[i] = rnd.nextInt(vocab);
    parity("gather", 0, ops -> {
      Tensor out = ops.alloc(n * dim);
      ops.gather(out, in(ops, table), in(ops, ids), n, vocab, dim, false);
      return ops.read(out);
    });
    parity("gather accumulate", 1e-7, ops -> {
      Tensor out = in(ops, base);
      ops.gather(out, in(ops, table), in(ops, ids), n, vocab, dim, true);
      return ops.read(out);
    });
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
    for (int i = 0; i + 7 < x.length; i += 13) x[i + 7] = x[i]; // ties: lower index must come first
    for (String kernel : variants("rows", "groups")) {
      int[][] ids = new int[2][];
      withProperty("sparkinfer.softmax.kernel", kernel, () -> parity("topK values " + kernel, 0, ops -> {
        Tensor vals = ops.alloc(rows * k);
        IntTensor idx = ops.allocInts(rows * k);
        ops.topK(vals, idx, in(ops, x), rows, cols, k);
        ids[ops == java ? 0 : 1] = ops.read(idx);
        return ops.read(vals);
      }));
      org.junit.jupiter.api.Assertions.assertArrayEquals(ids[0], ids[1], "topK indices " + kernel);
    }
  }

  /** On PoCL without its loops work-group method a forced barrier kernel is refused with the fix, never run wrong. */
  @Test
  void barrierKernelsAreRefusedWherePoclWouldMiscompileThem() {
    DeviceInfo pocl = new DeviceInfo("opencl", "pthread-skylake-avx512", "The pocl project", "CPU");
    assertFalse(AparapiOps.barriersSafe(pocl, null));
    assertFalse(AparapiOps.barriersSafe(pocl, "loopvec"));
    assertTrue(AparapiOps.barriersSafe(pocl, "loops"));
    assertTrue(AparapiOps.barriersSafe(pocl, "cbs"));
    assertTrue(AparapiOps.barriersSafe(new DeviceInfo("opencl", "NVIDIA H100", "NVIDIA Corporation", "GPU"), null));
    org.junit.jupiter.api.Assumptions.assumeFalse(cl.barriersSafe(), "barrier kernels are safe on " + cl.device());
    withProperty("sparkinfer.norm.kernel", "groups", () -> {
      try (Ops.Scope s = cl.scope()) {
        Tensor t = in(cl, random(7 * 7, 1));
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
            () -> cl.layerNorm(t, t, t.slice(0, 7), null, 7, 7, 1e-5f));
        assertTrue(e.getMessage().contains("POCL_WORK_GROUP_METHOD=loops"), e.getMessage());
      }
    });
  }

  @Test
  void transfersLargerThanTheStagingBuffers() {
    float[] big = random(3_000_001, 1);
    int[] bigInts = new int[600_001];
    for (int i = 0; i < bigInts.length; i++) bigInts[i] = i * 7;
    try (Ops.Scope s = cl.scope()) {
      Tensor t = in(cl, big);
      org.junit.jupiter.api.Assertions.assertArrayEquals(big, cl.read(t));
      IntTensor it = in(cl, bigInts);
      org.junit.jupiter.api.Assertions.assertArrayEquals(bigInts, cl.read(it));
    }
  }

  // ---- 16-bit weights, persistent state, rotary embedding, cached attention ----

  private char[] random16(int n, float scale, DType t) {
    char[] h = new char[n];
    for (int i = 0; i < n; i++) h[i] = t.fromFloat((rnd.nextFloat() * 2 - 1) * scale);
    return h;
  }

  /** Every one of the 65,536 bit patterns of each 16-bit type, widened by the kernel, equals the Java widening. */
  @ParameterizedTest(name = "widening every {0} pattern")
  @EnumSource(value = DType.class, names = {"BF16", "F16"})
  void widening16(DType t) {
    char[] all = new char[65536];
    for (int i = 0; i < all.length; i++) all[i] = (char) i;
    int[] ids = new int[all.length];
    for (int i = 0; i < ids.length; i++) ids[i] = i;
    float[][] got = new float[2][];
    // fresh Ops of their own: 128 KiB of 16-bit weights that the shared ones need not keep
    try (JavaOps j2 = new JavaOps(); AparapiOps c2 = new AparapiOps(OpenCLTestSupport.device(), true)) {
      int o = 0;
      for (Ops ops : new Ops[] {j2, c2}) {
        HalfTensor table = ops.upload16(all, t);
        try (Ops.Scope s = ops.scope()) {
          Tensor out = ops.alloc(all.length);
          ops.gather16(out, table, in(ops, ids), all.length, all.length, 1);
          got[o++] = ops.read(out);
        }
      }
      assertFalse(c2.fellBack(), "widening fell back to Java threads");
    }
    for (int i = 0; i < all.length; i++) {
      float want = t.toFloat(all[i]);
      assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[0][i]), "java widening of 0x" + Integer.toHexString(i));
      if (Float.isNaN(want)) assertTrue(Float.isNaN(got[1][i]), "opencl widening of NaN 0x" + Integer.toHexString(i));
      else assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[1][i]), "opencl widening of 0x" + Integer.toHexString(i));
    }
    // known values, independent of our own widening
    if (t == DType.BF16) {
      assertEquals(1f, t.toFloat((char) 0x3f80));
      assertEquals(-2f, t.toFloat((char) 0xc000));
    } else {
      assertEquals(1f, t.toFloat((char) 0x3c00));
      assertEquals(65504f, t.toFloat((char) 0x7bff));
      assertEquals(5.9604644775390625e-8f, t.toFloat((char) 0x0001));
      assertEquals(Float.NEGATIVE_INFINITY, t.toFloat((char) 0xfc00));
      assertEquals(-0f, t.toFloat((char) 0x8000));
    }
    for (int i = 0; i < 65536; i++) { // rounding back gives the same pattern (NaNs aside)
      float f = t.toFloat((char) i);
      if (!Float.isNaN(f)) assertEquals(i, (int) t.fromFloat(f), "round trip of 0x" + Integer.toHexString(i));
    }
  }

  @ParameterizedTest(name = "linear16 rows={0} n={1} k={2} {3} bias={4}")
  @CsvSource({"1,1,1,BF16,false", "7,63,65,BF16,true", "33,384,384,F16,true", "9,1025,17,BF16,false", "130,64,1023,F16,false",
      "1,2048,2048,BF16,false"})
  void linear16(int rows, int n, int k, DType t, boolean bias) {
    char[] w = random16(n * k, 0.5f, t);
    float[] x = random(rows * k, 1), bv = random(n, 1);
    HalfTensor jw = java.upload16(w, t), cw = cl.upload16(w, t);
    Tensor jb = java.upload(bv), cb = cl.upload(bv);
    for (String kernel : variants("dot", "tiled")) {
      withProperty("sparkinfer.matmul.kernel", kernel, () -> parity("linear16 " + t + " " + kernel, 2e-6 * Math.sqrt(k) + 1e-6, ops -> {
        Tensor out = ops.alloc(rows * n);
        ops.linear16(out, in(ops, x), ops == java ? jw : cw, bias ? (ops == java ? jb : cb) : null, rows, n, k);
        return ops.read(out);
      }));
    }
  }

  @ParameterizedTest(name = "rope heads={0} headDim={1} scaled={2}")
  @CsvSource({"1,2,false", "3,8,false", "32,64,true", "8,64,false", "5,128,true"})
  void rope(int heads, int headDim, boolean scaled) {
    int rows = 7, stride = heads * headDim + 5; // a slice of a wider fused projection
    float[] x = random(rows * stride, 2);
    int[] pos = {0, 1, 2, 127, 4095, 8191, 131071};
    float[] inv = Rope.invFreq(headDim, 500000, scaled ? new Rope.Llama3Scaling(32, 1, 4, 8192) : null);
    parity("rope", 2e-5, ops -> {
      Tensor t = in(ops, x);
      ops.rope(t, rows, heads, headDim, stride, in(ops, pos), in(ops, inv));
      return ops.read(t);
    });
  }

  /** rotate-half on a hand-checked case: position 1, one head of 4 dims, theta 10000. */
  @Test
  void ropeHandChecked() {
    float[] inv = Rope.invFreq(4, 10000, null);
    assertEquals(1f, inv[0]);
    assertEquals(0.01f, inv[1], 1e-9);
    try (Ops.Scope s = java.scope()) {
      Tensor t = in(java, new float[] {1, 2, 3, 4});
      java.rope(t, 1, 1, 4, 4, in(java, new int[] {1}), in(java, inv));
      float[] r = java.read(t);
      // (x1, x2) = (1, 3) at angle 1 and (2, 4) at angle 0.01
      assertEquals((float) (1 * Math.cos(1) - 3 * Math.sin(1)), r[0], 1e-6);
      assertEquals((float) (3 * Math.cos(1) + 1 * Math.sin(1)), r[2], 1e-6);
      assertEquals((float) (2 * Math.cos(0.01) - 4 * Math.sin(0.01)), r[1], 1e-6);
      assertEquals((float) (4 * Math.cos(0.01) + 2 * Math.sin(0.01)), r[3], 1e-6);
    }
  }

  /**
   * A KV cache of 37 rows per entry, three entries at different positions (ragged): new keys and values written at each
   * entry's position, then attention of qLen new queries over the cache prefix, GQA 4/2 heads.
   */
  @ParameterizedTest(name = "cached attention qLen={0} window={1}")
  @CsvSource({"1,0", "5,0", "3,4"})
  void cachedAttentionWithRaggedPositions(int qLen, int window) {
    int batch = 3, cap = 37, heads = 4, kvHeads = 2, hd = 16, w = kvHeads * hd;
    int[] pos = {0, 11, 30};
    int kLen = 30 + qLen;
    float[] cacheK = random(batch * cap * w, 1), cacheV = random(batch * cap * w, 1);
    float[] q = random(batch * qLen * heads * hd, 1), newKv = random(batch * qLen * 2 * w, 1);
    Attention sp = new Attention(batch, qLen, kLen, heads, kvHeads, hd, heads * hd, w, heads * hd, true, 0, window,
        (float) (1 / Math.sqrt(hd))).withCacheRows(cap);
    for (String kernel : variants("rows", "split")) {
      withProperty("sparkinfer.attention.kernel", kernel, () -> parity("cached attention " + kernel, 5e-6, ops -> {
        Tensor kc = in(ops, cacheK), vc = in(ops, cacheV), kv = in(ops, newKv);
        IntTensor p = in(ops, pos);
        ops.cacheWrite(kc, kv, p, batch, qLen, w, 2 * w, cap);
        ops.cacheWrite(vc, kv.slice(w, kv.size() - w), p, batch, qLen, w, 2 * w, cap);
        Tensor out = ops.alloc(batch * qLen * heads * hd);
        ops.attention(out, in(ops, q), kc, vc, null, p, ops.alloc((int) sp.scoresSize()), sp);
        float[] o = ops.read(out), kcs = ops.read(kc);
        float[] both = Arrays.copyOf(o, o.length + kcs.length);
        System.arraycopy(kcs, 0, both, o.length, kcs.length);
        return both;
      }));
    }
    // the cached call equals plain attention over each entry's own prefix (no cache, posOffset = its position)
    try (Ops.Scope s = java.scope()) {
      Tensor kc = in(java, cacheK), vc = in(java, cacheV), kv = in(java, newKv);
      IntTensor p = in(java, pos);
      java.cacheWrite(kc, kv, p, batch, qLen, w, 2 * w, cap);
      java.cacheWrite(vc, kv.slice(w, kv.size() - w), p, batch, qLen, w, 2 * w, cap);
      Tensor qt = in(java, q), out = java.alloc(batch * qLen * heads * hd);
      java.attention(out, qt, kc, vc, null, p, java.alloc((int) sp.scoresSize()), sp);
      float[] cached = java.read(out);
      for (int b = 0; b < batch; b++) {
        int len = pos[b] + qLen;
        Attention one = new Attention(1, qLen, len, heads, kvHeads, hd, heads * hd, w, heads * hd, true, pos[b], window, sp.scale());
        Tensor o1 = java.alloc(qLen * heads * hd);
        java.attention(o1, qt.slice(b * qLen * heads * hd, qLen * heads * hd), kc.slice(b * cap * w, len * w),
            vc.slice(b * cap * w, len * w), null, java.alloc((int) one.scoresSize()), one);
        float[] ref = java.read(o1);
        for (int i = 0; i < ref.length; i++) assertEquals(ref[i], cached[b * qLen * heads * hd + i], 1e-6, "entry " + b + " value " + i);
      }
    }
  }

  @Test
  void stateLivesAcrossScopesAndIsRefusedInsideOne() {
    for (Ops ops : new Ops[] {java, cl}) {
      Tensor state = ops.allocState(100);
      try (Ops.Scope s = ops.scope()) {
        ops.write(state, random(100, 1));
        assertThrows(IllegalStateException.class, () -> ops.allocState(10));
      }
      float[] kept = ops.read(state);
      try (Ops.Scope s = ops.scope()) {
        ops.alloc(1000); // scratch above the state does not touch it
      }
      org.junit.jupiter.api.Assertions.assertArrayEquals(kept, ops.read(state));
    }
  }

  /** 32 windows x 1,024 positions x 128,256 logits wrap an int; the check says so instead of passing a negative size. */
  @Test
  void shapeOverflowIsRejectedWithAMessage() {
    for (Ops ops : new Ops[] {java, cl}) {
      try (Ops.Scope s = ops.scope()) {
        Tensor x = ops.alloc(16), w = ops.alloc(16);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> ops.matmul(x, x, w, null, 32 * 1024, 128256, 2048, true));
        assertTrue(e.getMessage().contains("4202692608"), e.getMessage()); // 32 * 1024 * 128256, not a wrapped int
        assertThrows(IllegalArgumentException.class, () -> ops.softmax(x, x, null, false, 1 << 20, 1 << 20, 1f, false));
      }
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ArenaOps.size(Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE));
    assertTrue(e.getMessage().contains("overflows"), e.getMessage());
  }

  /**
   * 16-bit weights over several banks (banks of 4,096 values here instead of 2 GiB): tensors fill bank after bank, each
   * op reads the right one on both engines, and a ninth bank is refused with a message.
   */
  @Test
  void weightsAcrossBanks() {
    try (JavaOps j2 = new JavaOps(); AparapiOps c2 = new AparapiOps(OpenCLTestSupport.device(), true)) {
      j2.bankMax = 4096;
      c2.bankMax = 4096;
      int n = 48, k = 64; // 3,072 values: one tensor per bank
      char[][] ws = new char[8][];
      HalfTensor[][] ts = new HalfTensor[2][8];
      for (int i = 0; i < 8; i++) {
        ws[i] = random16(n * k, 1, i % 2 == 0 ? DType.BF16 : DType.F16);
        ts[0][i] = j2.upload16(ws[i], i % 2 == 0 ? DType.BF16 : DType.F16);
        ts[1][i] = c2.upload16(ws[i], i % 2 == 0 ? DType.BF16 : DType.F16);
        assertEquals(i, ts[1][i].bank(), "tensor " + i + " opens bank " + i);
      }
      float[] x = random(5 * k, 1);
      for (int i = 0; i < 8; i++) {
        float[][] out = new float[2][];
        int o = 0;
        for (Ops ops : new Ops[] {j2, c2}) {
          try (Ops.Scope s = ops.scope()) {
            Tensor y = ops.alloc(5 * n);
            ops.linear16(y, in(ops, x), ts[o][i], null, 5, n, k);
            out[o++] = ops.read(y);
          }
        }
        for (int e = 0; e < out[0].length; e++) assertEquals(out[0][e], out[1][e], 1e-5 * Math.max(1, Math.abs(out[0][e])), "bank " + i);
      }
      IllegalStateException full = assertThrows(IllegalStateException.class, () -> c2.upload16(ws[0], DType.BF16));
      assertTrue(full.getMessage().contains("banks"), full.getMessage());
      assertFalse(c2.fellBack());
    }
  }

  /**
   * Float32 weights in float banks: Linear (the CPU dot kernel and, where barriers are safe, the GPU tiled one) and
   * gather against the Java engine, and bit for bit against the same kernels reading the weights from the float arena
   * (the banked kernels are the arena kernels with another array), at sizes that are multiples of nothing.
   */
  @ParameterizedTest(name = "banked f32 linear rows={0} n={1} k={2} bias={3}")
  @CsvSource({"1,37,53,true", "7,37,53,false", "33,37,53,true", "1,1,1,false", "9,1025,17,true", "130,64,1023,false"})
  void bankedF32Linear(int rows, int n, int k, boolean bias) {
    float[] w = random(n * k, 1), x = random(rows * k, 1), bv = random(n, 1);
    HalfTensor jw = java.uploadBanked(w), cw = cl.uploadBanked(w);
    assertEquals(DType.F32, cw.dtype());
    Tensor jb = java.upload(bv), cb = cl.upload(bv), arenaW = cl.upload(w);
    for (String kernel : variants("dot", "tiled")) {
      withProperty("sparkinfer.matmul.kernel", kernel, () -> {
        parity("banked f32 linear " + kernel, 2e-6 * Math.sqrt(k) + 1e-6, ops -> {
          Tensor out = ops.alloc(rows * n);
          ops.linear16(out, in(ops, x), ops == java ? jw : cw, bias ? (ops == java ? jb : cb) : null, rows, n, k);
          return ops.read(out);
        });
        try (Ops.Scope s = cl.scope()) {
          Tensor xs = in(cl, x), banked = cl.alloc(rows * n), arena = cl.alloc(rows * n);
          cl.linear16(banked, xs, cw, bias ? cb : null, rows, n, k);
          cl.matmul(arena, xs, arenaW, bias ? cb : null, rows, n, k, true);
          assertArrayEquals(cl.read(arena), cl.read(banked), "banked f32 linear " + kernel + " = the float-arena matmul");
        }
      });
    }
  }

  @ParameterizedTest(name = "banked f32 gather n={0} vocab={1} dim={2}")
  @CsvSource({"1,37,53", "7,37,53", "33,37,53", "1,1,1", "1025,30,3"})
  void bankedF32Gather(int n, int vocab, int dim) {
    float[] table = random(vocab * dim, 1);
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) ids[i] = rnd.nextInt(vocab + 2) - 1; // out-of-range ids read zeros
    HalfTensor jt = java.uploadBanked(table), ct = cl.uploadBanked(table);
    parity("banked f32 gather", 0, ops -> {
      Tensor out = ops.alloc(n * dim);
      ops.gather16(out, ops == java ? jt : ct, in(ops, ids), n, vocab, dim);
      return ops.read(out);
    });
  }

  /**
   * Float32 weights over several float banks (banks of 4,096 floats here instead of 2 GiB): a Linear weight from
   * {@link Ops#uploadLinear} and tables fill bank after bank, each op reads the right bank with either kernel, and a
   * ninth bank is refused with a message.
   */
  @Test
  void floatWeightsAcrossBanks() {
    try (JavaOps j2 = new JavaOps(); AparapiOps c2 = new AparapiOps(OpenCLTestSupport.device(), true)) {
      j2.bankMax = 4096;
      c2.bankMax = 4096;
      int n = 37, k = 53; // 1,961 floats: two tensors per bank, the third opens the next
      float[][] ws = new float[16][];
      HalfTensor[][] ts = new HalfTensor[2][16];
      for (int i = 0; i < 16; i++) {
        ws[i] = random(n * k, 1);
        ts[0][i] = j2.uploadBanked(ws[i]);
        if (i % 2 == 0) {
          LinearWeight lw = c2.uploadLinear(ws[i], n, k);
          assertTrue(lw.banked() != null && lw.data() == null, "an OpenCL Linear weight lives in a float bank");
          ts[1][i] = lw.banked();
        } else {
          ts[1][i] = c2.uploadBanked(ws[i]);
        }
        assertEquals(i / 2, ts[1][i].bank(), "tensor " + i + " in bank " + i / 2);
      }
      float[] x = random(7 * k, 1);
      int[] ids = {0, 36, 5, -1, 37, 12, 1};
      for (String kernel : variants("dot", "tiled")) {
        withProperty("sparkinfer.matmul.kernel", kernel, () -> {
          c2.reloadConfig();
          for (int i = 0; i < 16; i++) {
            float[][] out = new float[2][], rows = new float[2][];
            int o = 0;
            for (Ops ops : new Ops[] {j2, c2}) {
              try (Ops.Scope s = ops.scope()) {
                Tensor y = ops.alloc(7 * n), g = ops.alloc(ids.length * k);
                ops.linear16(y, in(ops, x), ts[o][i], null, 7, n, k);
                ops.gather16(g, ts[o][i], in(ops, ids), ids.length, n, k);
                out[o] = ops.read(y);
                rows[o++] = ops.read(g);
              }
            }
            for (int e = 0; e < out[0].length; e++) {
              assertEquals(out[0][e], out[1][e], (2e-6 * Math.sqrt(k) + 1e-6) * Math.max(1, Math.abs(out[0][e])), "tensor " + i + " " + kernel);
            }
            assertArrayEquals(rows[0], rows[1], "gather from tensor " + i);
          }
        });
      }
      DeviceMemoryException full = assertThrows(DeviceMemoryException.class, () -> c2.uploadBanked(new float[3000]));
      assertTrue(full.getMessage().contains("all 8 float banks") && full.getMessage().contains("int8"), full.getMessage());
      DeviceMemoryException big = assertThrows(DeviceMemoryException.class, () -> j2.uploadBanked(new float[5000]));
      assertTrue(big.getMessage().contains("larger than one float bank"), big.getMessage());
      assertFalse(c2.fellBack());
    }
  }
}
