package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The register-blocked GPU matmul ({@code OP_MATMUL_BLOCKED}, {@code OP_LINEAR16_BLOCKED}: 64 x 64 outputs per
 * work-group, 64 x 16 tiles) against JavaOps on sizes that are not multiples of its block (64), tile depth (16) or
 * work-group edge (16): m in {1, 7, 33, 65, 130}, n in {1, 37, 64, 129}, k in {1, 15, 16, 17, 100, 384}, with and
 * without bias; tolerance as OpsParityTest's matmul, |opencl - java| <= (2e-6 sqrt(k) + 1e-6) max(1, |java|). Each case
 * checks that the blocked op itself ran (the engine's launch count of that op went up). The kernel has work-group
 * barriers: on PoCL it runs only under POCL_WORK_GROUP_METHOD=loops (the kernels module's second test run), elsewhere
 * these tests skip with that reason.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BlockedMatmulParityTest {
  private AparapiOps cl;
  private JavaOps java;
  private final Random rnd = new Random(7);

  @BeforeAll
  void open() {
    cl = new AparapiOps(OpenCLTestSupport.device(), EngineConfig.fromSystemProperties().withStrict(true).withMatmulKernel("blocked"));
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

  private float[] random(int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = rnd.nextFloat() * 2 - 1;
    return x;
  }

  private static Tensor in(Ops ops, float[] data) {
    Tensor t = ops.alloc(data.length);
    ops.write(t, data);
    return t;
  }

  static Stream<Arguments> floatCases() {
    List<Arguments> all = new ArrayList<>();
    for (int m : new int[] {1, 7, 33, 65, 130}) {
      for (int n : new int[] {1, 37, 64, 129}) {
        for (int k : new int[] {1, 15, 16, 17, 100, 384}) {
          all.add(Arguments.of(m, n, k, true));
          all.add(Arguments.of(m, n, k, false));
        }
      }
    }
    return all.stream();
  }

  static Stream<Arguments> halfCases() {
    List<Arguments> all = new ArrayList<>();
    int i = 0;
    for (DType t : new DType[] {DType.BF16, DType.F16}) {
      for (int m : new int[] {1, 33, 130}) {
        for (int n : new int[] {1, 37, 129}) {
          for (int k : new int[] {1, 17, 384}) all.add(Arguments.of(m, n, k, t, i++ % 2 == 0));
        }
      }
    }
    return all.stream();
  }

  private void assumeBarriersSafe() {
    org.junit.jupiter.api.Assumptions.assumeTrue(cl.barriersSafe(),
        "the blocked matmul uses work-group barriers: on PoCL it is checked only with POCL_WORK_GROUP_METHOD=loops");
  }

  private long blockedLaunches(String op) { return cl.launchesByOp().getOrDefault(op, 0L); }

  @ParameterizedTest(name = "matmul blocked m={0} n={1} k={2} bias={3}")
  @MethodSource("floatCases")
  void matmulBlocked(int m, int n, int k, boolean bias) {
    assumeBarriersSafe();
    float[] a = random(m * k), w = random(n * k), c = random(n);
    float[] expected, actual;
    try (Ops.Scope s = java.scope()) {
      Tensor out = java.alloc(m * n);
      java.matmul(out, in(java, a), in(java, w), bias ? in(java, c) : null, m, n, k, true);
      expected = java.read(out);
    }
    long before = blockedLaunches("matmul_blocked");
    try (Ops.Scope s = cl.scope()) {
      Tensor out = cl.alloc(m * n);
      cl.matmul(out, in(cl, a), in(cl, w), bias ? in(cl, c) : null, m, n, k, true);
      actual = cl.read(out);
    }
    assertEquals(before + 1, blockedLaunches("matmul_blocked"), "the blocked kernel ran once");
    check("matmul blocked " + m + "x" + n + "x" + k, expected, actual, 2e-6 * Math.sqrt(k) + 1e-6);
  }

  @ParameterizedTest(name = "linear16 blocked m={0} n={1} k={2} {3} bias={4}")
  @MethodSource("halfCases")
  void linear16Blocked(int m, int n, int k, DType t, boolean bias) {
    assumeBarriersSafe();
    char[] w = new char[n * k];
    for (int i = 0; i < w.length; i++) w[i] = t.fromFloat((rnd.nextFloat() * 2 - 1) * 0.5f);
    float[] x = random(m * k), bv = random(n);
    float[] expected, actual;
    HalfTensor jw = java.upload16(w, t);
    try (Ops.Scope s = java.scope()) {
      Tensor out = java.alloc(m * n);
      java.linear16(out, in(java, x), jw, bias ? in(java, bv) : null, m, n, k);
      expected = java.read(out);
    }
    long before = blockedLaunches("linear16_blocked");
    HalfTensor cw = cl.upload16(w, t);
    try (Ops.Scope s = cl.scope()) {
      Tensor out = cl.alloc(m * n);
      cl.linear16(out, in(cl, x), cw, bias ? in(cl, bv) : null, m, n, k);
      actual = cl.read(out);
    }
    assertEquals(before + 1, blockedLaunches("linear16_blocked"), "the blocked 16-bit kernel ran once");
    check("linear16 blocked " + t + " " + m + "x" + n + "x" + k, expected, actual, 2e-6 * Math.sqrt(k) + 1e-6);
  }

  private void check(String op, float[] expected, float[] actual, double tol) {
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

  /** Where barriers are unsafe (PoCL's loopvec), the forced blocked kernel is refused with the fix, never run wrong. */
  @Test
  void refusedOnPoclWithoutCbs() {
    org.junit.jupiter.api.Assumptions.assumeFalse(cl.barriersSafe(), "barrier kernels are safe on " + cl.device());
    try (Ops.Scope s = cl.scope()) {
      Tensor t = in(cl, random(7 * 7));
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> cl.matmul(t, t, t, null, 7, 7, 1, true));
      assertTrue(e.getMessage().contains("POCL_WORK_GROUP_METHOD=loops") && e.getMessage().contains("matmul_blocked"), e.getMessage());
    }
  }

  @Test
  void matmulKernelChoices() {
    assertEquals("blocked", EngineConfig.defaults().withMatmulKernel("blocked").matmulKernel());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EngineConfig.defaults().withMatmulKernel("tile"));
    assertEquals("sparkinfer.matmul.kernel must be auto, dot, tiled or blocked, got 'tile'", e.getMessage());
    assertEquals("sparkinfer.norm.kernel must be auto, rows or groups, got 'x'", assertThrows(IllegalArgumentException.class,
        () -> new EngineConfig("auto", "auto", "x", "auto", "auto", 0, 0, "", false, 0)).getMessage());
  }
}
