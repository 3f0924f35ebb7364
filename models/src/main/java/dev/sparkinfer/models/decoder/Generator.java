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
   * How prompts fill cache entries and give the logits at each one's last position [k × vocab]: prompts
   * {@code which[0..k)} (indices into the generate call's list) go to entries {@code first .. first + k - 1}. The
   * default is the model's forward over the tokens; a multimodal model puts image features at the image positions
   * (LLaVA).
   */
  @FunctionalInterface
  public interface Prefill {
    float[] logits(int first, int[] which, int[][] prompts);
  }

  /** Generates for each prompt; {@code keys[i]} (e.g. the row id's hash) seeds prompt i's random stream. */
  public List<Output> generate(List<int[]> prompts, long[] keys) { return generate(prompts, keys, null); }

  /**
   * Generates for each prompt with continuous batching: the cache's entries are slots; a sequence that ends (EOS or
   * the length limit) leaves its slot at once and the next prompt is prefilled into it, so the engine never decodes for
   * finished sequences while prompts wait. Each step decodes one token for every running sequence in one forward pass.
   * Results do not depend on which slot or beside which others a prompt ran (each row's random stream is its own).
   *
   * @param prefill how prompts fill their entries; null: the model's forward over the prompt tokens
   */
  public List<Output> generate(List<int[]> prompts, long[] keys, Prefill prefill) {
    int n = prompts.size(), slots = model.entries(), vocab = model.vocabSize();
    for (int[] p : prompts) {
      if (p.length == 0) throw new IllegalArgumentException("an empty prompt");
      if (p.length + s.maxNewTokens() > model.capacity()) {
        throw new IllegalArgumentException("a prompt of " + p.length + " tokens plus " + s.maxNewTokens() + " new tokens exceeds the "
            + model.capacity() + " positions the model was loaded for");
      }
    }
    Prefill fill = prefill != null ? prefill : (first, which, ps) -> model.forward(first, ps, new int[ps.length], false);
    Output[] out = new Output[n];
    int[] prompt = new int[slots]; // the prompt each slot runs, -1: free
    java.util.Arrays.fill(prompt, -1);
    int[][] made = new int[slots][s.maxNewTokens()];
    int[] count = new int[slots], pos = new int[slots];
    double[] lp = new double[slots];
    SplittableRandom[] rnd = new SplittableRandom[slots];
    float[] logits = new float[slots * vocab]; // each running slot's next-token logits
    int next = 0;
    while (true) {
      // free slots take the next prompts; a run of consecutive new slots is prefilled in one pass
      int s0 = 0;
      while (s0 < slots && next < n) {
        if (prompt[s0] >= 0) {
          s0++;
          continue;
        }
        int s1 = s0;
        while (s1 < slots && prompt[s1] < 0 && next + (s1 - s0) < n) s1++;
        int k = s1 - s0;
        int[] which = new int[k];
        int[][] ps = new int[k][];
        for (int j = 0; j < k; j++) {
          int p = next++;
          which[j] = p;
          ps[j] = prompts.get(p);
          int slot = s0 + j;
          prompt[slot] = p;
          count[slot] = 0;
          lp[slot] = 0;
          pos[slot] = ps[j].length;
          rnd[slot] = new SplittableRandom(this.s.seed() * 0x9E3779B97F4A7C15L + keys[p]);
        }
        float[] first = fill.logits(s0, which, ps);
        System.arraycopy(first, 0, logits, s0 * vocab, k * vocab);
        s0 = s1;
      }
      // one token for every running sequence; the ones that end leave their slot
      int lo = slots, hi = -1;
      int[] token = new int[slots];
      for (int slot = 0; slot < slots; slot++) {
        int p = prompt[slot];
        if (p < 0) continue;
        int t = choose(logits, slot, vocab, rnd[slot]);
        lp[slot] += logProb(logits, slot, vocab, t);
        made[slot][count[slot]++] = t;
        String finish = this.s.stopAtEos() && isEos(t) ? "eos" : count[slot] == this.s.maxNewTokens() ? "length" : null;
        if (finish != null) {
          out[p] = new Output(java.util.Arrays.copyOf(made[slot], count[slot]), lp[slot] / count[slot], finish);
          prompt[slot] = -1;
        } else {
          token[slot] = t;
          lo = Math.min(lo, slot);
          hi = Math.max(hi, slot);
        }
      }
      if (hi < 0) {
        if (next >= n) break; // nothing running, nothing waiting
        continue; // every running sequence ended this step: fill the slots again
      }
      // decode the running slots lo..hi in one pass (a free slot inside the range idles at position 0: its entry is
      // rewritten by the next prefill)
      int[][] step = new int[hi - lo + 1][];
      int[] at = new int[hi - lo + 1];
      for (int slot = lo; slot <= hi; slot++) {
        boolean running = prompt[slot] >= 0;
        step[slot - lo] = new int[] {running ? token[slot] : 0};
        at[slot - lo] = running ? pos[slot] + count[slot] - 1 : 0;
      }
      float[] got = model.forward(lo, step, at, false);
      System.arraycopy(got, 0, logits, lo * vocab, got.length);
    }
    return java.util.Arrays.asList(out);
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
