package dev.sparkinfer.models.clip;

import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.decoder.Embedding;
import dev.sparkinfer.models.decoder.Linear;
import dev.sparkinfer.models.weights.SafeTensors;
import dev.sparkinfer.models.weights.WeightMemory;
import dev.sparkinfer.models.weights.WeightSource;
import java.nio.file.Path;

/**
 * CLIP (OpenAI clip/model.py; Hugging Face CLIPModel naming): a ViT image tower (patch embedding, class token, learned
 * positions, pre-LayerNorm, pre-LN blocks, post-LayerNorm of the class token, projection) and a causal text tower (token
 * and position embeddings, pre-LN blocks, final LayerNorm, the EOT token's state, projection). Both towers' blocks are
 * the same: x + attn(ln1(x)), x + mlp(ln2(x)), quick-GELU MLP. Embeddings are returned projected, not normalised;
 * {@link #logitScale()} is the learned temperature (exp of the checkpoint's logit_scale). The image tower is
 * {@link ClipVisionTower} (LLaVA reads its inner layers), the blocks {@link ClipEncoder}.
 */
public final class ClipModel {
  static final String TEXT = "text_model.", VISION = "vision_model.";

  private final ClipConfig c;
  private final Ops ops;
  private final Embedding tokens, textPositions;
  private final ClipEncoder.Block[] textBlocks;
  private final ClipVisionTower vision;
  private final Tensor textFinalW, textFinalB;
  private final Linear textProjection, visualProjection;
  private final float logitScale;

  private ClipModel(ClipConfig c, Ops ops, WeightSource w, dev.sparkinfer.kernels.Quantization q, dev.sparkinfer.kernels.Pruning pr) {
    this.c = c;
    this.ops = ops;
    ClipConfig.Tower t = c.text(), v = c.vision();
    // room for all the weights at once (not the blocks' Linear weights when quantized)
    WeightMemory.of(ops, w, q, n -> ClipEncoder.howLoaded(n, q)).reserve(ops);
    tokens = Embedding.load(ops, w, TEXT + "embeddings.token_embedding.weight", c.vocabSize(), t.width());
    textPositions = Embedding.load(ops, w, TEXT + "embeddings.position_embedding.weight", c.contextLength(), t.width());
    textBlocks = ClipEncoder.load(ops, w, TEXT, t, t.layers(), q, pr);
    textFinalW = ClipEncoder.vec(ops, w, TEXT + "final_layer_norm.weight", t.width());
    textFinalB = ClipEncoder.vec(ops, w, TEXT + "final_layer_norm.bias", t.width());
    vision = ClipVisionTower.load(ops, w, VISION, v, c.imageSize(), c.patchSize(), v.layers(), true, q, pr);
    textProjection = Linear.load(ops, w, "text_projection.weight", null, c.projection(), t.width(), false, null);
    visualProjection = Linear.load(ops, w, "visual_projection.weight", null, c.projection(), v.width(), false, null);
    logitScale = (float) Math.exp(w.floats("logit_scale")[0]);
  }

  /** Loads a Hugging Face CLIPModel folder, or an OpenCLIP one (open_clip_config.json + open_clip_model.safetensors), onto {@code ops}. */
  public static ClipModel load(Path dir, Ops ops) {
    return load(dir, ops, dev.sparkinfer.kernels.Quantization.NONE, dev.sparkinfer.kernels.Pruning.NONE);
  }

  /**
   * As above, both towers' block Linear weights pruned and quantized at load as asked ({@code --prune}, {@code --quantize});
   * embeddings, the patch embedding, norms and the projections keep their stored precision.
   */
  public static ClipModel load(Path dir, Ops ops, dev.sparkinfer.kernels.Quantization q, dev.sparkinfer.kernels.Pruning pr) {
    boolean openClip = OpenClipWeights.isOpenClip(dir);
    ClipConfig c = openClip ? OpenClipWeights.config(dir) : ClipConfig.read(dir);
    try (WeightSource w = openClip ? OpenClipWeights.open(dir) : SafeTensors.openModelDir(dir)) {
      return new ClipModel(c, ops, w, q, pr);
    }
  }

  /** From a folder's config.json and weights given separately (random-weight benchmarks, converted checkpoints). */
  public static ClipModel load(Path dir, Ops ops, WeightSource weights) {
    return new ClipModel(ClipConfig.read(dir), ops, weights, dev.sparkinfer.kernels.Quantization.NONE, dev.sparkinfer.kernels.Pruning.NONE);
  }

  public ClipConfig config() { return c; }

  public float logitScale() { return logitScale; }

  /** The image tower (its inner layers' hidden states are what LLaVA reads). */
  public ClipVisionTower visionTower() { return vision; }

  /** Projected image embeddings [n][projection] of n preprocessed images, each CHW floats [3][size][size]. */
  public float[][] encodeImages(float[][] pixels) {
    try (Ops.Scope s = ops.scope()) {
      // the image tower's class token after post-LayerNorm, projected
      return project(visualProjection, vision.pooled(pixels), pixels.length);
    }
  }

  /** A group of texts starts a new one past this many real rows (tokens up to each EOT) when padding would grow. */
  static final int GROUP_ROWS = 256;

  /**
   * Projected text embeddings [n][projection] of n token sequences (SOT ... EOT, at most the context length, no
   * padding needed): the state at each sequence's first EOT token. The tower runs on groups of texts of similar length
   * (sorted by it, a group closed once it has {@link #GROUP_ROWS} real rows and the next text would pad it by more than
   * an eighth), each padded to its own longest: a batch of captions is mostly short ones and a few long ones, and every
   * row past a text's EOT is work thrown away. A text's embedding does not depend on the group it runs in: each row of
   * every op but attention is computed alone (the CPU engine's 16-bit Linear too: its weights are packed at load and
   * every row count sums in one order), and attention is causal (no row sees one after it). The final LayerNorm and
   * projection run on the whole batch.
   */
  public float[][] encodeTexts(int[][] ids) {
    int n = ids.length;
    int[] len = new int[n];
    for (int i = 0; i < n; i++) {
      int eot = -1;
      for (int j = 0; j < ids[i].length && eot < 0; j++) if (ids[i][j] == c.eosTokenId()) eot = j;
      if (eot < 0) throw new IllegalArgumentException("text " + i + " has no end-of-text token " + c.eosTokenId());
      len[i] = eot + 1; // causal: nothing after the EOT changes its state
      if (len[i] > c.contextLength()) throw new IllegalArgumentException("a text of " + len[i] + " tokens exceeds CLIP's context of " + c.contextLength());
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) order[i] = i;
    java.util.Arrays.sort(order, (a, b) -> Integer.compare(len[a], len[b]));
    int d = c.text().width();
    try (Ops.Scope s = ops.scope()) {
      Tensor last = ops.alloc(n * d); // each text's state at its EOT, in the batch's order
      for (int g0 = 0; g0 < n; ) {
        int g1 = g0 + 1;
        long rows = len[order[g0]];
        for (; g1 < n; g1++) {
          int next = len[order[g1]];
          long padded = (long) (g1 - g0 + 1) * next, real = rows + next;
          if (rows >= GROUP_ROWS && padded - real > real / 8) break;
          rows = real;
        }
        int[] members = new int[g1 - g0];
        for (int i = 0; i < members.length; i++) members[i] = order[g0 + i];
        encodeGroup(ids, len, members, last);
        g0 = g1;
      }
      // the final LayerNorm and the projection over the whole batch at once, as without groups
      ops.layerNorm(last, last, textFinalW, textFinalB, n, d, c.text().eps());
      return project(textProjection, last, n);
    }
  }

  /** The tower over texts {@code members} (ids[m] up to its EOT: len[m] tokens), padded to their longest: each one's EOT state to last[m]. */
  private void encodeGroup(int[][] ids, int[] len, int[] members, Tensor last) {
    int n = members.length, d = c.text().width(), seq = 0;
    for (int m : members) seq = Math.max(seq, len[m]);
    int[] flat = new int[n * seq], positions = new int[n * seq];
    for (int i = 0; i < n; i++) {
      int[] t = ids[members[i]];
      for (int j = 0; j < seq; j++) {
        flat[i * seq + j] = j < t.length ? t[j] : 0;
        positions[i * seq + j] = j;
      }
    }
    try (Ops.Scope s = ops.scope()) {
      Tensor x = ops.alloc(n * seq * d), pos = ops.alloc(n * seq * d);
      tokens.gather(ops, x, ints(flat), n * seq);
      textPositions.gather(ops, pos, ints(positions), n * seq);
      ops.add(x, x, pos, n * seq * d);
      ClipEncoder.run(ops, x, textBlocks, 0, textBlocks.length, c.text(), n, seq, true);
      for (int i = 0; i < n; i++) ops.copy(last.slice(members[i] * d, d), x.slice((i * seq + len[members[i]] - 1) * d, d), d);
    }
  }

  private float[][] project(Linear proj, Tensor x, int n) {
    Tensor out = ops.alloc(n * c.projection());
    proj.apply(ops, out, x, n);
    float[] flat = ops.read(out);
    float[][] e = new float[n][c.projection()];
    for (int i = 0; i < n; i++) System.arraycopy(flat, i * c.projection(), e[i], 0, c.projection());
    return e;
  }

  private IntTensor ints(int[] v) {
    IntTensor t = ops.allocInts(v.length);
    ops.write(t, v);
    return t;
  }

  /** Cosine similarity of two embeddings (CLIPScore as DataComp thresholds it). */
  public static double cosine(float[] a, float[] b) {
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }
}
