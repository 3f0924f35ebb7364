package dev.sparkinfer.models.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.Fixtures;
import dev.sparkinfer.models.gpt2.Gpt2Model;
import dev.sparkinfer.models.llama.LlamaModel;
import dev.sparkinfer.models.weights.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The decoder families against the golden fixtures (nanoGPT for GPT-2, llama2.c for LLaMA and its rope-scaled and
 * LoRA variants, mistral-inference's MoE for Mixtral), on every engine: raw logits of prompt 0 within 1e-3 of the logit
 * range, every top-20 (id, log-prob) pair of log_softmax(logits / T) at T = 1 and 2 within 1e-4 x max(1, |log-prob|)
 * (the fixtures README's float32 tolerance; neighbours closer than that may swap), greedy continuations exact; then all prompts at once as one ragged batch (prefill, then batched
 * decoding at ragged positions) give the same last-token logits and the same greedy tokens.
 */
class DecoderFixtureTest {
  @TempDir Path tmp;

  static Stream<Arguments> cases() {
    List<Arguments> all = new ArrayList<>();
    for (String engine : new String[] {"java", "cpu", "opencl"}) {
      for (String f : new String[] {"gpt2-tiny", "llama-tiny", "llama-tiny/rope_scaled", "llama-tiny/lora", "mixtral-tiny"}) {
        all.add(Arguments.of(f, engine));
      }
    }
    return all.stream();
  }

  @ParameterizedTest(name = "{0} on {1}")
  @MethodSource("cases")
  void matchesTheReference(String fixture, String engine) throws Exception {
    Path dir = Fixtures.require(fixture);
    if (engine.equals("opencl")) {
      assumeTrue(Devices.openclRuns() || Boolean.getBoolean("sparkinfer.requireOpenCL"), "no OpenCL device");
    }
    JsonNode expected = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("expected.json")));
    int topK = expected.path("top_k").asInt(), steps = expected.path("greedy_new_tokens").asInt();
    List<int[]> prompts = new ArrayList<>();
    for (JsonNode p : expected.path("input_ids")) {
      int[] ids = new int[p.size()];
      for (int i = 0; i < ids.length; i++) ids[i] = p.get(i).asInt();
      prompts.add(ids);
    }
    // the folder's tokenizer, with the model's template, gives the reference's ids for the prompts
    TextTokenizer tok = DecoderTokenizers.load(fixture.contains("/") ? dir.getParent() : dir);
    for (int p = 0; p < prompts.size(); p++) {
      assertArrayEquals(prompts.get(p), tok.encode(expected.path("prompts").get(p).asText()), fixture + " prompt " + p + " token ids");
    }
    int longest = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
    int capacity = longest + steps + 1;
    try (Ops ops = Devices.open(DeviceChoice.parse(engine), EngineConfig.defaults().withCpuThreads(2));
         SafeTensors want = SafeTensors.open(dir.resolve("expected.safetensors"))) {
      // the engine asked for is the one that runs (opencl is strict: a kernel falling back to Java threads throws)
      assertEquals(engine.equals("java") ? "java" : engine, ops.device().kind(), "engine " + ops.device());
      CausalLm model = load(fixture, dir, ops, prompts.size(), capacity);
      if (!fixture.endsWith("rope_scaled") && !engine.equals("opencl")) { // counted short of what the engine stores (the
        // CPU engine pads packed panels), the bank would grow by half again; the layers a LoRA adapter updates load as
        // float32, and are reserved in the float banks
        boolean lora = fixture.endsWith("lora");
        try (var w = dev.sparkinfer.models.weights.SafeTensors.openModelDir(lora ? dir.getParent() : dir);
             var adapter = lora ? dev.sparkinfer.models.llama.LoraAdapter.open(dir) : null) {
          dev.sparkinfer.models.Reservations.assertBanksFit(ops, w, dev.sparkinfer.kernels.Quantization.NONE,
              n -> adapter != null && adapter.touches(n) ? dev.sparkinfer.models.weights.WeightMemory.Load.FLOAT_LINEAR : dev.sparkinfer.models.weights.WeightMemory.Load.LINEAR, fixture + " on " + engine);
        }
      }
      int vocab = model.vocabSize();
      boolean golden = !fixtureLacksAttentionBias(dir);
      float[][] singleLast = new float[prompts.size()][];
      int[][] singleGreedy = new int[prompts.size()][];
      for (int p = 0; p < prompts.size(); p++) {
        int[] ids = prompts.get(p);
        float[] logits = model.forward(0, new int[][] {ids}, new int[] {0}, true);
        assertEquals((long) ids.length * vocab, logits.length);
        if (p == 0 && golden) compareLogits(fixture + " prompt0_logits on " + engine, want.floats("prompt0_logits"), logits);
        for (JsonNode t : golden ? expected.path("temperatures") : new ObjectMapper().createArrayNode()) {
          double temp = t.asDouble();
          String key = "prompt" + p + "_T" + (temp == Math.rint(temp) ? String.valueOf((int) temp) : String.valueOf(temp));
          compareTopK(fixture + " " + key + " on " + engine, want.longs(key + "_topk_ids"), want.floats(key + "_topk_logprobs"),
              logits, ids.length, vocab, temp, topK);
        }
        singleLast[p] = java.util.Arrays.copyOfRange(logits, (ids.length - 1) * vocab, ids.length * vocab);
        // greedy: the prompt, then one token at a time from the cache
        int[] out = java.util.Arrays.copyOf(ids, ids.length + steps);
        int next = argmax(singleLast[p], 0, vocab);
        for (int s = 0; s < steps; s++) {
          out[ids.length + s] = next;
          if (s + 1 < steps) next = argmax(model.forward(0, new int[][] {{next}}, new int[] {ids.length + s}, false), 0, vocab);
        }
        long[] g = want.longs("prompt" + p + "_greedy_ids");
        int[] gi = new int[g.length];
        for (int i = 0; i < g.length; i++) gi[i] = (int) g[i];
        if (golden) assertArrayEquals(gi, out, fixture + " prompt" + p + " greedy ids on " + engine);
        singleGreedy[p] = out;
      }
      // every prompt in one ragged batch, then batched decoding at ragged positions
      int n = prompts.size();
      int[][] batch = prompts.toArray(new int[0][]);
      int[] pos = new int[n];
      float[] last = model.forward(0, batch, pos, false);
      int[] next = new int[n];
      for (int p = 0; p < n; p++) {
        compareLogits(fixture + " prompt" + p + " last logits in a ragged batch on " + engine, singleLast[p],
            java.util.Arrays.copyOfRange(last, p * vocab, (p + 1) * vocab));
        next[p] = argmax(last, p, vocab);
        pos[p] = prompts.get(p).length;
      }
      // the head at chosen rows only (a teacher's labelled positions), in any order: those rows of the every-position call
      int q = longest;
      float[] every = model.forward(0, batch, new int[n], true);
      List<Integer> chosen = new ArrayList<>();
      for (int p = n - 1; p >= 0; p--) {
        int len = prompts.get(p).length;
        for (int i : new int[] {len - 1, len / 2, 0}) if (!chosen.contains(p * q + i)) chosen.add(p * q + i);
      }
      int[] rows = chosen.stream().mapToInt(Integer::intValue).toArray();
      float[] some = model.forwardRows(0, batch, new int[n], rows, (o, logits, r, bt) -> {
        assertEquals(rows.length, r);
        assertEquals(q, bt.maxLen());
        return o.read(logits);
      });
      for (int i = 0; i < rows.length; i++) {
        float[] want1 = java.util.Arrays.copyOfRange(every, rows[i] * vocab, (rows[i] + 1) * vocab);
        float[] got1 = java.util.Arrays.copyOfRange(some, i * vocab, (i + 1) * vocab);
        // the Java engine sums each row alone, the CPU engine each row in one order whatever the row count (its 16-bit
        // heads, tied ones too, packed); OpenCL may sum a few rows in another order than many
        if (!engine.equals("opencl")) assertArrayEquals(want1, got1, fixture + " logit row " + rows[i] + " alone");
        else compareLogits(fixture + " logit row " + rows[i] + " alone on " + engine, want1, got1);
      }
      assertThrows(IllegalArgumentException.class, () -> model.forwardRows(0, batch, new int[n], new int[] {n * q}, (o, l, r, bt) -> null));
      for (int s = 0; s < steps; s++) {
        int[][] step = new int[n][];
        for (int p = 0; p < n; p++) {
          assertEquals(singleGreedy[p][pos[p]], next[p], fixture + " prompt" + p + " batched greedy token " + s + " on " + engine);
          step[p] = new int[] {next[p]};
        }
        if (s + 1 == steps) break;
        float[] l = model.forward(0, step, pos, false);
        for (int p = 0; p < n; p++) {
          next[p] = argmax(l, p, vocab);
          pos[p]++;
        }
      }
    }
  }

  /**
   * gpt2-tiny's model.safetensors holds no {@code attn.c_attn.bias} (26 tensors; GPT-2 checkpoints have one per block),
   * while the outputs in its expected.safetensors were computed with one: with the bias taken as zero, the logits differ
   * by up to 1.38 (0.025 of the range) already at position 0, where attention reduces to the value projection; an
   * independent numpy forward of the stored weights gives the same 1.38. Until the fixture is regenerated with the bias,
   * its golden numbers cannot be met by any engine; the batched-against-single checks still run, and the
   * LLaMA-family fixtures exercise the shared decoding path against their references.
   */
  static boolean fixtureLacksAttentionBias(Path dir) {
    if (!dir.getFileName().toString().startsWith("gpt2")) return false;
    try (SafeTensors w = SafeTensors.open(dir.resolve("model.safetensors"))) {
      boolean lacks = w.has("transformer.h.0.attn.c_attn.weight") && !w.has("transformer.h.0.attn.c_attn.bias");
      if (lacks) System.out.println(dir + ": the fixture lacks attn.c_attn.bias that its reference used; golden comparisons skipped");
      return lacks;
    }
  }

  private CausalLm load(String fixture, Path dir, Ops ops, int entries, int capacity) throws Exception {
    if (fixture.startsWith("gpt2")) return Gpt2Model.load(dir, ops, entries, capacity);
    if (fixture.endsWith("lora")) return LlamaModel.load(dir.getParent(), dir, ops, entries, capacity);
    if (fixture.endsWith("rope_scaled")) { // its config beside the base model's weights, as a folder of its own
      Path m = Files.createDirectories(tmp.resolve("rope_scaled"));
      Files.copy(dir.resolve("config.json"), m.resolve("config.json"));
      Files.createSymbolicLink(m.resolve("model.safetensors"), dir.getParent().resolve("model.safetensors").toAbsolutePath());
      return LlamaModel.load(m, null, ops, entries, capacity);
    }
    return LlamaModel.load(dir, null, ops, entries, capacity);
  }

  static int argmax(float[] x, int row, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[row * n + i] > x[row * n + best]) best = i;
    return best;
  }

  private static void compareLogits(String what, float[] want, float[] got) {
    assertEquals(want.length, got.length, what + ": length");
    float lo = Float.MAX_VALUE, hi = -Float.MAX_VALUE;
    double worst = 0;
    for (int i = 0; i < want.length; i++) {
      lo = Math.min(lo, want[i]);
      hi = Math.max(hi, want[i]);
      worst = Math.max(worst, Math.abs(want[i] - got[i]));
    }
    double range = hi - lo;
    System.out.printf("%s: max |diff| %.3g (%.2g of the logit range %.3f)%n", what, worst, worst / range, range);
    assertTrue(worst <= 1e-3 * range, what + ": max |diff| " + worst + " exceeds 1e-3 of the logit range " + range);
  }

  /** log_softmax(logits / T) per position in double, its top k against the reference's (id, log-prob) pairs. */
  private static void compareTopK(String what, long[] wantIds, float[] wantLp, float[] logits, int positions, int vocab, double t, int k) {
    double worst = 0;
    for (int i = 0; i < positions; i++) {
      double mx = Double.NEGATIVE_INFINITY;
      for (int v = 0; v < vocab; v++) mx = Math.max(mx, logits[i * vocab + v] / t);
      double sum = 0;
      for (int v = 0; v < vocab; v++) sum += Math.exp(logits[i * vocab + v] / t - mx);
      double lse = mx + Math.log(sum);
      int[] order = topIds(logits, i * vocab, vocab, k); // our top k: ids by logit, descending
      for (int j = 0; j < k; j++) {
        int wantId = (int) wantIds[i * k + j];
        double wantValue = wantLp[i * k + j];
        double ours = logits[i * vocab + wantId] / t - lse; // our log-prob of the reference's id
        double tol = 1e-4 * Math.max(1, Math.abs(wantValue));
        worst = Math.max(worst, Math.abs(ours - wantValue));
        assertTrue(Math.abs(ours - wantValue) <= tol, what + ": position " + i + " rank " + j + " id " + wantId + ": log-prob "
            + ours + ", reference " + wantValue);
        int ourId = order[j];
        double ourValue = logits[i * vocab + ourId] / t - lse;
        assertTrue(ourId == wantId || Math.abs(ourValue - wantValue) <= tol, what + ": position " + i + " rank " + j + ": id "
            + ourId + " (" + ourValue + "), reference id " + wantId + " (" + wantValue + ")");
      }
    }
    System.out.printf("%s: top-%d pairs at %d positions, max |log-prob diff| %.3g%n", what, k, positions, worst);
  }

  /** The ids of a row's k largest logits, larger first (Float.compare), equal ones by lower id (a stable sort's order). */
  private static int[] topIds(float[] logits, int row, int vocab, int k) {
    int[] ids = new int[k];
    int n = 0;
    for (int v = 0; v < vocab; v++) {
      float x = logits[row + v];
      if (n == k && Float.compare(x, logits[row + ids[k - 1]]) <= 0) continue;
      int at = n == k ? k - 1 : n++;
      for (; at > 0 && Float.compare(x, logits[row + ids[at - 1]]) > 0; at--) ids[at] = ids[at - 1];
      ids[at] = v;
    }
    return ids;
  }
}
