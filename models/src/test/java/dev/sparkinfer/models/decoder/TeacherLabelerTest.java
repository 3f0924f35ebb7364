package dev.sparkinfer.models.decoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.CpuOps;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.Fixtures;
import dev.sparkinfer.models.llama.LlamaModel;
import dev.sparkinfer.models.weights.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Teacher labels on llama-tiny (CPU engine): against the fixture's top-k, and windows that label each position once. */
class TeacherLabelerTest {
  @Test
  void windowsLabelEveryPositionExactlyOnceWithTheMostLeftContext() {
    for (int n : new int[] {1, 2, 5, 8, 9, 31, 100}) {
      for (int[] ws : new int[][] {{8, 8}, {8, 3}, {8, 1}, {5, 2}, {128, 64}}) {
        int[] count = new int[n];
        int lastStart = -1;
        for (TeacherLabeler.Window w : TeacherLabeler.windows(0, n, ws[0], ws[1])) {
          assertTrue(w.end() - w.start() <= ws[0] && w.start() > lastStart, "windows advance and fit: " + w);
          lastStart = w.start();
          for (int p = w.from(); p < w.end(); p++) {
            count[p]++;
            // left context: everything before p since the window's start, at least maxLength - stride once p >= maxLength
            if (p >= ws[0]) assertTrue(p - w.start() >= ws[0] - ws[1], "position " + p + " in " + w);
          }
        }
        for (int p = 0; p < n; p++) assertEquals(1, count[p], "position " + p + " of " + n + " with window/stride " + Arrays.toString(ws));
      }
    }
  }

  @Test
  void settingsThatWouldLeavePositionsUnlabelledAreRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TeacherLabeler.Settings(20, 2f, 8, 9));
    assertTrue(e.getMessage().contains("--stride"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new TeacherLabeler.Settings(0, 2f, 8, 4));
    assertThrows(IllegalArgumentException.class, () -> new TeacherLabeler.Settings(20, 0f, 8, 4));
  }

  @Test
  void labelsMatchTheFixtureAndWindowsMatchTheirOwnForwardPass() throws Exception {
    Path dir = Fixtures.require("llama-tiny");
    JsonNode expected = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("expected.json")));
    List<int[]> prompts = new ArrayList<>();
    for (JsonNode p : expected.path("input_ids")) {
      int[] ids = new int[p.size()];
      for (int i = 0; i < ids.length; i++) ids[i] = p.get(i).asInt();
      prompts.add(ids);
    }
    try (Ops ops = new CpuOps(2); SafeTensors want = SafeTensors.open(dir.resolve("expected.safetensors"))) {
      CausalLm model = LlamaModel.load(dir, null, ops, 3, 32);
      int vocab = model.vocabSize();
      assertThrows(IllegalArgumentException.class, () -> new TeacherLabeler(model, new TeacherLabeler.Settings(vocab + 1, 1f, 16, 8), 4096));

      // one window per prompt: the fixture's top-20 at T = 2
      List<TeacherLabeler.Labels> whole = new TeacherLabeler(model, new TeacherLabeler.Settings(20, 2f, 32, 16), 4096).label(prompts);
      for (int p = 0; p < prompts.size(); p++) {
        long[] ids = want.longs("prompt" + p + "_T2_topk_ids");
        float[] lps = want.floats("prompt" + p + "_T2_topk_logprobs");
        TeacherLabeler.Labels l = whole.get(p);
        for (int j = 0; j < ids.length; j++) {
          double tol = 1e-4 * Math.max(1, Math.abs(lps[j]));
          assertTrue(l.topkIds()[j] == ids[j] || Math.abs(l.topkLogprobs()[j] - lps[j]) <= tol, "prompt " + p + " pair " + j);
          assertEquals(lps[j], l.topkLogprobs()[j], tol, "prompt " + p + " pair " + j);
        }
        assertTrue(Float.isNaN(l.targetLogprob()[l.positions() - 1]), "the last position has no next token");
      }

      // small windows: every label equals the log-softmax of that window's own forward pass, computed here
      int[] text = prompts.get(2);
      TeacherLabeler.Settings small = new TeacherLabeler.Settings(5, 2f, 6, 2);
      TeacherLabeler.Labels l = new TeacherLabeler(model, small, 12).label(List.of(text, prompts.get(0))).get(0);
      double sum1 = 0;
      for (TeacherLabeler.Window w : TeacherLabeler.windows(0, text.length, 6, 2)) {
        float[] logits = model.forward(0, new int[][] {Arrays.copyOfRange(text, w.start(), w.end())}, new int[] {0}, true);
        for (int pos = w.from(); pos < w.end(); pos++) {
          int row = pos - w.start();
          double[] lsT = logSoftmax(logits, row, vocab, 2), ls1 = logSoftmax(logits, row, vocab, 1);
          Integer[] order = new Integer[vocab];
          for (int v = 0; v < vocab; v++) order[v] = v;
          Arrays.sort(order, (a, b2) -> Double.compare(lsT[b2], lsT[a]));
          for (int j = 0; j < 5; j++) {
            assertEquals(lsT[order[j]], l.topkLogprobs()[pos * 5 + j], 2e-5, "position " + pos + " rank " + j);
          }
          if (pos + 1 < text.length) {
            assertEquals(lsT[text[pos + 1]], l.targetLogprob()[pos], 2e-5, "target at " + pos);
            sum1 += ls1[text[pos + 1]];
          }
        }
      }
      assertEquals(sum1, l.sumLogprob(), 1e-3, "sum of next-token log-probs at T = 1");
    }
  }

  private static double[] logSoftmax(float[] logits, int row, int vocab, double t) {
    double mx = Double.NEGATIVE_INFINITY;
    for (int v = 0; v < vocab; v++) mx = Math.max(mx, logits[row * vocab + v] / t);
    double s = 0;
    for (int v = 0; v < vocab; v++) s += Math.exp(logits[row * vocab + v] / t - mx);
    double lse = mx + Math.log(s);
    double[] out = new double[vocab];
    for (int v = 0; v < vocab; v++) out[v] = logits[row * vocab + v] / t - lse;
    return out;
  }
}
