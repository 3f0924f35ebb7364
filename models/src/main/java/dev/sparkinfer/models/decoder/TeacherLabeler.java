package dev.sparkinfer.models.decoder;

import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Teacher labels for distillation: for every token position of a text, the teacher's top-k token ids and
 * log-probabilities at temperature T, log_softmax(logits / T) (position i predicts token i + 1), the log-probability
 * at T of the token that actually follows (also when it is outside the top k), and the text's summed log-probability
 * at T = 1.
 *
 * <p>Texts longer than the window are cut into overlapping windows: window w starts at {@code w * stride} and runs
 * {@code maxLength} tokens; it labels only the positions no earlier window labelled, so every position is labelled
 * exactly once, with at least {@code maxLength - stride} tokens of left context once the text is longer than a window
 * (Hugging Face's sliding-window perplexity). Windows of several texts run as one ragged batch; the head, the
 * log-softmax and top-k run on the engine only at the positions the pass labels (not at a window's overlap with the one
 * before, nor at padding), and only k values per position come back.
 */
public final class TeacherLabeler {
  /** @param maxLength tokens per window; @param stride tokens between window starts (at most maxLength) */
  public record Settings(int topK, float temperature, int maxLength, int stride) {
    public Settings {
      if (topK < 1) throw new IllegalArgumentException("--top-k must be at least 1, got " + topK);
      if (!(temperature > 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("--temperature must be > 0, got " + temperature);
      if (maxLength < 2) throw new IllegalArgumentException("--max-length must be at least 2 tokens, got " + maxLength);
      if (stride < 1 || stride > maxLength) {
        throw new IllegalArgumentException("--stride must be between 1 and --max-length (" + maxLength + "), got " + stride
            + ": a window shorter than the stride would leave positions unlabelled");
      }
    }
  }

  /**
   * One text's labels: {@code topkIds}/{@code topkLogprobs} [n][k] flattened; {@code targetLogprob}[i] the log-prob at T
   * of token i + 1 (NaN at the last position, which has no next token); {@code sumLogprob} at T = 1 over the n - 1
   * next-token predictions.
   */
  public record Labels(int[] tokens, int[] topkIds, float[] topkLogprobs, float[] targetLogprob, double sumLogprob) {
    public int positions() { return tokens.length; }
  }

  private final CausalLm model;
  private final Settings s;
  private final int window;
  private final int maxRows;

  /**
   * @param maxRows most positions one forward pass computes (its logits and log-softmax are rows x vocab floats each on
   *                the engine); at least one window
   */
  public TeacherLabeler(CausalLm model, Settings settings, int maxRows) {
    if (settings.topK() > model.vocabSize()) {
      throw new IllegalArgumentException("--top-k " + settings.topK() + " is larger than the model's vocabulary of " + model.vocabSize());
    }
    if (settings.maxLength() > model.capacity()) {
      throw new IllegalArgumentException("--max-length " + settings.maxLength() + " exceeds what the model was loaded for (" + model.capacity() + " tokens)");
    }
    this.model = model;
    this.s = settings;
    this.window = settings.maxLength();
    long cap = Integer.MAX_VALUE / Math.max(1, model.vocabSize()); // row * vocab indexes the log-softmax as one table
    this.maxRows = (int) Math.max(window, Math.min(maxRows, cap));
  }

  public Settings settings() { return s; }

  /** A window of one text: tokens [start, end), labelling positions [from, end). */
  record Window(int text, int start, int end, int from) {}

  /** The windows of a text of n tokens (none when n == 0). */
  static List<Window> windows(int text, int n, int maxLength, int stride) {
    List<Window> out = new ArrayList<>();
    int labelled = 0;
    for (int start = 0; labelled < n; start += stride) {
      int end = Math.min(n, start + maxLength);
      if (end <= labelled) continue;
      out.add(new Window(text, start, end, labelled));
      labelled = end;
    }
    return out;
  }

  /** Labels every text (each at least one token long). */
  public List<Labels> label(List<int[]> texts) {
    int k = s.topK();
    int[][] topIds = new int[texts.size()][];
    float[][] topLp = new float[texts.size()][], target = new float[texts.size()][];
    double[] sum = new double[texts.size()];
    List<Window> all = new ArrayList<>();
    for (int t = 0; t < texts.size(); t++) {
      int n = texts.get(t).length;
      if (n == 0) throw new IllegalArgumentException("text " + t + " has no tokens");
      topIds[t] = new int[n * k];
      topLp[t] = new float[n * k];
      target[t] = new float[n];
      all.addAll(windows(t, n, window, s.stride()));
    }
    // longest windows first, so a batch pads little; as many per forward pass as the cache entries and rows allow
    all.sort((a, b) -> Integer.compare(b.end() - b.start(), a.end() - a.start()));
    for (int i = 0; i < all.size(); ) {
      int len = all.get(i).end() - all.get(i).start();
      int count = Math.max(1, Math.min(model.entries(), maxRows / len));
      List<Window> batch = all.subList(i, Math.min(all.size(), i + count));
      run(batch, texts, topIds, topLp, target, sum);
      i += batch.size();
    }
    List<Labels> out = new ArrayList<>();
    for (int t = 0; t < texts.size(); t++) out.add(new Labels(texts.get(t), topIds[t], topLp[t], target[t], sum[t]));
    return out;
  }

  private void run(List<Window> batch, List<int[]> texts, int[][] topIds, float[][] topLp, float[][] target, double[] sum) {
    int b = batch.size(), k = s.topK(), vocab = model.vocabSize();
    int[][] tokens = new int[b][];
    int labelled = 0;
    for (int e = 0; e < b; e++) {
      Window w = batch.get(e);
      tokens[e] = Arrays.copyOfRange(texts.get(w.text()), w.start(), w.end());
      labelled += w.end() - w.from();
    }
    // the head and the log-softmax run only on the positions this pass labels: not on a window's first positions that
    // an earlier window labelled, nor on padding
    int q = 0;
    for (int[] t : tokens) q = Math.max(q, t.length);
    int[] wanted = new int[labelled], text = new int[labelled], pos = new int[labelled];
    int[] next = new int[labelled]; // the flat index of the token that follows each labelled position (-1: none)
    for (int e = 0, r = 0; e < b; e++) {
      Window w = batch.get(e);
      int[] t = texts.get(w.text());
      for (int p = w.from(); p < w.end(); p++, r++) {
        wanted[r] = e * q + (p - w.start());
        text[r] = w.text();
        pos[r] = p;
        next[r] = p + 1 < t.length ? r * vocab + t[p + 1] : -1;
      }
    }
    model.forwardRows(0, tokens, new int[b], wanted, (ops, logits, rows, bt) -> {
      try (Ops.Scope scope = ops.scope()) {
        Tensor lp = ops.alloc(Math.multiplyExact(rows, vocab)), vals = ops.alloc(rows * k), tgt = ops.alloc(rows), tgt1 = ops.alloc(rows);
        IntTensor ids = ops.allocInts(rows * k), nextIds = ops.allocInts(rows);
        ops.write(nextIds, next);
        ops.softmax(lp, logits, null, false, rows, vocab, s.temperature(), true);
        ops.topK(vals, ids, lp, rows, vocab, k);
        ops.gather(tgt, lp, nextIds, rows, rows * vocab, 1, false);
        if (s.temperature() != 1f) ops.softmax(lp, logits, null, false, rows, vocab, 1f, true);
        ops.gather(tgt1, lp, nextIds, rows, rows * vocab, 1, false);
        float[] v = ops.read(vals), t = ops.read(tgt), t1 = ops.read(tgt1);
        int[] id = ops.read(ids);
        for (int r = 0; r < rows; r++) {
          System.arraycopy(id, r * k, topIds[text[r]], pos[r] * k, k);
          System.arraycopy(v, r * k, topLp[text[r]], pos[r] * k, k);
          boolean has = next[r] >= 0;
          target[text[r]][pos[r]] = has ? t[r] : Float.NaN;
          if (has) sum[text[r]] += t1[r];
        }
      }
      return null;
    });
  }
}
