package dev.sparkinfer.models.clip;

import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.decoder.Embedding;
import dev.sparkinfer.models.decoder.Linear;
import dev.sparkinfer.models.weights.SafeTensors;
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

  /**
   * Projected text embeddings [n][projection] of n token sequences (SOT ... EOT, at most the context length, no
   * padding needed): the state at each sequence's first EOT token.
   */
  public float[][] encodeTexts(int[][] ids) {
    int n = ids.length, d = c.text().width(), seq = 0;
    int[] eot = new int[n];
    for (int i = 0; i < n; i++) {
      eot[i] = -1;
      for (int j = 0; j < ids[i].length && eot[i] < 0; j++) if (ids[i][j] == c.eosTokenId()) eot[i] = j;
      if (eot[i] < 0) throw new IllegalArgumentException("text " + i + " has no end-of-text token " + c.eosTokenId());
      seq = Math.max(seq, eot[i] + 1); // causal: nothing after the EOT changes its state
    }
    if (seq > c.contextLength()) throw new IllegalArgumentException("a text of " + seq + " tokens exceeds CLIP's context of " + c.contextLength());
    int[] flat = new int[n * seq], positions = new int[n * seq];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < seq; j++) {
        flat[i * seq + j] = j < ids[i].length ? ids[i][j] : 0;
        positions[i * seq + j] = j;
      }
    }
    try (Ops.Scope s = ops.scope()) {
      Tensor x = ops.alloc(n * seq * d), pos = ops.alloc(n * seq * d);
      tokens.gather(ops, x, ints(flat), n * seq);
      textPositions.gather(ops, pos, ints(positions), n * seq);
      ops.add(x, x, pos, n * seq * d);
      ClipEncoder.run(ops, x, textBlocks, 0, textBlocks.length, c.text(), n, seq, true);
      Tensor last = ops.alloc(n * d);
      for (int i = 0; i < n; i++) ops.copy(last.slice(i * d, d), x.slice((i * seq + eot[i]) * d, d), d);
      ops.layerNorm(last, last, textFinalW, textFinalB, n, d, c.text().eps());
      return project(textProjection, last, n);
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
