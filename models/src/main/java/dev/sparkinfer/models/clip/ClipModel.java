package dev.sparkinfer.models.clip;

import dev.sparkinfer.kernels.Attention;
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
 * {@link #logitScale()} is the learned temperature (exp of the checkpoint's logit_scale).
 */
public final class ClipModel {
  static final String TEXT = "text_model.", VISION = "vision_model.";

  private record Block(Tensor ln1W, Tensor ln1B, Linear q, Linear k, Linear v, Linear o, Tensor ln2W, Tensor ln2B, Linear fc1, Linear fc2) {}

  private final ClipConfig c;
  private final Ops ops;
  private final Embedding tokens, textPositions, visionPositions;
  private final Block[] textBlocks, visionBlocks;
  private final Tensor textFinalW, textFinalB, preW, preB, postW, postB, classEmbedding;
  private final Linear patch, textProjection, visualProjection;
  private final float logitScale;

  private ClipModel(ClipConfig c, Ops ops, WeightSource w) {
    this.c = c;
    this.ops = ops;
    ClipConfig.Tower t = c.text(), v = c.vision();
    tokens = Embedding.load(ops, w, TEXT + "embeddings.token_embedding.weight", c.vocabSize(), t.width());
    textPositions = Embedding.load(ops, w, TEXT + "embeddings.position_embedding.weight", c.contextLength(), t.width());
    textBlocks = blocks(w, TEXT, t);
    textFinalW = vec(w, TEXT + "final_layer_norm.weight", t.width());
    textFinalB = vec(w, TEXT + "final_layer_norm.bias", t.width());
    int patchIn = 3 * c.patchSize() * c.patchSize();
    patch = Linear.load(ops, flattenedPatch(w, v.width(), patchIn), VISION + "embeddings.patch_embedding.weight", null, v.width(), patchIn, false, null);
    classEmbedding = vec(w, VISION + "embeddings.class_embedding", v.width());
    visionPositions = Embedding.load(ops, w, VISION + "embeddings.position_embedding.weight", c.patches() + 1, v.width());
    preW = vec(w, VISION + "pre_layrnorm.weight", v.width());
    preB = vec(w, VISION + "pre_layrnorm.bias", v.width());
    visionBlocks = blocks(w, VISION, v);
    postW = vec(w, VISION + "post_layernorm.weight", v.width());
    postB = vec(w, VISION + "post_layernorm.bias", v.width());
    textProjection = Linear.load(ops, w, "text_projection.weight", null, c.projection(), t.width(), false, null);
    visualProjection = Linear.load(ops, w, "visual_projection.weight", null, c.projection(), v.width(), false, null);
    logitScale = (float) Math.exp(w.floats("logit_scale")[0]);
  }

  /** The conv weight [width, 3, p, p] read as the Linear [width, 3 p p] it is over flattened (c, y, x) patches. */
  private static WeightSource flattenedPatch(WeightSource w, int width, int in) {
    String name = VISION + "embeddings.patch_embedding.weight";
    long[] s = w.shape(name);
    if (s.length != 4 || s[0] != width || s[1] * s[2] * s[3] != in) {
      throw new IllegalArgumentException(w.origin() + ": " + name + " has shape " + java.util.Arrays.toString(s) + ", expected [" + width + ", 3, p, p]");
    }
    return new WeightSource() {
      public java.util.Set<String> names() { return w.names(); }
      public boolean has(String n) { return w.has(n); }
      public long[] shape(String n) { return n.equals(name) ? new long[] {width, in} : w.shape(n); }
      public dev.sparkinfer.models.weights.DType dtype(String n) { return w.dtype(n); }
      public float[] floats(String n) { return w.floats(n); }
      public char[] bits16(String n) { return w.bits16(n); }
      public long[] longs(String n) { return w.longs(n); }
      public String origin() { return w.origin(); }
    };
  }

  private Block[] blocks(WeightSource w, String tower, ClipConfig.Tower t) {
    Block[] b = new Block[t.layers()];
    for (int l = 0; l < t.layers(); l++) {
      String p = tower + "encoder.layers." + l + ".";
      int d = t.width();
      b[l] = new Block(vec(w, p + "layer_norm1.weight", d), vec(w, p + "layer_norm1.bias", d),
          lin(w, p + "self_attn.q_proj", d, d), lin(w, p + "self_attn.k_proj", d, d), lin(w, p + "self_attn.v_proj", d, d),
          lin(w, p + "self_attn.out_proj", d, d), vec(w, p + "layer_norm2.weight", d), vec(w, p + "layer_norm2.bias", d),
          lin(w, p + "mlp.fc1", t.ffn(), d), lin(w, p + "mlp.fc2", d, t.ffn()));
    }
    return b;
  }

  private Linear lin(WeightSource w, String name, int out, int in) {
    return Linear.load(ops, w, name + ".weight", name + ".bias", out, in, false, null);
  }

  private Tensor vec(WeightSource w, String name, int n) { return ops.upload(Linear.vector(w, name, n)); }

  /** Loads a Hugging Face CLIPModel folder, or an OpenCLIP one (open_clip_config.json + open_clip_model.safetensors), onto {@code ops}. */
  public static ClipModel load(Path dir, Ops ops) {
    boolean openClip = OpenClipWeights.isOpenClip(dir);
    ClipConfig c = openClip ? OpenClipWeights.config(dir) : ClipConfig.read(dir);
    try (WeightSource w = openClip ? OpenClipWeights.open(dir) : SafeTensors.openModelDir(dir)) {
      return new ClipModel(c, ops, w);
    }
  }

  /** From a folder's config.json and weights given separately (random-weight benchmarks, converted checkpoints). */
  public static ClipModel load(Path dir, Ops ops, WeightSource weights) { return new ClipModel(ClipConfig.read(dir), ops, weights); }

  public ClipConfig config() { return c; }

  public float logitScale() { return logitScale; }

  /** Projected image embeddings [n][projection] of n preprocessed images, each CHW floats [3][size][size]. */
  public float[][] encodeImages(float[][] pixels) {
    int n = pixels.length, p = c.patchSize(), side = c.imageSize() / p, np = c.patches(), seq = np + 1, d = c.vision().width();
    int in = 3 * p * p;
    // patches as rows of (channel, y, x), the order of the conv weight
    float[] rows = new float[n * np * in];
    for (int i = 0; i < n; i++) {
      if (pixels[i].length != 3 * c.imageSize() * c.imageSize()) {
        throw new IllegalArgumentException("image " + i + " has " + pixels[i].length + " values, expected 3 x " + c.imageSize() + " x " + c.imageSize());
      }
      for (int py = 0; py < side; py++) {
        for (int px = 0; px < side; px++) {
          int r = (i * np + py * side + px) * in;
          for (int ch = 0; ch < 3; ch++) {
            for (int y = 0; y < p; y++) {
              System.arraycopy(pixels[i], (ch * c.imageSize() + py * p + y) * c.imageSize() + px * p, rows, r + (ch * p + y) * p, p);
            }
          }
        }
      }
    }
    try (Ops.Scope s = ops.scope()) {
      // embeddings: class token then patches, plus positions; pre-LayerNorm
      Tensor patchIn = in(rows), patches = ops.alloc(n * np * d), x = ops.alloc(n * seq * d), pos = ops.alloc(n * seq * d);
      patch.apply(ops, patches, patchIn, n * np);
      for (int i = 0; i < n; i++) {
        ops.copy(x.slice(i * seq * d, d), classEmbedding, d);
        ops.copy(x.slice((i * seq + 1) * d, np * d), patches.slice(i * np * d, np * d), np * d);
      }
      int[] positions = new int[n * seq];
      for (int i = 0; i < positions.length; i++) positions[i] = i % seq;
      visionPositions.gather(ops, pos, ints(positions), n * seq);
      ops.add(x, x, pos, n * seq * d);
      ops.layerNorm(x, x, preW, preB, n * seq, d, c.vision().eps());
      tower(x, visionBlocks, c.vision(), n, seq, false);
      // the class token's state, post-LayerNorm, projected
      Tensor cls = ops.alloc(n * d);
      for (int i = 0; i < n; i++) ops.copy(cls.slice(i * d, d), x.slice(i * seq * d, d), d);
      ops.layerNorm(cls, cls, postW, postB, n, d, c.vision().eps());
      return project(visualProjection, cls, n);
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
      tower(x, textBlocks, c.text(), n, seq, true);
      Tensor last = ops.alloc(n * d);
      for (int i = 0; i < n; i++) ops.copy(last.slice(i * d, d), x.slice((i * seq + eot[i]) * d, d), d);
      ops.layerNorm(last, last, textFinalW, textFinalB, n, d, c.text().eps());
      return project(textProjection, last, n);
    }
  }

  /** Pre-LN transformer blocks over n sequences of seq tokens: x + attn(ln1(x)), then x + mlp(ln2(x)). */
  private void tower(Tensor x, Block[] blocks, ClipConfig.Tower t, int n, int seq, boolean causal) {
    int d = t.width(), rows = n * seq;
    Attention sp = Attention.selfAttention(n, seq, t.heads(), t.headDim(), causal);
    try (Ops.Scope s = ops.scope()) {
      Tensor h = ops.alloc(rows * d), q = ops.alloc(rows * d), k = ops.alloc(rows * d), v = ops.alloc(rows * d);
      Tensor att = ops.alloc(rows * d), ffn = ops.alloc(rows * t.ffn()), scores = ops.alloc(Math.toIntExact(sp.scoresSize()));
      for (Block b : blocks) {
        // attention: pre-LN, q/k/v projections, softmax(q k^T / sqrt(d)) (causal for text), output projection, residual
        ops.layerNorm(h, x, b.ln1W(), b.ln1B(), rows, d, t.eps());
        b.q().apply(ops, q, h, rows);
        b.k().apply(ops, k, h, rows);
        b.v().apply(ops, v, h, rows);
        ops.attention(att, q, k, v, null, scores, sp);
        b.o().apply(ops, h, att, rows);
        ops.add(x, x, h, rows * d);
        // MLP: pre-LN, fc1, quick-GELU, fc2, residual
        ops.layerNorm(h, x, b.ln2W(), b.ln2B(), rows, d, t.eps());
        b.fc1().apply(ops, ffn, h, rows);
        ops.activation(t.act(), ffn, ffn, rows * t.ffn());
        b.fc2().apply(ops, h, ffn, rows);
        ops.add(x, x, h, rows * d);
      }
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

  private Tensor in(float[] v) {
    Tensor t = ops.alloc(v.length);
    ops.write(t, v);
    return t;
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
