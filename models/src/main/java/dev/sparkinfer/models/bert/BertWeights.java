package dev.sparkinfer.models.bert;

import dev.sparkinfer.kernels.LinearWeight;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Pruning;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.weights.WeightMemory;
import dev.sparkinfer.models.weights.WeightSource;
import java.util.Arrays;

/**
 * BERT weights uploaded to the device once. Names are the checkpoint's (Hugging Face {@code BertModel}); checkpoints
 * saved from a task head carry a {@code bert.} prefix, which is detected. With a {@link Quantization} other than NONE the
 * encoder's Linear weights (q/k/v, attention output, FFN in and out) are quantized at load and stay quantized on the
 * device; embeddings, LayerNorms and biases keep their stored precision.
 */
public final class BertWeights {
  // the name table, in the checkpoint's own naming
  static final String WORD = "embeddings.word_embeddings.weight";
  static final String POSITION = "embeddings.position_embeddings.weight";
  static final String TOKEN_TYPE = "embeddings.token_type_embeddings.weight";
  static final String EMB_LN = "embeddings.LayerNorm.%s";
  static final String Q = "encoder.layer.%d.attention.self.query.%s";
  static final String K = "encoder.layer.%d.attention.self.key.%s";
  static final String V = "encoder.layer.%d.attention.self.value.%s";
  static final String ATTN_OUT = "encoder.layer.%d.attention.output.dense.%s";
  static final String ATTN_LN = "encoder.layer.%d.attention.output.LayerNorm.%s";
  static final String FFN_IN = "encoder.layer.%d.intermediate.dense.%s";
  static final String FFN_OUT = "encoder.layer.%d.output.dense.%s";
  static final String FFN_LN = "encoder.layer.%d.output.LayerNorm.%s";

  final Tensor word;      // [vocab, hidden]
  final Tensor position;  // [maxPositions, hidden]
  final Tensor tokenType; // [typeVocab, hidden]
  final Tensor embLnW, embLnB; // [hidden]
  final Layer[] layers;

  /** One encoder layer. q, k, v are fused into one [3 * hidden, hidden] projection (one matmul instead of three). */
  record Layer(LinearWeight qkvW,   // [3 * hidden, hidden]
               Tensor qkvB,         // [3 * hidden]
               LinearWeight attnOutW, Tensor attnOutB, // [hidden, hidden], [hidden]
               Tensor attnLnW, Tensor attnLnB,         // [hidden]
               LinearWeight ffnInW, Tensor ffnInB,     // [intermediate, hidden], [intermediate]
               LinearWeight ffnOutW, Tensor ffnOutB,   // [hidden, intermediate], [hidden]
               Tensor ffnLnW, Tensor ffnLnB) {}        // [hidden]

  private final WeightSource src;
  private final String prefix;
  private final Ops ops;
  private final Quantization quantize;
  private final Pruning prune;

  public BertWeights(WeightSource src, BertConfig c, Ops ops) { this(src, c, ops, Quantization.NONE); }

  public BertWeights(WeightSource src, BertConfig c, Ops ops, Quantization quantize) { this(src, c, ops, quantize, Pruning.NONE); }

  /** With the encoder's Linear weights magnitude-pruned at load ({@link Pruning}; q, k and v each as its own matrix), then quantized. */
  public BertWeights(WeightSource src, BertConfig c, Ops ops, Quantization quantize, Pruning prune) {
    this.src = src;
    this.ops = ops;
    this.quantize = quantize;
    this.prune = prune;
    this.prefix = src.has(WORD) ? "" : src.has("bert." + WORD) ? "bert." : null;
    if (prefix == null) {
      throw new IllegalArgumentException(src.origin() + " has no '" + WORD + "': not a BERT checkpoint (first names: "
          + src.names().stream().sorted().limit(5).toList() + ")");
    }
    // room for the encoder's Linear weights at once, in the float banks (the embeddings and vectors go to the arena)
    String layers0 = prefix + "encoder.layer.";
    WeightMemory.of(ops, src, quantize, n -> !n.startsWith(layers0) || !n.endsWith(".weight") ? WeightMemory.Load.NONE
        : quantize != Quantization.NONE ? WeightMemory.Load.QUANTIZED : WeightMemory.Load.LINEAR).reserve(ops);
    int h = c.hidden(), f = c.intermediate();
    word = load(WORD, c.vocabSize(), h);
    position = load(POSITION, c.maxPositions(), h);
    tokenType = load(TOKEN_TYPE, c.typeVocabSize(), h);
    embLnW = load(String.format(EMB_LN, "weight"), h);
    embLnB = load(String.format(EMB_LN, "bias"), h);
    layers = new Layer[c.layers()];
    for (int l = 0; l < c.layers(); l++) {
      float[] qkvW = concat(pruned(name(Q, l, "weight"), h, h), pruned(name(K, l, "weight"), h, h), pruned(name(V, l, "weight"), h, h));
      float[] qkvB = concat(floats(name(Q, l, "bias"), h), floats(name(K, l, "bias"), h), floats(name(V, l, "bias"), h));
      layers[l] = new Layer(ops.uploadLinear(qkvW, 3 * h, h, quantize), ops.upload(qkvB),
          linear(name(ATTN_OUT, l, "weight"), h, h), load(name(ATTN_OUT, l, "bias"), h),
          load(name(ATTN_LN, l, "weight"), h), load(name(ATTN_LN, l, "bias"), h),
          linear(name(FFN_IN, l, "weight"), f, h), load(name(FFN_IN, l, "bias"), f),
          linear(name(FFN_OUT, l, "weight"), h, f), load(name(FFN_OUT, l, "bias"), h),
          load(name(FFN_LN, l, "weight"), h), load(name(FFN_LN, l, "bias"), h));
    }
  }

  private static String name(String pattern, int layer, String kind) { return String.format(pattern, layer, kind); }

  private Tensor load(String name, long... shape) { return ops.upload(floats(name, shape)); }

  private LinearWeight linear(String name, int out, int in) { return ops.uploadLinear(pruned(name, out, in), out, in, quantize); }

  /** A Linear weight's floats [out, in], magnitude-pruned when asked. */
  private float[] pruned(String name, int out, int in) { return prune.apply(floats(name, out, in), out, in); }

  /** The tensor's floats after checking its shape against the config. */
  private float[] floats(String name, long... shape) {
    String full = prefix + name;
    if (!src.has(full)) throw new IllegalArgumentException(src.origin() + " lacks tensor '" + full + "'");
    long[] actual = src.shape(full);
    if (!Arrays.equals(actual, shape)) {
      throw new IllegalArgumentException(src.origin() + ": tensor '" + full + "' has shape " + Arrays.toString(actual)
          + ", config.json implies " + Arrays.toString(shape));
    }
    return src.floats(full);
  }

  private static float[] concat(float[]... parts) {
    int n = 0;
    for (float[] p : parts) n += p.length;
    float[] out = new float[n];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }
}
