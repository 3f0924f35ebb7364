package dev.sparkinfer.models.decoder;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Batched generation (sequence-level distillation, captioning): the prompts of a batch are prefilled in ragged runs of
 * similar lengths (longest first), then every unfinished sequence gets one token per step from one batched forward pass
 * over the KV cache. Tokens are chosen greedily (argmax; ties: lowest id) or sampled at a temperature from the top-p
 * nucleus, with a random stream per sequence seeded from the run's seed and the sequence's own key, so the output does
 * not depend on how sequences are batched or partitioned.
 */
public final class Generator {
  /**
   * @param temperature   0 for greedy
   * @param topP          nucleus mass (1 = the whole distribution)
   * @param eos           token ids that end a sequence when {@code stopAtEos}
   * @param beams         beam search width; 1: greedy or sampling
   * @param lengthPenalty beam search: a finished beam's score is its summed log-prob / length^lengthPenalty
   */
  public record Settings(int maxNewTokens, float temperature, float topP, long seed, boolean stopAtEos, int[] eos, int beams,
                         float lengthPenalty) {
    public Settings {
      if (maxNewTokens < 1) throw new IllegalArgumentException("--max-new-tokens must be at least 1, got " + maxNewTokens);
      if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("--temperature must be >= 0, got " + temperature);
      if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
      if (beams < 1) throw new IllegalArgumentException("--beams must be at least 1, got " + beams);
      if (beams > 1 && temperature != 0) throw new IllegalArgumentException("beam search is deterministic: --beams " + beams + " with --temperature " + temperature);
      if (!Float.isFinite(lengthPenalty)) throw new IllegalArgumentException("--length-penalty must be a number, got " + lengthPenalty);
    }

    public Settings(int maxNewTokens, float temperature, float topP, long seed, boolean stopAtEos, int[] eos) {
      this(maxNewTokens, temperature, topP, seed, stopAtEos, eos, 1, 1f);
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
    if (s.beams() > 1) {
      Prefill fill = prefill != null ? prefill : (first, which, ps) -> model.forward(first, ps, new int[ps.length], false);
      List<Output> out = new ArrayList<>(prompts.size());
      for (int p = 0; p < prompts.size(); p++) out.add(beamSearch(prompts.get(p), p, fill));
      return out;
    }
    int n = prompts.size(), slots = model.entries(), vocab = model.vocabSize();
    for (int[] p : prompts) {
      if (p.length == 0) throw new IllegalArgumentException("an empty prompt");
      if (p.length + s.maxNewTokens() > model.capacity()) {
        throw new IllegalArgumentException("a prompt of " + p.length + " tokens plus " + s.maxNewTokens() + " new tokens exceeds the "
            + model.capacity() + " positions the model was loaded for");
      }
    }
    Prefill fill = prefill != null ? prefill : (first, which, ps) -> model.forward(first, ps, new int[ps.length], false);
    // prompts enter their slots longest first, so that the slots filled at once (all of them at the start, and again
    // whenever sequences end at the same step) take prompts of similar lengths: each ragged prefill pads to its longest
    Integer[] byLength = new Integer[n];
    for (int i = 0; i < n; i++) byLength[i] = i;
    java.util.Arrays.sort(byLength, (a, b) -> Integer.compare(prompts.get(b).length, prompts.get(a).length));
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
          int p = byLength[next++];
          which[j] = p;
          ps[j] = prompts.get(p);
          int slot = s0 + j;
          prompt[slot] = p;
          count[slot] = 0;
          lp[slot] = 0;
          pos[slot] = ps[j].length;
          rnd[slot] = new SplittableRandom(this.s.seed() * 0x9E3779B97F4A7C15L + keys[p]);
        }
        // prefilled in runs of about one length: a run ends where the next prompt would make its padding more than an
        // eighth of its rows
        for (int a = 0; a < k; ) {
          int b = a + 1, longest = ps[a].length;
          long real = longest;
          while (b < k) {
            int l = Math.max(longest, ps[b].length);
            long rows = (long) l * (b + 1 - a), r = real + ps[b].length;
            if (rows - r > rows / 8) break;
            longest = l;
            real = r;
            b++;
          }
          float[] got = fill.logits(s0 + a, java.util.Arrays.copyOfRange(which, a, b), java.util.Arrays.copyOfRange(ps, a, b));
          System.arraycopy(got, 0, logits, (s0 + a) * vocab, (b - a) * vocab);
          a = b;
        }
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

  /**
   * Beam search for one prompt over {@code beams} cache entries, as transformers' {@code BeamSearchScorer} does it
   * (v4.3x–4.4x, {@code early_stopping=False}): each step scores every beam's next tokens as its summed log-prob plus
   * log_softmax(logits); the best 2·beams candidates (best first) are walked: an EOS candidate among the first
   * {@code beams} becomes a finished hypothesis scored sum / length^lengthPenalty (length: prompt + new tokens, EOS
   * not counted), the others continue, until {@code beams} continue; the search ends when {@code beams} hypotheses
   * are finished and none running could beat the worst ({@code best candidate / cur_len^penalty}), or at the token
   * limit, where the running beams join the hypotheses. The best hypothesis is returned (EOS appended when it ended
   * by EOS). Beams start from the prompt's one prefill; the cache follows each step's parents
   * ({@link CausalLm#copyEntries}). Without {@code stopAtEos} there is no EOS: the most probable sequence of exactly
   * maxNewTokens tokens under the beam.
   */
  private Output beamSearch(int[] prompt, int index, Prefill fill) {
    int beams = s.beams(), vocab = model.vocabSize(), len = prompt.length;
    if (beams > model.entries()) {
      throw new IllegalArgumentException("--beams " + beams + " needs " + beams + " cache entries; the model was loaded with " + model.entries());
    }
    if (len + s.maxNewTokens() > model.capacity()) {
      throw new IllegalArgumentException("a prompt of " + len + " tokens plus " + s.maxNewTokens() + " new tokens exceeds the "
          + model.capacity() + " positions the model was loaded for");
    }
    int[] eos = s.stopAtEos() ? s.eos() : new int[0];
    int keep = Math.max(2, 1 + eos.length) * beams;
    // running beams: new tokens so far, summed log-probs; at first only beam 0 is live (the others score -1e9)
    int[][] seq = new int[beams][0];
    double[] score = new double[beams];
    java.util.Arrays.fill(score, 1, beams, -1e9);
    float[] logits = new float[beams * vocab];
    float[] first = fill.logits(0, new int[] {index}, new int[][] {prompt});
    for (int b = 0; b < beams; b++) System.arraycopy(first, 0, logits, b * vocab, vocab);
    Hypotheses hyps = new Hypotheses(beams, s.lengthPenalty());
    boolean done = false;
    int cached = len; // positions in entry 0 (the prefill); after the first reorder, in every beam's entry
    for (int step = 0; ; step++) {
      int curLen = len + step;
      // candidates: beam score + log_softmax(logits), the best `keep`, best first (ties: lower flat index)
      double[] cand = new double[beams * vocab];
      for (int b = 0; b < beams; b++) {
        int base = b * vocab;
        double mx = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) mx = Math.max(mx, logits[base + v]);
        double sum = 0;
        for (int v = 0; v < vocab; v++) sum += Math.exp(logits[base + v] - mx);
        double lse = mx + Math.log(sum);
        for (int v = 0; v < vocab; v++) cand[base + v] = score[b] + (logits[base + v] - lse);
      }
      int[] top = topIndices(cand, keep);
      int[] parent = new int[beams], token = new int[beams];
      double[] next = new double[beams];
      int taken = 0;
      for (int rank = 0; rank < top.length && taken < beams; rank++) {
        int b = top[rank] / vocab, t = top[rank] % vocab;
        if (contains(eos, t)) {
          if (rank >= beams) continue; // an EOS outside the best `beams` does not finish a hypothesis
          int[] withEos = java.util.Arrays.copyOf(seq[b], seq[b].length + 1);
          withEos[seq[b].length] = t;
          hyps.add(withEos, cand[top[rank]], curLen); // its length: the prompt and new tokens, EOS not counted
        } else {
          parent[taken] = b;
          token[taken] = t;
          next[taken] = cand[top[rank]];
          taken++;
        }
      }
      // done: enough finished hypotheses and none running can beat the worst of them
      done = hyps.isDone(cand[top[0]], curLen);
      int[][] nseq = new int[beams][];
      for (int j = 0; j < beams; j++) {
        nseq[j] = java.util.Arrays.copyOf(seq[parent[j]], seq[parent[j]].length + 1);
        nseq[j][seq[parent[j]].length] = token[j];
      }
      seq = nseq;
      score = next;
      if (done || step + 1 == s.maxNewTokens()) break;
      // the cache follows the parents, then one token for every beam
      int[] to = new int[beams];
      for (int j = 0; j < beams; j++) to[j] = j;
      model.copyEntries(parent, to, cached);
      int[][] stepTokens = new int[beams][];
      int[] at = new int[beams];
      for (int j = 0; j < beams; j++) {
        stepTokens[j] = new int[] {token[j]};
        at[j] = curLen;
      }
      logits = model.forward(0, stepTokens, at, false);
      cached = curLen + 1;
    }
    if (!done) { // the running beams join the finished ones (their length: prompt + all new tokens)
      for (int j = 0; j < beams; j++) hyps.add(seq[j], score[j], len + seq[j].length);
    }
    Hypotheses.Hyp best = hyps.best();
    int[] tokens = best.tokens();
    boolean endedByEos = tokens.length > 0 && contains(eos, tokens[tokens.length - 1]);
    return new Output(tokens, best.sumLogprob() / tokens.length, endedByEos ? "eos" : "length");
  }

  /** The n best finished beams (transformers' BeamHypotheses): score = summed log-prob / length^penalty. */
  private static final class Hypotheses {
    record Hyp(double score, double sumLogprob, int[] tokens) {}

    private final int n;
    private final float penalty;
    private final List<Hyp> kept = new ArrayList<>();
    private double worst = 1e9;

    Hypotheses(int n, float penalty) {
      this.n = n;
      this.penalty = penalty;
    }

    void add(int[] tokens, double sumLogprob, int length) {
      double score = sumLogprob / Math.pow(length, penalty);
      if (kept.size() >= n && score <= worst) return;
      kept.add(new Hyp(score, sumLogprob, tokens));
      if (kept.size() > n) {
        kept.sort(java.util.Comparator.comparingDouble(Hyp::score));
        kept.remove(0);
        worst = kept.get(0).score();
      } else {
        worst = Math.min(worst, score);
      }
    }

    /** Enough finished, and the best running candidate could not beat the worst of them (early_stopping=False). */
    boolean isDone(double bestRunning, int curLen) { return kept.size() >= n && worst >= bestRunning / Math.pow(curLen, penalty); }

    Hyp best() { return kept.stream().max(java.util.Comparator.comparingDouble(Hyp::score)).orElseThrow(); }
  }

  /** A 64-bit hash of a row id (FNV-1a over its UTF-8): the row's own random stream, whatever the batching. */
  public static long rowKey(String id) {
    long h = 0xcbf29ce484222325L;
    for (byte b : id.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return h;
  }

  /** A tokenizer's end-of-text ids, as LLaMA-3, GPT-2 and SentencePiece vocabularies spell them. */
  public static int[] eosIds(TextTokenizer t) {
    List<Integer> ids = new ArrayList<>();
    for (String name : new String[] {"<|end_of_text|>", "<|eot_id|>", "<|endoftext|>", "</s>"}) {
      if (t instanceof ByteLevelBpe b && b.id(name) >= 0) ids.add(b.id(name));
    }
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  private static boolean contains(int[] a, int t) {
    for (int x : a) if (x == t) return true;
    return false;
  }

  /** Indices of the k largest values, largest first (ties: lower index), by partial selection. */
  static int[] topIndices(double[] x, int k) {
    k = Math.min(k, x.length);
    int[] idx = new int[k];
    double[] val = new double[k];
    int n = 0;
    for (int i = 0; i < x.length; i++) {
      double v = x[i];
      if (n == k && v <= val[k - 1]) continue;
      int p = n < k ? n++ : k - 1;
      while (p > 0 && val[p - 1] < v) {
        val[p] = val[p - 1];
        idx[p] = idx[p - 1];
        p--;
      }
      val[p] = v;
      idx[p] = i;
    }
    return idx;
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
    return s.topP() < 1 ? nucleus(p, vocab, sum, s.topP(), rnd) : draw(p, vocab, sum, rnd);
  }

  /** A token drawn from weights p[0, vocab) (their sum: sum), walking the ids in order. */
  private static int draw(double[] p, int vocab, double sum, SplittableRandom rnd) {
    double u = rnd.nextDouble() * sum, acc = 0;
    for (int v = 0; v < vocab; v++) {
      acc += p[v];
      if (u < acc) return v;
    }
    return vocab - 1;
  }

  /**
   * A token drawn from the nucleus of weights p[0, vocab) (their sum: sum): the tokens in order of weight (larger
   * first, Double.compare; equal weights by lower id) up to where their mass, added in that order, reaches topP * sum;
   * the draw walks them in the same order. Only the weights are sorted (as primitives, not the ids: 50,257 boxed ids
   * sorted per token were three quarters of a sampling job): the mass and the walk add them in the same order, as equal
   * weights add the same whichever their ids, and the token drawn is then found by its weight and its rank among the
   * equal ones.
   */
  static int nucleus(double[] p, int vocab, double sum, float topP, SplittableRandom rnd) {
    double[] q = Arrays.copyOf(p, vocab);
    Arrays.sort(q); // ascending (Double.compare's order): the nucleus is walked from the end
    double mass = 0;
    int keep;
    for (keep = 0; keep < vocab && mass < topP * sum; keep++) mass += q[vocab - 1 - keep];
    double u = rnd.nextDouble() * mass, acc = 0;
    int at = keep - 1; // the last one kept when rounding leaves u past the mass
    for (int i = 0; i < keep; i++) {
      acc += q[vocab - 1 - i];
      if (u < acc) {
        at = i;
        break;
      }
    }
    double w = q[vocab - 1 - at];
    int before = 0; // equal weights ahead of it in the walk: it is the id after as many equal ones
    for (int i = at - 1; i >= 0 && Double.compare(q[vocab - 1 - i], w) == 0; i--) before++;
    for (int v = 0; v < vocab; v++) if (Double.compare(p[v], w) == 0 && before-- == 0) return v;
    throw new IllegalStateException("no token of weight " + w);
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
