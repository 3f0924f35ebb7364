package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

/**
 * The fused GPU attention ({@code OP_ATTN_FUSED}: one launch, a work-group per (batch entry, head, 8 queries, or 4 past
 * 128 keys), scores in local memory) against JavaOps: padding, causal and window masks, GQA, posOffset, ragged KV-cache
 * positions, strided fused qkv, and query counts that are not multiples of its query blocks; tolerance 5e-6 as
 * OpsParityTest's attention. Each case checks which kernel ran: fused where the keys are at most 256 and the head at
 * most 128, the split kernels beyond. The
 * kernel has work-group barriers: on PoCL it runs only under POCL_WORK_GROUP_METHOD=loops (the kernels module's second
 * test run); elsewhere these tests skip with that reason.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FusedAttentionParityTest {
  private AparapiOps cl;
  private JavaOps java;
  private final Random rnd = new Random(11);

  @BeforeAll
  void open() {
    EngineConfig d = EngineConfig.fromSystemProperties();
    cl = new AparapiOps(OpenCLTestSupport.device(), new EngineConfig(d.matmulKernel(), "fused", d.normKernel(), d.softmaxKernel(),
        d.linearLayout(), d.elementRun(), d.budgetBytes(), d.openclDevice(), true, d.cpuThreads()));
    java = new JavaOps();
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

  private void assumeBarriersSafe() {
    org.junit.jupiter.api.Assumptions.assumeTrue(cl.barriersSafe(),
        "the fused attention uses work-group barriers: on PoCL it is checked only with POCL_WORK_GROUP_METHOD=loops");
  }

  /** Runs one attention on both engines; checks the outputs and that the expected kernel (fused or split) ran. */
  private void parity(String what, Attention sp, Function<Ops, float[]> run) {
    float[] expected, actual;
    try (Ops.Scope s = java.scope()) {
      expected = run.apply(java);
    }
    long fused = cl.launchesByOp().getOrDefault("attn_fused", 0L), split = cl.launchesByOp().getOrDefault("attn_scores", 0L);
    try (Ops.Scope s = cl.scope()) {
      actual = run.apply(cl);
    }
    boolean fits = sp.kLen() <= 256 && sp.headDim() <= 128;
    assertEquals(fused + (fits ? 1 : 0), (long) cl.launchesByOp().getOrDefault("attn_fused", 0L), what + ": fused launches");
    assertEquals(split + (fits ? 0 : 1), (long) cl.launchesByOp().getOrDefault("attn_scores", 0L), what + ": split launches");
    assertTrue(cl.device().isOpenCL() && !cl.fellBack(), what + " did not run on OpenCL");
    assertEquals(expected.length, actual.length, what + " output length");
    double worst = 0, tol = 5e-6;
    int worstAt = -1;
    for (int i = 0; i < expected.length; i++) {
      double err = Math.abs(expected[i] - actual[i]) / Math.max(1, Math.abs(expected[i]));
      if (!(err <= worst)) {
        worst = err;
        worstAt = i;
      }
    }
    assertTrue(worst <= tol, what + ": worst relative error " + worst + " at " + worstAt + " (java " + (worstAt >= 0 ? expected[worstAt] : 0)
        + ", opencl " + (worstAt >= 0 ? actual[worstAt] : 0) + ") exceeds " + tol);
  }

  @ParameterizedTest(name = "fused attention b={0} q={1} k={2} h={3} kvh={4} d={5} causal={6} pos={7} window={8} padded={9}")
  @CsvSource({"1,1,1,1,1,1,false,0,0,false", "2,7,7,3,3,16,false,0,0,true", "3,63,63,4,2,8,true,0,0,true",
      "1,1,65,4,1,32,true,64,0,false", "2,17,17,2,2,7,true,0,8,false", "4,128,128,12,12,32,false,0,0,true",
      "3,50,50,12,12,64,false,0,0,false", "2,9,9,4,2,128,true,0,0,true", "1,3,100,8,2,128,true,97,0,false",
      "2,129,129,2,2,32,false,0,0,true", "1,30,200,4,2,64,true,170,0,false", "2,256,256,2,1,16,false,0,0,true",
      "1,3,257,2,2,8,false,0,0,false", "1,5,1025,2,1,4,true,1020,0,false", "1,2,9,1,1,129,false,0,0,false",
      "1,9,10,2,1,8,true,8,3,false", "1,20,300,2,1,16,true,295,8,false"})
  void attention(int b, int q, int kLen, int h, int kvh, int d, boolean causal, int pos, int window, boolean padded) {
    assumeBarriersSafe();
    Attention sp = new Attention(b, q, kLen, h, kvh, d, h * d, kvh * d, h * d, causal, pos, window, (float) (1 / Math.sqrt(d)));
    float[] qx = random(b * q * h * d, 2), kx = random(b * kLen * kvh * d, 2), vx = random(b * kLen * kvh * d, 2);
    int[] mask = new int[b * kLen];
    for (int i = 0; i < b; i++) {
      int len = padded ? Math.max(1, kLen - i * kLen / (b + 1)) : kLen;
      for (int j = 0; j < len; j++) mask[i * kLen + j] = 1;
    }
    if (padded && b > 1) Arrays.fill(mask, (b - 1) * kLen, b * kLen, 0); // an entry with no visible key: zeros
    parity("attention", sp, ops -> {
      Tensor out = ops.alloc(b * q * h * d);
      ops.attention(out, in(ops, qx), in(ops, kx), in(ops, vx), padded ? in(ops, mask) : null, ops.alloc((int) sp.scoresSize()), sp);
      return ops.read(out);
    });
  }

  @Test
  void overFusedQkvWithStrides() {
    assumeBarriersSafe();
    int b = 2, s = 9, h = 3, d = 5, w = h * d;
    float[] qkv = random(b * s * 3 * w, 1);
    Attention sp = Attention.selfAttention(b, s, h, d, false).withStrides(3 * w, 3 * w, w);
    parity("attention fused qkv", sp, ops -> {
      Tensor t = in(ops, qkv);
      Tensor out = ops.alloc(b * s * w);
      ops.attention(out, t, t.slice(w, t.size() - w), t.slice(2 * w, t.size() - 2 * w), null, ops.alloc((int) sp.scoresSize()), sp);
      return ops.read(out);
    });
  }

  /** A KV cache of 37 rows per entry, three entries at ragged positions, GQA 4/2, queries appended at each position. */
  @ParameterizedTest(name = "fused cached attention qLen={0} window={1}")
  @CsvSource({"1,0", "5,0", "3,4", "9,0"})
  void cachedWithRaggedPositions(int qLen, int window) {
    assumeBarriersSafe();
    int batch = 3, cap = 40, heads = 4, kvHeads = 2, hd = 16, w = kvHeads * hd;
    int[] pos = {0, 11, 30};
    int kLen = 30 + qLen;
    float[] cacheK = random(batch * cap * w, 1), cacheV = random(batch * cap * w, 1);
    float[] q = random(batch * qLen * heads * hd, 1), newKv = random(batch * qLen * 2 * w, 1);
    Attention sp = new Attention(batch, qLen, kLen, heads, kvHeads, hd, heads * hd, w, heads * hd, true, 0, window,
        (float) (1 / Math.sqrt(hd))).withCacheRows(cap);
    parity("cached attention", sp, ops -> {
      Tensor kc = in(ops, cacheK), vc = in(ops, cacheV), kv = in(ops, newKv);
      IntTensor p = in(ops, pos);
      ops.cacheWrite(kc, kv, p, batch, qLen, w, 2 * w, cap);
      ops.cacheWrite(vc, kv.slice(w, kv.size() - w), p, batch, qLen, w, 2 * w, cap);
      Tensor out = ops.alloc(batch * qLen * heads * hd);
      ops.attention(out, in(ops, q), kc, vc, null, p, ops.alloc((int) sp.scoresSize()), sp);
      return ops.read(out);
    });
  }
}
