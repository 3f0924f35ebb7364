package dev.sparkinfer.models.decoder;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Batched generation (sequence-level distillation, captioning): the prompts of a batch are prefilled together (ragged),
 * then every unfinished sequence gets one token per step from one batched forward pass over the KV cache. Tokens are
 * chosen greedily (argmax; ties: lowest id) or sampled at a temperature from the top-p nucleus, with a random stream
 * per sequence seeded from the run's seed and the sequence's own key, so the output does not depend on how sequences
 * are batched or partitioned.
 */
public final class Generator {
  /**
   * @param temperature 0 for greedy
   * @param topP        nucleus mass (1 = the whole distribution)
   * @param eos         token ids that end a sequence when {@code stopAtEos}
   */
  public record Settings(int maxNewTokens, float temperature, float topP, long seed, boolean stopAtEos, int[] eos) {
    public Settings {
      if (maxNewTokens < 1) throw new IllegalArgumentException("--max-new-tokens must be at least 1, got " + maxNewTokens);
      if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("--temperature must be >= 0, got " + temperature);
      if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
    }

    public boolean greedy() { return temperature == 0; }
  }

  /** New tokens (EOS included when it ended the sequence), their mean log-prob at T = 1, and why it ended. */
  public record Output(int[] tokens, double meanLogprob, String finish) {}

  private final CausalLm model;
  private final Settings s;

  public Generator(CausalLm model, Settings settings) {
    this.model = model;
    this.s = settings;
  }

  /**
   * How a batch of prompts fills the cache and gives the logits at each prompt's last position [b × vocab]: the
   * model's forward over the tokens for text, or a multimodal prefill (LLaVA puts image features at the image
   * positions). {@code from} is the index of the batch's first prompt.
   */
  @FunctionalInterface
  public interface Prefill {
    float[] logits(int from, int[][] prompts);
  }

  /** Generates for each prompt; {@code keys[i]} (e.g. the row id's hash) seeds prompt i's random stream. */
  public List<Output> generate(List<int[]> prompts, long[] keys) { return generate(prompts, keys, null); }

  /** The same with the batches' prefill done by {@code prefill} (null: the model's forward over the prompt tokens). */
  public List<Output> generate(List<int[]> prompts, long[] keys, Prefill prefill) {
    List<Output> out = new ArrayList<>(prompts.size());
    for (int i = 0; i < prompts.size(); i += model.entries()) {
      int end = Math.min(prompts.size(), i + model.entries());
      out.addAll(batch(i, prompts.subList(i, end), Arrays.copyOfRange(keys, i, end), prefill));
    }
    return out;
  }

  private List<Output> batch(int from, List<int[]> prompts, long[] keys, Prefill prefill) {
    int b = prompts.size(), vocab = model.vocabSize();
    for (int[] p : prompts) {
      if (p.length == 0) throw new IllegalArgumentException("an empty prompt");
      if (p.length + s.maxNewTokens() > model.capacity()) {
        throw new IllegalArgumentException("a prompt of " + p.length + " tokens plus " + s.maxNewTokens() + " new tokens exceeds the "
            + model.capacity() + " positions the model was loaded for");
      }
    }
    SplittableRandom[] rnd = new SplittableRandom[b];
    for (int e = 0; e < b; e++) rnd[e] = new SplittableRandom(s.seed() * 0x9E3779B97F4A7C15L + keys[e]);
    int[][] made = new int[b][s.maxNewTokens()];
    int[] count = new int[b], pos = new int[b];
    double[] lp = new double[b];
    String[] finish = new String[b];
    float[] logits = prefill != null ? prefill.logits(from, prompts.toArray(new int[0][]))
        : model.forward(0, prompts.toArray(new int[0][]), new int[b], false);
    for (int e = 0; e < b; e++) pos[e] = prompts.get(e).length;
    while (true) {
      int[][] step = new int[b][];
      boolean any = false;
      for (int e = 0; e < b; e++) {
        if (finish[e] != null) {
          step[e] = new int[] {made[e][Math.max(0, count[e] - 1)]}; // a finished entry idles (its output is ignored)
          continue;
        }
        int t = choose(logits, e, vocab, rnd[e]);
        lp[e] += logProb(logits, e, vocab, t);
        made[e][count[e]++] = t;
        if (s.stopAtEos() && isEos(t)) finish[e] = "eos";
        else if (count[e] == s.maxNewTokens()) finish[e] = "length";
        step[e] = new int[] {t};
        any |= finish[e] == null;
      }
      if (!any) break;
      int[] at = new int[b];
      for (int e = 0; e < b; e++) at[e] = finish[e] == null ? pos[e] + count[e] - 1 : Math.min(model.capacity() - 1, pos[e] + count[e] - 1);
      logits = model.forward(0, step, at, false);
    }
    List<Output> out = new ArrayList<>(b);
    for (int e = 0; e < b; e++) out.add(new Output(Arrays.copyOf(made[e], count[e]), lp[e] / count[e], finish[e]));
    return out;
  }

  private boolean isEos(int t) {
    for (int e : s.eos()) if (e == t) return true;
    return false;
  }

  private int choose(float[] logits, int row, int vocab, SplittableRandom rnd) {
    int base = row * vocab;
    if (s.greedy()) {
      int best = 0;
      for (int v = 1; v < vocab; v++) if (logits[base + v] > logits[base + best]) best = v;
      return best;
    }
    // softmax at T, then the smallest set of most likely tokens whose mass reaches top-p, renormalised
    double mx = Double.NEGATIVE_INFINITY;
    for (int v = 0; v < vocab; v++) mx = Math.max(mx, logits[base + v] / s.temperature());
    double[] p = new double[vocab];
    double sum = 0;
    for (int v = 0; v < vocab; v++) sum += p[v] = Math.exp(logits[base + v] / s.temperature() - mx);
    Integer[] order;
    int keep = vocab;
    if (s.topP() < 1) {
      order = new Integer[vocab];
      for (int v = 0; v < vocab; v++) order[v] = v;
      Arrays.sort(order, (a, c) -> p[a] != p[c] ? Double.compare(p[c], p[a]) : Integer.compare(a, c));
      double mass = 0;
      for (keep = 0; keep < vocab && mass < s.topP() * sum; keep++) mass += p[order[keep]];
      sum = mass;
    } else {
      order = null;
    }
    double u = rnd.nextDouble() * sum, acc = 0;
    for (int i = 0; i < keep; i++) {
      int v = order == null ? i : order[i];
      acc += p[v];
      if (u < acc) return v;
    }
    return order == null ? vocab - 1 : order[keep - 1];
  }

  private static double logProb(float[] logits, int row, int vocab, int t) {
    int base = row * vocab;
    double mx = Double.NEGATIVE_INFINITY;
    for (int v = 0; v < vocab; v++) mx = Math.max(mx, logits[base + v]);
    double sum = 0;
    for (int v = 0; v < vocab; v++) sum += Math.exp(logits[base + v] - mx);
    return logits[base + t] - mx - Math.log(sum);
  }
}
