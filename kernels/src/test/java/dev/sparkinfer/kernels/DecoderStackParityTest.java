package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * A 2-layer slice of LLaMA-3.2-1B's widths with its full 128,256-token vocabulary, random bf16 weights: prefill of two
 * prompts of different lengths (each its own call), then decode steps of both entries batched at their ragged
 * positions. OpenCL and the CPU engine each equal the Java reference within 1e-4 of the logit range at every step.
 */
class DecoderStackParityTest {
  @Test
  void llama1bWidthsTwoLayersOpenClEqualsJava() {
    try (AparapiOps cl = new AparapiOps(OpenCLTestSupport.device(), true)) {
      run(cl);
      assertFalse(cl.fellBack());
    }
  }

  @Test
  void llama1bWidthsTwoLayersCpuEngineEqualsJava() {
    try (CpuOps cpu = new CpuOps(2)) {
      run(cpu);
    }
  }

  private static void run(Ops cl) {
    DecoderStack.Shape shape = DecoderStack.Shape.LLAMA_3_2_1B.withLayers(2);
    int cap = 40;
    try (JavaOps java = new JavaOps()) {
      DecoderStack jd = new DecoderStack(java, shape, DType.BF16, 7, 2, cap);
      DecoderStack cd = new DecoderStack(cl, shape, DType.BF16, 7, 2, cap);
      Ops.MemoryUse mem = cl.memoryUse();
      assertTrue(mem.weights16Bytes() >= 2 * shape.params16() && mem.weights16Bytes() < 2 * shape.params16() + (64L << 20),
          "16-bit weights are held as 16-bit: " + mem);
      int[] a = {128000, 791, 4062, 14198, 39935, 35308, 927, 279, 16053}, b = {128000, 9906, 11, 1917, 0};
      int v = shape.vocab();
      float[] ja = jd.forward(0, new int[][] {a}, new int[] {0});
      compare("prefill of 9 tokens, entry 0", ja, cd.forward(0, new int[][] {a}, new int[] {0}), v);
      float[] jb = jd.forward(1, new int[][] {b}, new int[] {0});
      compare("prefill of 5 tokens, entry 1", jb, cd.forward(1, new int[][] {b}, new int[] {0}), v);
      int[] pos = {a.length, b.length};
      int[] next = {argmax(ja, 0, v), argmax(jb, 0, v)};
      for (int step = 0; step < 3; step++) {
        int[][] toks = {{next[0]}, {next[1]}};
        float[] j = jd.forward(0, toks, pos), c = cd.forward(0, toks, pos);
        compare("batched decode step " + step + " at ragged positions " + pos[0] + ", " + pos[1], j, c, 2 * v);
        next = new int[] {argmax(j, 0, v), argmax(j, 1, v)};
        pos[0]++;
        pos[1]++;
      }
    }
  }

  private static int argmax(float[] x, int row, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[row * n + i] > x[row * n + best]) best = i;
    return best;
  }

  private static void compare(String what, float[] java, float[] cl, int n) {
    assertEquals(n, java.length);
    float lo = Float.MAX_VALUE, hi = -Float.MAX_VALUE;
    double worst = 0;
    for (int i = 0; i < n; i++) {
      lo = Math.min(lo, java[i]);
      hi = Math.max(hi, java[i]);
      worst = Math.max(worst, Math.abs(java[i] - cl[i]));
    }
    double range = hi - lo;
    System.out.printf("%s: logit range %.3f, max |engine - java| %.3g (%.2g of the range)%n", what, range, worst, worst / range);
    assertTrue(range > 0.1, what + ": degenerate logits");
    assertTrue(worst <= 1e-4 * range, what + ": max |diff| " + worst + " exceeds 1e-4 of the logit range " + range);
  }
}
