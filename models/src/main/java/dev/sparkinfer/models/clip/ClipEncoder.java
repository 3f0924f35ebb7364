package dev.sparkinfer.models.clip;

import dev.sparkinfer.kernels.Attention;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Pruning;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.decoder.Linear;
import dev.sparkinfer.models.weights.WeightMemory;
import dev.sparkinfer.models.weights.WeightSource;

/**
 * CLIP's transformer blocks (HF CLIPEncoder), the same in both towers: x + attn(ln1(x)), then x + mlp(ln2(x)), with
 * the tower's activation in the MLP.
 */
final class ClipEncoder {
  private ClipEncoder() {}

  /** One block's weights: LayerNorms [width], q/k/v/out [width, width], fc1 [ffn, width], fc2 [width, ffn], with biases. */
  record Block(Tensor ln1W, Tensor ln1B, Linear q, Linear k, Linear v, Linear o, Tensor ln2W, Tensor ln2B, Linear fc1, Linear fc2) {}

  /** The first {@code count} blocks of {@code tower} ("text_model.", "vision_tower.vision_model.", ...). */
  static Block[] load(Ops ops, WeightSource w, String tower, ClipConfig.Tower t, int count) {
    return load(ops, w, tower, t, count, Quantization.NONE, Pruning.NONE);
  }

  /** As above, the blocks' Linear weights (q, k, v, out, fc1, fc2) pruned and quantized at load as asked. */
  static Block[] load(Ops ops, WeightSource w, String tower, ClipConfig.Tower t, int count, Quantization q, Pruning pr) {
    Block[] b = new Block[count];
    for (int l = 0; l < count; l++) {
      String p = tower + "encoder.layers." + l + ".";
      int d = t.width();
      b[l] = new Block(vec(ops, w, p + "layer_norm1.weight", d), vec(ops, w, p + "layer_norm1.bias", d),
          lin(ops, w, p + "self_attn.q_proj", d, d, q, pr), lin(ops, w, p + "self_attn.k_proj", d, d, q, pr),
          lin(ops, w, p + "self_attn.v_proj", d, d, q, pr), lin(ops, w, p + "self_attn.out_proj", d, d, q, pr),
          vec(ops, w, p + "layer_norm2.weight", d), vec(ops, w, p + "layer_norm2.bias", d),
          lin(ops, w, p + "mlp.fc1", t.ffn(), d, q, pr), lin(ops, w, p + "mlp.fc2", d, t.ffn(), q, pr));
    }
    return b;
  }

  /** Whether {@code name} is a block's Linear weight (q, k, v, out, fc1, fc2): what {@code --quantize} applies to. */
  static boolean isBlockLinear(String name) {
    return name.contains("encoder.layers.") && (name.endsWith("_proj.weight") || name.endsWith(".fc1.weight") || name.endsWith(".fc2.weight"));
  }

  /**
   * How a CLIP model loads a tensor (for reserving its memory): the token and position embeddings as tables; the blocks'
   * Linear weights (quantized when asked), the patch convolution and the projections as Linear weights.
   */
  static WeightMemory.Load howLoaded(String name, Quantization q) {
    if (name.contains("token_embedding.") || name.contains("position_embedding.")) return WeightMemory.Load.TABLE;
    if (q != Quantization.NONE && isBlockLinear(name)) return WeightMemory.Load.QUANTIZED;
    return WeightMemory.Load.LINEAR;
  }

  static Linear lin(Ops ops, WeightSource w, String name, int out, int in) {
    return Linear.load(ops, w, name + ".weight", name + ".bias", out, in, false, null);
  }

  static Linear lin(Ops ops, WeightSource w, String name, int out, int in, Quantization q, Pruning pr) {
    return Linear.load(ops, w, name + ".weight", name + ".bias", out, in, false, null, q, pr);
  }

  static Tensor vec(Ops ops, WeightSource w, String name, int n) { return ops.upload(Linear.vector(w, name, n)); }

  /** Blocks {@code from} .. {@code to - 1} over n sequences of seq tokens, in place on x [n * seq * width]. */
  static void run(Ops ops, Tensor x, Block[] blocks, int from, int to, ClipConfig.Tower t, int n, int seq, boolean causal) {
    int d = t.width(), rows = n * seq;
    Attention sp = Attention.selfAttention(n, seq, t.heads(), t.headDim(), causal);
    try (Ops.Scope s = ops.scope()) {
      Tensor h = ops.alloc(rows * d), q = ops.alloc(rows * d), k = ops.alloc(rows * d), v = ops.alloc(rows * d);
      Tensor att = ops.alloc(rows * d), ffn = ops.alloc(rows * t.ffn()), scores = ops.alloc(Math.toIntExact(sp.scoresSize()));
      for (int l = from; l < to; l++) {
        Block b = blocks[l];
        // attention: pre-LN, q/k/v projections, softmax(q k^T / sqrt(d)) (causal for text), output projection, residual
        ops.layerNorm(h, x, b.ln1W(), b.ln1B(), rows, d, t.eps());
        b.q().apply(ops, q, h, rows);
        b.k().apply(ops, k, h, rows);
        b.v().apply(ops, v, h, rows);
        ops.attention(att, q, k, v, null, scores, sp);
        b.o().apply(ops, h, att, rows);
        // residual, then the MLP: pre-LN, fc1 and quick-GELU (or the tower's activation), fc2, residual
        ops.addLayerNorm(h, x, h, b.ln2W(), b.ln2B(), rows, d, t.eps());
        b.fc1().apply(ops, ffn, h, rows, t.act());
        b.fc2().apply(ops, h, ffn, rows);
        ops.add(x, x, h, rows * d);
      }
    }
  }
}
