package dev.sparkinfer.models.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.util.List;
import org.junit.jupiter.api.Test;

/** Batched generation on llama-tiny: greedy equals the fixture's continuations; sampling is the same however batched. */
class GeneratorTest {
  @Test
  void greedyBatchedEqualsTheReferenceAndSamplingDependsOnlyOnSeedAndKey() throws Exception {
    Path dir = Fixtures.require("llama-tiny");
    JsonNode expected = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("expected.json")));
    List<int[]> prompts = new ArrayList<>();
    for (JsonNode p : expected.path("input_ids")) {
      int[] ids = new int[p.size()];
      for (int i = 0; i < ids.length; i++) ids[i] = p.get(i).asInt();
      prompts.add(ids);
    }
    long[] keys = {11, 22, 33, 44};
    try (Ops ops = new CpuOps(2); SafeTensors want = SafeTensors.open(dir.resolve("expected.safetensors"))) {
      CausalLm model = LlamaModel.load(dir, null, ops, 4, 48);
      List<Generator.Output> greedy = new Generator(model, new Generator.Settings(24, 0f, 1f, 0, false, new int[] {128001})).generate(prompts, keys);
      for (int p = 0; p < prompts.size(); p++) {
        long[] g = want.longs("prompt" + p + "_greedy_ids");
        int[] cont = new int[24];
        for (int i = 0; i < 24; i++) cont[i] = (int) g[prompts.get(p).length + i];
        assertArrayEquals(cont, greedy.get(p).tokens(), "prompt " + p + " greedy continuation");
        assertEquals("length", greedy.get(p).finish());
        assertTrue(greedy.get(p).meanLogprob() < 0);
      }
      // a nucleus too small to hold two tokens is greedy
      List<Generator.Output> narrow = new Generator(model, new Generator.Settings(6, 1f, 1e-6f, 5, false, new int[0])).generate(prompts, keys);
      for (int p = 0; p < prompts.size(); p++) {
        assertArrayEquals(java.util.Arrays.copyOf(greedy.get(p).tokens(), 6), narrow.get(p).tokens(), "top-p ~ 0 is greedy, prompt " + p);
      }
      // sampling: the same seed and key give the same tokens alone or in any batch; another seed differs somewhere
      Generator.Settings sample = new Generator.Settings(12, 1.5f, 0.9f, 7, true, new int[] {128001});
      List<Generator.Output> together = new Generator(model, sample).generate(prompts, keys);
      for (int p = 0; p < prompts.size(); p++) {
        Generator.Output alone = new Generator(model, sample).generate(List.of(prompts.get(p)), new long[] {keys[p]}).get(0);
        assertArrayEquals(together.get(p).tokens(), alone.tokens(), "prompt " + p + " sampled alone vs batched");
        for (int t : alone.tokens()) assertTrue(t >= 0 && t < model.vocabSize());
      }
      List<Generator.Output> other = new Generator(model, new Generator.Settings(12, 1.5f, 0.9f, 8, true, new int[] {128001})).generate(prompts, keys);
      boolean differs = false;
      for (int p = 0; p < prompts.size(); p++) differs |= !java.util.Arrays.equals(other.get(p).tokens(), together.get(p).tokens());
      assertTrue(differs, "another seed samples other tokens");
      assertThrows(IllegalArgumentException.class,
          () -> new Generator(model, new Generator.Settings(40, 0f, 1f, 0, false, new int[0])).generate(prompts, keys));
    }
  }

  /**
   * Continuous batching: 11 prompts through a 3-entry cache, sequences ending at different steps (a stop token picked
   * to end some early, the length limit the rest), slots refilled as they free up: every output equals the prompt
   * generated alone.
   */
  @Test
  void slotsRefilledAsSequencesEndGiveWhatEachPromptGivesAlone() throws Exception {
    Path dir = Fixtures.require("llama-tiny");
    JsonNode expected = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("expected.json")));
    List<int[]> base = new ArrayList<>();
    for (JsonNode p : expected.path("input_ids")) {
      int[] ids = new int[p.size()];
      for (int i = 0; i < ids.length; i++) ids[i] = p.get(i).asInt();
      base.add(ids);
    }
    List<int[]> prompts = new ArrayList<>();
    long[] keys = new long[11];
    for (int i = 0; i < 11; i++) {
      int[] b = base.get(i % base.size());
      prompts.add(java.util.Arrays.copyOf(b, Math.max(2, b.length - i % 3))); // ragged lengths
      keys[i] = 100 + i;
    }
    try (Ops ops = new CpuOps(2)) {
      CausalLm model = LlamaModel.load(dir, null, ops, 3, 48);
      // a stop token that some sampled sequences meet early: the most frequent token of a first run
      Generator.Settings probe = new Generator.Settings(10, 1.2f, 0.95f, 3, false, new int[0]);
      java.util.Map<Integer, Integer> freq = new java.util.HashMap<>();
      for (Generator.Output o : new Generator(model, probe).generate(prompts, keys)) for (int t : o.tokens()) freq.merge(t, 1, Integer::sum);
      int stop = freq.entrySet().stream().max(java.util.Map.Entry.comparingByValue()).orElseThrow().getKey();
      Generator.Settings settings = new Generator.Settings(10, 1.2f, 0.95f, 3, true, new int[] {stop});
      List<Generator.Output> together = new Generator(model, settings).generate(prompts, keys);
      int early = 0;
      for (int p = 0; p < prompts.size(); p++) {
        Generator.Output alone = new Generator(model, settings).generate(List.of(prompts.get(p)), new long[] {keys[p]}).get(0);
        assertArrayEquals(alone.tokens(), together.get(p).tokens(), "prompt " + p + " in a refilled slot vs alone");
        assertEquals(alone.finish(), together.get(p).finish());
        assertEquals(alone.meanLogprob(), together.get(p).meanLogprob(), 1e-4); // logits differ in the last bits with the batch's shape
        if (together.get(p).finish().equals("eos")) early++;
      }
      assertTrue(early >= 1 && early < prompts.size(), "some sequences end early, some run to the limit: " + early);
    }
  }

  /**
   * Prompts of many lengths fill the slots longest first, each prefill a run of consecutive slots whose padding is at
   * most an eighth of its rows; every prompt is prefilled once, and gives what it gives alone.
   */
  @Test
  void prefillsRunPromptsOfSimilarLengthsTogether() throws Exception {
    Path dir = Fixtures.require("llama-tiny");
    java.util.SplittableRandom rnd = new java.util.SplittableRandom(11);
    List<int[]> prompts = new ArrayList<>();
    long[] keys = new long[23];
    for (int i = 0; i < keys.length; i++) {
      int[] p = new int[1 + rnd.nextInt(30)];
      for (int t = 0; t < p.length; t++) p[t] = 1 + rnd.nextInt(500);
      prompts.add(p);
      keys[i] = i;
    }
    try (Ops ops = new CpuOps(2)) {
      CausalLm model = LlamaModel.load(dir, null, ops, 8, 48);
      Generator.Settings greedy = new Generator.Settings(4, 0f, 1f, 0, false, new int[0]);
      List<int[]> runs = new ArrayList<>();
      Generator.Prefill recorded = (first, which, ps) -> {
        runs.add(which.clone());
        return model.forward(first, ps, new int[ps.length], false);
      };
      List<Generator.Output> together = new Generator(model, greedy).generate(prompts, keys, recorded);
      int[] seen = new int[prompts.size()];
      int previous = Integer.MAX_VALUE;
      for (int[] run : runs) {
        long real = 0, longest = 0;
        for (int p : run) {
          seen[p]++;
          int len = prompts.get(p).length;
          assertTrue(len <= previous, "longest first: " + len + " after " + previous);
          previous = len;
          real += len;
          longest = Math.max(longest, len);
        }
        long rows = longest * run.length;
        assertTrue(rows - real <= rows / 8, "a run of " + run.length + " prompts pads " + (rows - real) + " of " + rows + " rows");
      }
      for (int p = 0; p < seen.length; p++) assertEquals(1, seen[p], "prompt " + p + " prefilled once");
      assertTrue(runs.size() < prompts.size(), "runs hold several prompts: " + runs.size() + " runs");
      for (int p = 0; p < prompts.size(); p++) {
        Generator.Output alone = new Generator(model, greedy).generate(List.of(prompts.get(p)), new long[] {keys[p]}).get(0);
        assertArrayEquals(alone.tokens(), together.get(p).tokens(), "prompt " + p + " in a run vs alone");
      }
    }
  }

  /**
   * Beam search on the KV cache (beams reordered by copying cache entries) equals the same search written plainly here:
   * every candidate sequence run from scratch through the model (no cache reuse), hypotheses kept as transformers'
   * BeamHypotheses keeps them; with and without an end token.
   */
  @Test
  void beamSearchOnTheCacheEqualsAPlainRecomputation() throws Exception {
    Path dir = Fixtures.require("llama-tiny");
    JsonNode expected = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("expected.json")));
    JsonNode p0 = expected.path("input_ids").get(0);
    int[] prompt = new int[p0.size()];
    for (int i = 0; i < prompt.length; i++) prompt[i] = p0.get(i).asInt();
    try (Ops ops = new CpuOps(2)) {
      CausalLm model = LlamaModel.load(dir, null, ops, 4, 48);
      int beams = 3, steps = 8;
      Generator.Output greedy = new Generator(model, new Generator.Settings(steps, 0f, 1f, 0, false, new int[0])).generate(List.of(prompt), new long[] {1}).get(0);
      // an end token the search meets: a token of the greedy continuation
      int stop = greedy.tokens()[3];
      for (boolean stopAtEos : new boolean[] {false, true}) {
        Generator.Settings beam = new Generator.Settings(steps, 0f, 1f, 0, stopAtEos, new int[] {stop}, beams, 1f);
        Generator.Output got = new Generator(model, beam).generate(List.of(prompt), new long[] {1}).get(0);
        int[] want = plainBeamSearch(model, prompt, beams, steps, stopAtEos ? stop : -1);
        assertArrayEquals(want, got.tokens(), "beam search, stop at eos " + stopAtEos);
      }
    }
  }

  /** Beam search with every sequence recomputed from position 0 in cache entry 0 (slow, plain). */
  static int[] plainBeamSearch(CausalLm model, int[] prompt, int beams, int steps, int eos) {
    int vocab = model.vocabSize();
    List<int[]> running = new ArrayList<>(List.of(new int[0]));
    List<Double> scores = new ArrayList<>(List.of(0.0));
    List<Object[]> finished = new ArrayList<>(); // {normalised score, tokens}
    for (int step = 0; step < steps; step++) {
      int curLen = prompt.length + step;
      List<double[]> cand = new ArrayList<>(); // {score, beam, token}
      for (int b = 0; b < running.size(); b++) {
        int[] seq = new int[prompt.length + running.get(b).length];
        System.arraycopy(prompt, 0, seq, 0, prompt.length);
        System.arraycopy(running.get(b), 0, seq, prompt.length, running.get(b).length);
        float[] logits = model.forward(0, new int[][] {seq}, new int[] {0}, false);
        double mx = Double.NEGATIVE_INFINITY, sum = 0;
        for (float v : logits) mx = Math.max(mx, v);
        for (float v : logits) sum += Math.exp(v - mx);
        for (int v = 0; v < vocab; v++) cand.add(new double[] {scores.get(b) + logits[v] - mx - Math.log(sum), b, v});
      }
      cand.sort((x, y) -> x[0] != y[0] ? Double.compare(y[0], x[0]) : Double.compare(x[1] * vocab + x[2], y[1] * vocab + y[2]));
      List<int[]> next = new ArrayList<>();
      List<Double> nextScores = new ArrayList<>();
      for (int rank = 0; rank < 2 * beams && next.size() < beams; rank++) {
        double[] c = cand.get(rank);
        int[] base = running.get((int) c[1]);
        int[] seq = java.util.Arrays.copyOf(base, base.length + 1);
        seq[base.length] = (int) c[2];
        if ((int) c[2] == eos) {
          if (rank < beams) finished.add(new Object[] {c[0] / curLen, seq});
        } else {
          next.add(seq);
          nextScores.add(c[0]);
        }
      }
      finished.sort((x, y) -> Double.compare((Double) y[0], (Double) x[0]));
      while (finished.size() > beams) finished.remove(finished.size() - 1);
      running = next;
      scores = nextScores;
      boolean done = finished.size() >= beams && (Double) finished.get(beams - 1)[0] >= cand.get(0)[0] / curLen;
      if (done) break;
      if (step == steps - 1) {
        for (int b = 0; b < running.size(); b++) finished.add(new Object[] {scores.get(b) / (prompt.length + running.get(b).length), running.get(b)});
        finished.sort((x, y) -> Double.compare((Double) y[0], (Double) x[0]));
      }
    }
    return (int[]) finished.get(0)[1];
  }

  /**
   * The nucleus draw sorts only the weights: it picks the very token the plain way picks (every id sorted by weight,
   * ties by lower id, the mass and the draw added in that order), over distributions with long runs of equal weights,
   * zeros, one heavy token, a few tokens, and softmaxes of random logits, at several top-p.
   */
  @Test
  void nucleusDrawIsThePlainSortedDraw() {
    java.util.Random r = new java.util.Random(5);
    int draws = 0;
    for (int c = 0; c < 60; c++) {
      int vocab = c % 6 == 5 ? 1 + r.nextInt(4) : 50 + r.nextInt(3000);
      double[] p = new double[vocab];
      for (int v = 0; v < vocab; v++) {
        p[v] = switch (c % 5) {
          case 0 -> Math.exp(r.nextGaussian() * 3); // a softmax of random logits
          case 1 -> new double[] {0, 0.25, 0.5, 1}[r.nextInt(4)]; // runs of ties, zeros
          case 2 -> v == vocab / 3 ? 1 : 1e-4 * r.nextInt(3); // one heavy token, ties among the rest
          case 3 -> 1.0 / (1 + r.nextInt(8));
          default -> r.nextDouble();
        };
      }
      if (c % 5 == 1) p[r.nextInt(vocab)] = 1; // never all zero
      double sum = 0;
      for (double w : p) sum += w;
      for (float topP : new float[] {0.05f, 0.5f, 0.9f, 0.999f}) {
        java.util.SplittableRandom a = new java.util.SplittableRandom(c), b = new java.util.SplittableRandom(c);
        for (int d = 0; d < 50; d++, draws++) {
          int want = plainNucleus(p, vocab, sum, topP, a), got = Generator.nucleus(p, vocab, sum, topP, b);
          assertEquals(want, got, "case " + c + ", top-p " + topP + ", draw " + d);
        }
      }
    }
    assertEquals(12_000, draws);
  }

  /** Every id sorted by weight (boxed, larger first, ties by lower id), the nucleus and the draw walked in that order. */
  private static int plainNucleus(double[] p, int vocab, double sum, float topP, java.util.SplittableRandom rnd) {
    Integer[] order = new Integer[vocab];
    for (int v = 0; v < vocab; v++) order[v] = v;
    java.util.Arrays.sort(order, (a, c) -> p[a] != p[c] ? Double.compare(p[c], p[a]) : Integer.compare(a, c));
    double mass = 0;
    int keep;
    for (keep = 0; keep < vocab && mass < topP * sum; keep++) mass += p[order[keep]];
    double u = rnd.nextDouble() * mass, acc = 0;
    for (int i = 0; i < keep; i++) {
      acc += p[order[i]];
      if (u < acc) return order[i];
    }
    return order[keep - 1];
  }
}
