package dev.sparkinfer.models.clip;

import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.decoder.Embedding;
import dev.sparkinfer.models.decoder.Linear;
import dev.sparkinfer.models.weights.WeightMemory;
import dev.sparkinfer.models.weights.WeightSource;
import java.util.Arrays;

/**
 * CLIP's image tower (HF CLIPVisionTransformer) without the projection: patch embedding (the conv as a Linear over
 * flattened patches), class token, learned positions, pre-LayerNorm, the encoder blocks, post-LayerNorm of the class
 * token. {@link ClipModel} projects its pooled output; LLaVA reads the hidden states of an inner layer. HF's
 * {@code hidden_states[0]} is the embeddings after the pre-LayerNorm, {@code hidden_states[k]} the output of block k.
 */
public final class ClipVisionTower {
  private final Ops ops;
  private final ClipConfig.Tower t;
  private final int imageSize, patchSize;
  private final Linear patch;             // [width, 3 * patch * patch]
  private final Tensor classEmbedding;     // [width]
  private final Embedding positions;       // [patches + 1, width]
  private final Tensor preW, preB;         // [width]
  private final ClipEncoder.Block[] blocks;
  private final Tensor postW, postB;       // [width]; null when not loaded

  private ClipVisionTower(Ops ops, WeightSource w, String prefix, ClipConfig.Tower t, int imageSize, int patchSize, int layers, boolean post,
                          dev.sparkinfer.kernels.Quantization q, dev.sparkinfer.kernels.Pruning pr) {
    if (imageSize % patchSize != 0) throw new IllegalArgumentException("image_size " + imageSize + " is not a multiple of patch_size " + patchSize);
    if (layers < 0 || layers > t.layers()) throw new IllegalArgumentException(layers + " vision layers asked for, the tower has " + t.layers());
    this.ops = ops;
    this.t = t;
    this.imageSize = imageSize;
    this.patchSize = patchSize;
    int d = t.width(), patchIn = 3 * patchSize * patchSize;
    String conv = prefix + "embeddings.patch_embedding.weight";
    patch = Linear.load(ops, flattenedPatch(w, conv, d, patchIn), conv, null, d, patchIn, false, null);
    classEmbedding = ClipEncoder.vec(ops, w, prefix + "embeddings.class_embedding", d);
    positions = Embedding.load(ops, w, prefix + "embeddings.position_embedding.weight", patches() + 1, d);
    preW = ClipEncoder.vec(ops, w, prefix + "pre_layrnorm.weight", d);
    preB = ClipEncoder.vec(ops, w, prefix + "pre_layrnorm.bias", d);
    blocks = ClipEncoder.load(ops, w, prefix, t, layers, q, pr);
    postW = post ? ClipEncoder.vec(ops, w, prefix + "post_layernorm.weight", d) : null;
    postB = post ? ClipEncoder.vec(ops, w, prefix + "post_layernorm.bias", d) : null;
  }

  /**
   * Loads the tower whose tensors start with {@code prefix} ("vision_model.", "vision_tower.vision_model.", ...): its
   * first {@code layers} blocks, and the post-LayerNorm when {@code postNorm}.
   */
  public static ClipVisionTower load(Ops ops, WeightSource w, String prefix, ClipConfig.Tower t, int imageSize, int patchSize,
                                     int layers, boolean postNorm) {
    return load(ops, w, prefix, t, imageSize, patchSize, layers, postNorm, dev.sparkinfer.kernels.Quantization.NONE,
        dev.sparkinfer.kernels.Pruning.NONE);
  }

  /** As above, the blocks' Linear weights pruned and quantized at load as asked (the patch embedding as stored). */
  public static ClipVisionTower load(Ops ops, WeightSource w, String prefix, ClipConfig.Tower t, int imageSize, int patchSize,
                                     int layers, boolean postNorm, dev.sparkinfer.kernels.Quantization q, dev.sparkinfer.kernels.Pruning pr) {
    return new ClipVisionTower(ops, w, prefix, t, imageSize, patchSize, layers, postNorm, q, pr);
  }

  /**
   * What the tower {@link #load} loads with these arguments takes in the banks of {@code ops} (for the model that holds
   * it to reserve): the tensors under {@code prefix} of its first {@code layers} blocks (the post-LayerNorm, a vector,
   * takes none).
   */
  public static WeightMemory weightMemory(Ops ops, WeightSource w, String prefix, int layers, dev.sparkinfer.kernels.Quantization q) {
    return WeightMemory.of(ops, w, q, n -> {
      if (!n.startsWith(prefix)) return WeightMemory.Load.NONE;
      String rest = n.substring(prefix.length());
      if (rest.startsWith("encoder.layers.")) {
        String index = rest.substring("encoder.layers.".length()).split("\\.", 2)[0];
        if (!index.chars().allMatch(Character::isDigit) || Integer.parseInt(index) >= layers) return WeightMemory.Load.NONE;
      }
      return ClipEncoder.howLoaded(rest, q);
    });
  }


  /** The conv weight [width, 3, p, p] read as the Linear [width, 3 p p] it is over flattened (c, y, x) patches. */
  private static WeightSource flattenedPatch(WeightSource w, String name, int width, int in) {
    long[] s = w.shape(name);
    if (s.length != 4 || s[0] != width || s[1] * s[2] * s[3] != in) {
      throw new IllegalArgumentException(w.origin() + ": " + name + " has shape " + Arrays.toString(s) + ", expected [" + width + ", 3, p, p]");
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

  public ClipConfig.Tower tower() { return t; }

  public int imageSize() { return imageSize; }

  public int patches() { return (imageSize / patchSize) * (imageSize / patchSize); }

  /** Tokens per image: the class token, then the patches row by row. */
  public int seq() { return patches() + 1; }

  /** Blocks loaded (HF hidden_states 0 .. this are available). */
  public int layers() { return blocks.length; }

  /**
   * HF's {@code hidden_states[k]} for each k of {@code layers} (0: embeddings after the pre-LayerNorm; k: after block
   * k), each [n * seq * width] in the caller's scope, for n preprocessed images, each CHW floats [3][size][size].
   */
  public Tensor[] hiddenStates(float[][] pixels, int... layers) {
    int n = pixels.length, d = t.width(), seq = seq(), last = 0;
    for (int k : layers) {
      if (k < 0 || k > blocks.length) throw new IllegalArgumentException("vision hidden state " + k + " of 0.." + blocks.length + " loaded");
      last = Math.max(last, k);
    }
    Tensor x = embed(pixels);
    Tensor[] out = new Tensor[layers.length];
    for (int k = 0; k <= last; k++) {
      for (int j = 0; j < layers.length; j++) {
        if (layers[j] != k) continue;
        out[j] = ops.alloc(n * seq * d);
        ops.copy(out[j], x, n * seq * d);
      }
      if (k < last) ClipEncoder.run(ops, x, blocks, k, k + 1, t, n, seq, false);
    }
    return out;
  }

  /** The class token's state after every block and the post-LayerNorm: [n * width] in the caller's scope. */
  public Tensor pooled(float[][] pixels) {
    if (postW == null || blocks.length != t.layers()) throw new IllegalStateException("the tower was loaded without its post-LayerNorm or last blocks");
    int n = pixels.length, d = t.width(), seq = seq();
    Tensor x = embed(pixels);
    ClipEncoder.run(ops, x, blocks, 0, blocks.length, t, n, seq, false);
    Tensor cls = ops.alloc(n * d);
    for (int i = 0; i < n; i++) ops.copy(cls.slice(i * d, d), x.slice(i * seq * d, d), d);
    ops.layerNorm(cls, cls, postW, postB, n, d, t.eps());
    return cls;
  }

  /** Embeddings: class token then patches, plus positions; pre-LayerNorm. [n * seq * width] in the caller's scope. */
  private Tensor embed(float[][] pixels) {
    int n = pixels.length, p = patchSize, side = imageSize / p, np = patches(), seq = np + 1, d = t.width(), in = 3 * p * p;
    // patches as rows of (channel, y, x), the order of the conv weight
    float[] rows = new float[Math.multiplyExact(n * np, in)];
    for (int i = 0; i < n; i++) {
      if (pixels[i].length != 3 * imageSize * imageSize) {
        throw new IllegalArgumentException("image " + i + " has " + pixels[i].length + " values, expected 3 x " + imageSize + " x " + imageSize);
      }
      for (int py = 0; py < side; py++) {
        for (int px = 0; px < side; px++) {
          int r = (i * np + py * side + px) * in;
          for (int ch = 0; ch < 3; ch++) {
            for (int y = 0; y < p; y++) {
              System.arraycopy(pixels[i], (ch * imageSize + py * p + y) * imageSize + px * p, rows, r + (ch * p + y) * p, p);
            }
          }
        }
      }
    }
    Tensor patchIn = ops.alloc(rows.length), patches = ops.alloc(n * np * d), x = ops.alloc(n * seq * d), pos = ops.alloc(n * seq * d);
    ops.write(patchIn, rows);
    patch.apply(ops, patches, patchIn, n * np);
    for (int i = 0; i < n; i++) {
      ops.copy(x.slice(i * seq * d, d), classEmbedding, d);
      ops.copy(x.slice((i * seq + 1) * d, np * d), patches.slice(i * np * d, np * d), np * d);
    }
    int[] at = new int[n * seq];
    for (int i = 0; i < at.length; i++) at[i] = i % seq;
    IntTensor ids = ops.allocInts(at.length);
    ops.write(ids, at);
    positions.gather(ops, pos, ids, n * seq);
    ops.add(x, x, pos, n * seq * d);
    ops.layerNorm(x, x, preW, preB, n * seq, d, t.eps());
    return x;
  }
}
