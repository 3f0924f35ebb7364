package dev.sparkinfer.models.llava;

import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.clip.ClipVisionTower;
import dev.sparkinfer.models.decoder.Linear;
import dev.sparkinfer.models.llama.LlamaModel;
import dev.sparkinfer.models.weights.RenamedWeights;
import dev.sparkinfer.models.weights.SafeTensors;
import dev.sparkinfer.models.weights.WeightMemory;
import dev.sparkinfer.models.weights.WeightSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * LLaVA (Hugging Face LlavaForConditionalGeneration, modeling_llava.py): a CLIP vision tower read at an inner layer
 * ({@code vision_feature_layer}, the class token dropped under the {@code default} strategy), a two-layer projector
 * (linear_1, GELU, linear_2) into the language model's width, and a LLaMA decoder whose embeddings at the image
 * token's positions are replaced by the projected features, one position per feature, image after image.
 */
public final class LlavaModel implements AutoCloseable {
  /**
   * The checkpoint's tensor names: vision tower, projector, language model, head. Released checkpoints (and
   * transformers before 4.52) use the first; current transformers saves the second.
   */
  record Layout(String vision, String projector, String languageModel, String head) {}
  static final Layout RELEASED = new Layout("vision_tower.vision_model.", "multi_modal_projector.", "language_model.model.", "language_model.lm_head.");
  static final Layout CURRENT = new Layout("model.vision_tower.vision_model.", "model.multi_modal_projector.", "model.language_model.", "lm_head.");

  private final LlavaConfig c;
  private final Ops ops;
  private final ClipVisionTower vision;
  private final Linear linear1, linear2; // [dim, vision width x feature layers], [dim, dim]
  private final LlamaModel lm;

  private LlavaModel(LlavaConfig c, Ops ops, WeightSource w, int entries, int capacity, dev.sparkinfer.kernels.Quantization q,
                     dev.sparkinfer.kernels.Pruning pr) {
    this.c = c;
    this.ops = ops;
    Layout names = w.has(CURRENT.languageModel() + "embed_tokens.weight") ? CURRENT : RELEASED;
    if (!w.has(names.languageModel() + "embed_tokens.weight")) {
      throw new IllegalArgumentException(w.origin() + ": no " + RELEASED.languageModel() + "embed_tokens.weight or "
          + CURRENT.languageModel() + "embed_tokens.weight; not a LlavaForConditionalGeneration checkpoint");
    }
    int dim = c.text().dim();
    WeightSource text = RenamedWeights.of(w, "model.", names.languageModel(), "lm_head.", names.head());
    // room for all three parts' weights at once (the language model's own, smaller, reservation does not shrink it)
    LlamaModel.weightMemory(ops, text, q, null)
        .plus(ClipVisionTower.weightMemory(ops, w, names.vision(), c.visionBlocksUsed(), q))
        .plus(WeightMemory.of(ops, w, n -> n.startsWith(names.projector()) ? WeightMemory.Load.LINEAR : WeightMemory.Load.NONE))
        .reserve(ops);
    lm = LlamaModel.load(c.text(), text, ops, entries, capacity, q, pr);
    vision = ClipVisionTower.load(ops, w, names.vision(), c.vision(), c.imageSize(), c.patchSize(), c.visionBlocksUsed(), false, q, pr);
    String p = names.projector();
    linear1 = Linear.load(ops, w, p + "linear_1.weight", c.projectorBias() ? p + "linear_1.bias" : null, dim, c.projectorIn(), false, null);
    linear2 = Linear.load(ops, w, p + "linear_2.weight", c.projectorBias() ? p + "linear_2.bias" : null, dim, dim, false, null);
  }

  /**
   * Loads a Hugging Face LLaVA folder onto {@code ops} with a KV cache for {@code entries} prompts of up to
   * {@code capacity} tokens (image positions included).
   */
  public static LlavaModel load(Path dir, Ops ops, int entries, int capacity) {
    return load(dir, ops, entries, capacity, dev.sparkinfer.kernels.Quantization.NONE, dev.sparkinfer.kernels.Pruning.NONE);
  }

  /**
   * As above, the Linear weights of the vision blocks and of the language model's layers pruned and quantized at load as
   * asked ({@code --prune}, {@code --quantize}); the projector, embeddings, norms and head keep their stored precision.
   */
  public static LlavaModel load(Path dir, Ops ops, int entries, int capacity, dev.sparkinfer.kernels.Quantization q,
                                dev.sparkinfer.kernels.Pruning pr) {
    LlavaConfig c = LlavaConfig.read(dir);
    try (WeightSource w = SafeTensors.openModelDir(dir)) {
      return new LlavaModel(c, ops, w, entries, capacity, q, pr);
    }
  }

  /** From a folder's config.json and weights given separately (converted or renamed checkpoints). */
  public static LlavaModel load(Path dir, Ops ops, WeightSource weights, int entries, int capacity) {
    return new LlavaModel(LlavaConfig.read(dir), ops, weights, entries, capacity, dev.sparkinfer.kernels.Quantization.NONE,
        dev.sparkinfer.kernels.Pruning.NONE);
  }

  public LlavaConfig config() { return c; }

  /** The language model (its KV cache holds the prompts run here). */
  public LlamaModel languageModel() { return lm; }

  public String deviceDescription() { return ops.ranOn(); }

  /** Projected image features [n][tokens per image][dim] of n preprocessed images (CHW floats [3][size][size]). */
  public float[][][] features(float[][] pixels) {
    int n = pixels.length, t = c.tokensPerImage(), dim = c.text().dim();
    try (Ops.Scope s = ops.scope()) {
      float[] flat = ops.read(imageFeatures(pixels));
      float[][][] out = new float[n][t][dim];
      for (int i = 0; i < n; i++) for (int j = 0; j < t; j++) System.arraycopy(flat, (i * t + j) * dim, out[i][j], 0, dim);
      return out;
    }
  }

  /** The projected features of n images, [n * tokens per image * dim], in the caller's scope. */
  private Tensor imageFeatures(float[][] pixels) {
    int n = pixels.length, seq = vision.seq(), w = c.vision().width(), layers = c.featureLayers().length;
    int t = c.tokensPerImage(), skip = c.keepClassToken() ? 0 : 1, in = c.projectorIn(), dim = c.text().dim();
    // vision tower up to the feature layer(s): hidden states without the post-LayerNorm
    Tensor[] hidden = vision.hiddenStates(pixels, c.hiddenStateIndices());
    // select: drop the class token (default) or keep it (full); several layers side by side along the features
    Tensor selected = ops.alloc(n * t * in);
    for (int i = 0; i < n; i++) {
      if (layers == 1) {
        ops.copy(selected.slice(i * t * in, t * in), hidden[0].slice((i * seq + skip) * w, t * w), t * w);
        continue;
      }
      for (int j = 0; j < t; j++) {
        for (int l = 0; l < layers; l++) {
          ops.copy(selected.slice((i * t + j) * in + l * w, w), hidden[l].slice((i * seq + skip + j) * w, w), w);
        }
      }
    }
    // projector: linear_1, activation (GELU), linear_2
    Tensor h = ops.alloc(n * t * dim), out = ops.alloc(n * t * dim);
    linear1.apply(ops, h, selected, n * t);
    ops.activation(c.projectorAct(), h, h, n * t * dim);
    linear2.apply(ops, out, h, n * t);
    return out;
  }

  /**
   * Runs prompts (ids with the image token at every image position, as {@link LlavaPrompt} makes them) into cache
   * entries 0 .. b-1, {@code images[e]} the preprocessed images of prompt e in order (its image positions number
   * images[e].length x tokens per image). Returns the logits at each prompt's last position, [b * vocab].
   */
  public float[] prefill(int[][] prompts, float[][][] images) { return prefill(0, prompts, images); }

  /** {@link #prefill(int[][], float[][][])} into cache entries {@code first .. first + b - 1}. */
  public float[] prefill(int first, int[][] prompts, float[][][] images) {
    int b = prompts.length, perImage = c.tokensPerImage();
    if (images.length != b) throw new IllegalArgumentException(b + " prompts but images for " + images.length);
    if (first < 0 || first + b > lm.entries()) {
      throw new IllegalArgumentException(b + " prompts into entries from " + first + ", the model was loaded for " + lm.entries());
    }
    int[][] at = new int[b][];
    List<float[]> all = new ArrayList<>();
    for (int e = 0; e < b; e++) {
      int[] ids = prompts[e];
      at[e] = java.util.stream.IntStream.range(0, ids.length).filter(i -> ids[i] == c.imageToken()).toArray();
      if (at[e].length != images[e].length * perImage) {
        throw new IllegalArgumentException("prompt " + e + " has " + at[e].length + " image positions (token " + c.imageToken() + ") for "
            + images[e].length + " images of " + perImage + " features each; expand each <image> with LlavaPrompt");
      }
      all.addAll(Arrays.asList(images[e]));
    }
    try (Ops.Scope s = ops.scope()) {
      // image features of every prompt's images, in order, then the language model with them at the image positions
      LlamaModel.InputEmbeddings given = all.isEmpty() ? null
          : new LlamaModel.InputEmbeddings(imageFeatures(all.toArray(new float[0][])), all.size() * perImage, at);
      return lm.forward(first, prompts, new int[b], given, false, (o, logits, rows, batch) -> o.read(logits));
    }
  }

  /** The top k of log-softmax at a prompt's last position: ids (by logit, descending; ties: lower id) and log-probs. */
  public record TopK(int[] ids, double[] logprobs) {}

  /** {@link #prefill} then, per prompt, the top k (id, log-prob) pairs at its last position. */
  public TopK[] lastTopK(int[][] prompts, float[][][] images, int k) {
    int b = prompts.length, vocab = lm.vocabSize();
    float[] logits = prefill(prompts, images);
    TopK[] out = new TopK[b];
    for (int e = 0; e < b; e++) {
      final int base = e * vocab;
      double mx = Double.NEGATIVE_INFINITY, sum = 0;
      for (int v = 0; v < vocab; v++) mx = Math.max(mx, logits[base + v]);
      for (int v = 0; v < vocab; v++) sum += Math.exp(logits[base + v] - mx);
      double lse = mx + Math.log(sum);
      int[] ids = java.util.stream.IntStream.range(0, vocab).boxed()
          .sorted((x, y) -> logits[base + x] != logits[base + y] ? Float.compare(logits[base + y], logits[base + x]) : Integer.compare(x, y))
          .limit(k).mapToInt(Integer::intValue).toArray();
      double[] lp = new double[ids.length];
      for (int j = 0; j < ids.length; j++) lp[j] = logits[base + ids[j]] - lse;
      out[e] = new TopK(ids, lp);
    }
    return out;
  }

  /**
   * Greedy generation (argmax; ties: lowest id) of up to {@code newTokens} tokens per prompt, the prompts run in
   * batches of the cache's entries: each batch prefilled together (ragged), then decoded one token per step for all.
   * A prompt stops early at one of {@code stopIds} (included in its output); none: exactly newTokens each.
   */
  public int[][] greedy(int[][] prompts, float[][][] images, int newTokens, int... stopIds) {
    int[][] out = new int[prompts.length][];
    int vocab = lm.vocabSize();
    for (int from = 0; from < prompts.length; from += lm.entries()) {
      int b = Math.min(lm.entries(), prompts.length - from);
      int[][] p = Arrays.copyOfRange(prompts, from, from + b);
      for (int[] q : p) {
        if (q.length + newTokens > lm.capacity()) {
          throw new IllegalArgumentException("a prompt of " + q.length + " tokens (image positions included) plus " + newTokens
              + " new tokens exceeds the " + lm.capacity() + " positions the model was loaded for");
        }
      }
      float[] logits = prefill(p, Arrays.copyOfRange(images, from, from + b));
      int[][] made = new int[b][newTokens];
      int[] count = new int[b], pos = new int[b];
      boolean[] done = new boolean[b];
      for (int e = 0; e < b; e++) pos[e] = p[e].length;
      while (true) {
        int[][] step = new int[b][];
        boolean any = false;
        for (int e = 0; e < b; e++) {
          if (!done[e]) {
            int t = argmax(logits, e * vocab, vocab);
            made[e][count[e]++] = t;
            done[e] = count[e] == newTokens || Arrays.stream(stopIds).anyMatch(s -> s == t);
            any |= !done[e];
          }
          step[e] = new int[] {made[e][count[e] - 1]}; // a finished prompt idles on its last token (output ignored)
        }
        if (!any) break;
        int[] at = new int[b];
        for (int e = 0; e < b; e++) at[e] = Math.min(lm.capacity() - 1, pos[e] + count[e] - 1);
        logits = lm.forward(0, step, at, false);
      }
      for (int e = 0; e < b; e++) out[from + e] = Arrays.copyOf(made[e], count[e]);
    }
    return out;
  }

  private static int argmax(float[] x, int base, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[base + i] > x[base + best]) best = i;
    return best;
  }

  @Override
  public void close() { lm.close(); } // the engine's memory belongs to its owner
}
