package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Magnitude pruning: exact counts per matrix, a valid 2:4 pattern that keeps the two largest of every four, pruned
 * weights that survive quantization as zeros (prune, then quantize, then dequantize equals quantizing the pruned
 * matrix, with zeros where pruned), 16-bit weights pruned in place, and the flag values.
 */
class PruningTest {
  private static float[] random(int n, long seed) {
    Random r = new Random(seed);
    float[] w = new float[n];
    for (int i = 0; i < n; i++) w[i] = (float) r.nextGaussian() * 0.05f;
    return w;
  }

  private static long zeros(float[] w) { return Arrays.stream(box(w)).filter(v -> v == 0).count(); }

  private static Float[] box(float[] w) {
    Float[] b = new Float[w.length];
    for (int i = 0; i < w.length; i++) b[i] = w[i];
    return b;
  }

  @Test
  void unstructuredZeroesExactlyTheFractionOfEachMatrixAndTheSmallestOnes() {
    int[][] shapes = {{1, 1}, {7, 13}, {63, 64}, {128, 1025}};
    for (double f : new double[] {0.0, 0.1, 0.5, 0.9}) {
      for (int[] s : shapes) {
        float[] w = random(s[0] * s[1], 7L * s[0] + s[1]);
        float[] before = w.clone();
        Pruning.unstructured(f).apply(w, s[0], s[1]);
        long want = Math.round(f * s[0] * s[1]);
        assertEquals(want, zeros(w), "unstructured:" + f + " on [" + s[0] + ", " + s[1] + "]");
        // every zeroed |w| is <= every kept |w|; kept entries unchanged
        float maxZeroed = 0, minKept = Float.MAX_VALUE;
        for (int i = 0; i < w.length; i++) {
          if (w[i] == 0) maxZeroed = Math.max(maxZeroed, Math.abs(before[i]));
          else { minKept = Math.min(minKept, Math.abs(before[i])); assertEquals(before[i], w[i]); }
        }
        assertTrue(maxZeroed <= minKept, "a larger weight was zeroed before a smaller one");
      }
    }
  }

  @Test
  void tiesAtTheThresholdStillGiveTheExactCount() {
    float[] w = new float[1000];
    Arrays.fill(w, 0.25f);
    for (int i = 0; i < w.length; i += 2) w[i] = -0.25f;
    Pruning.unstructured(0.37).apply(w, 10, 100);
    assertEquals(370, zeros(w));
    for (int i = 0; i < 370; i++) assertEquals(0f, w[i], "ties go by position, lowest first");
  }

  @Test
  void twoFourKeepsTheTwoLargestOfEveryFourInputs() {
    int out = 33, in = 64;
    float[] w = random(out * in, 3);
    float[] before = w.clone();
    Pruning.TWO_FOUR.apply(w, out, in);
    assertEquals(out * in / 2, zeros(w));
    for (int g = 0; g < w.length; g += 4) {
      int kept = 0;
      float[] mags = new float[4];
      for (int j = 0; j < 4; j++) mags[j] = Math.abs(before[g + j]);
      float[] sorted = mags.clone();
      Arrays.sort(sorted);
      for (int j = 0; j < 4; j++) {
        if (w[g + j] != 0) {
          kept++;
          assertEquals(before[g + j], w[g + j]);
          assertTrue(mags[j] >= sorted[2], "group at " + g + ": kept a weight smaller than the second largest");
        }
      }
      assertEquals(2, kept, "group at " + g + " (row " + g / in + "): 2:4 keeps exactly 2 of 4");
    }
    // groups never straddle rows: each row has in / 2 zeros
    for (int o = 0; o < out; o++) assertEquals(in / 2, zeros(Arrays.copyOfRange(w, o * in, (o + 1) * in)));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Pruning.TWO_FOUR.apply(new float[6], 1, 6));
    assertTrue(e.getMessage().contains("multiple of 4"), e.getMessage());
    // ties keep the lower index
    float[] t = {1, 1, 1, 1};
    Pruning.TWO_FOUR.apply(t, 1, 4);
    assertArrayEquals(new float[] {1, 1, 0, 0}, t);
  }

  @Test
  void prunedThenQuantizedDequantizesToZerosWherePruned() {
    int out = 24, in = 256;
    for (Pruning p : new Pruning[] {Pruning.TWO_FOUR, Pruning.unstructured(0.5)}) {
      for (Quantization q : new Quantization[] {Quantization.INT8, Quantization.INT4}) {
        float[] pruned = p.apply(random(out * in, 11), out, in);
        QuantizedWeights qw = QuantizedWeights.quantize(pruned, out, in, q);
        float[] deq = qw.dequantize();
        for (int o = 0; o < out; o++) {
          for (int i = 0; i < in; i++) {
            int at = o * in + i;
            float scale = qw.scales()[o * qw.groups() + i / qw.group()];
            if (pruned[at] == 0) assertEquals(0f, deq[at], p + " " + q + ": pruned [" + o + ", " + i + "] is not zero after dequantizing");
            else assertEquals(pruned[at], deq[at], scale / 2 + 1e-7f, p + " " + q + " [" + o + ", " + i + "]: off by more than half a step");
          }
        }
        // on an engine: the Java twin's matmul of the pruned, quantized weight equals x . dequantized
        try (JavaOps ops = new JavaOps()) {
          float[] x = random(2 * in, 5);
          LinearWeight lw = ops.uploadLinear(pruned, out, in, q);
          Tensor xt = ops.upload(x);
          Ops.Scope sc = ops.scope();
          Tensor y = ops.alloc(2 * out);
          ops.linear(y, xt, lw, null, 2);
          float[] got = ops.read(y);
          sc.close();
          for (int r = 0; r < 2; r++) {
            for (int o = 0; o < out; o++) {
              double ref = 0;
              for (int i = 0; i < in; i++) ref += (double) x[r * in + i] * deq[o * in + i];
              assertEquals(ref, got[r * out + o], 1e-5, p + " " + q + " row " + r + " out " + o);
            }
          }
        }
      }
    }
  }

  @Test
  void sixteenBitWeightsArePrunedInPlace() {
    int out = 8, in = 16;
    float[] f = random(out * in, 9);
    char[] bits = new char[f.length];
    for (int i = 0; i < f.length; i++) { bits[i] = (char) (Float.floatToIntBits(f[i]) >>> 16); f[i] = DType.BF16.toFloat(bits[i]); }
    char[] before = bits.clone();
    Pruning.TWO_FOUR.apply16(bits, f, out, in);
    float[] want = Pruning.TWO_FOUR.apply(f.clone(), out, in);
    for (int i = 0; i < bits.length; i++) assertEquals(want[i] == 0 ? 0 : before[i], bits[i], "bf16 entry " + i);
  }

  @Test
  void flagValues() {
    assertEquals(Pruning.NONE, Pruning.parse(null));
    assertEquals(Pruning.NONE, Pruning.parse("none"));
    assertEquals(Pruning.TWO_FOUR, Pruning.parse("2:4"));
    assertEquals(Pruning.unstructured(0.5), Pruning.parse("Unstructured:0.5"));
    assertEquals("prune0.5", Pruning.parse("unstructured:0.5").label());
    assertEquals("prune2:4", Pruning.TWO_FOUR.label());
    assertEquals("unstructured:0.25", Pruning.unstructured(0.25).toString());
    for (String bad : new String[] {"4:8", "unstructured", "unstructured:1", "unstructured:-0.1", "50%"}) {
      assertThrows(IllegalArgumentException.class, () -> Pruning.parse(bad), bad);
    }
    assertEquals("+prune2:4+int8", EngineConfig.defaults().withPrune(Pruning.TWO_FOUR).withQuantize(Quantization.INT8).weightsSuffix());
    assertEquals("", EngineConfig.defaults().weightsSuffix());
  }
}
