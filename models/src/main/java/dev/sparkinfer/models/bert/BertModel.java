package dev.sparkinfer.models.bert;

import dev.sparkinfer.kernels.Activation;
import dev.sparkinfer.kernels.Attention;
import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;

/**
 * The BERT encoder (Hugging Face {@code BertModel}: post-LN layers) and sentence pooling, on any {@link Ops}.
 * One batch of padded sequences per call.
 */
public final class BertModel {
  private final BertConfig c;
  private final BertWeights w;
  private final Pooling pooling;
  private final Ops ops;
  private final Activation act;

  public BertModel(BertConfig config, BertWeights weights, Pooling pooling, Ops ops) {
    this.c = config;
    this.w = weights;
    this.pooling = pooling;
    this.ops = ops;
    this.act = switch (config.hiddenAct()) {
      case "gelu" -> Activation.GELU_ERF;
      case "gelu_new" -> Activation.GELU_TANH;
      default -> Activation.RELU;
    };
  }

  public BertConfig config() { return c; }

  /**
   * Sentence embeddings of a padded batch.
   *
   * @param ids     [batch, seq] token ids, padded
   * @param typeIds [batch, seq] token type ids
   * @param mask    [batch, seq] 1 for real tokens, 0 for padding
   * @return [batch][hidden] pooled (and, if configured, L2-normalised) vectors
   */
  public float[][] embed(int[] ids, int[] typeIds, int[] mask, int batch, int seq) {
    int n = batch * seq, h = c.hidden(), f = c.intermediate();
    try (Ops.Scope scope = ops.scope()) {
      IntTensor tokens = ints(ids), types = ints(typeIds), keyMask = ints(mask);
      int[] pos = new int[n];
      for (int i = 0; i < n; i++) pos[i] = i % seq;
      IntTensor positions = ints(pos);

      // embeddings: word + position + token type, then LayerNorm
      Tensor x = ops.alloc(n * h);
      ops.gather(x, w.word, tokens, n, c.vocabSize(), h, false);
      ops.gather(x, w.position, positions, n, c.maxPositions(), h, true);
      ops.gather(x, w.tokenType, types, n, c.typeVocabSize(), h, true);
      ops.layerNorm(x, x, w.embLnW, w.embLnB, n, h, c.layerNormEps());

      Tensor qkv = ops.alloc(n * 3 * h);
      Tensor ctx = ops.alloc(n * h);
      Tensor tmp = ops.alloc(n * h);
      Tensor ffn = ops.alloc(n * f);
      Attention spec = Attention.selfAttention(batch, seq, c.heads(), c.headDim(), false).withStrides(3 * h, 3 * h, h);
      Tensor scores = ops.alloc((int) spec.scoresSize());
      for (BertWeights.Layer l : w.layers) {
        // attention: fused qkv projection, softmax(q k^T / sqrt(d)) over non-padding keys, output projection,
        // residual, post-LN
        ops.linear(qkv, x, l.qkvW(), l.qkvB(), n);
        ops.attention(ctx, qkv, qkv.slice(h, qkv.size() - h), qkv.slice(2 * h, qkv.size() - 2 * h), keyMask, scores, spec);
        ops.linear(tmp, ctx, l.attnOutW(), l.attnOutB(), n);
        ops.addLayerNorm(x, tmp, x, l.attnLnW(), l.attnLnB(), n, h, c.layerNormEps());
        // feed-forward: dense and GELU, dense, residual, post-LN
        ops.linear(ffn, x, l.ffnInW(), l.ffnInB(), n, act);
        ops.linear(tmp, ffn, l.ffnOutW(), l.ffnOutB(), n);
        ops.addLayerNorm(x, tmp, x, l.ffnLnW(), l.ffnLnB(), n, h, c.layerNormEps());
      }

      // pooling: masked mean or [CLS], then L2 normalisation (sentence-transformers Normalize)
      Tensor pooled = ops.alloc(batch * h);
      if (pooling.mode() == Pooling.Mode.MEAN) {
        ops.meanPool(pooled, x, keyMask, batch, seq, h);
      } else {
        int[] cls = new int[batch];
        for (int b = 0; b < batch; b++) cls[b] = b * seq;
        ops.gather(pooled, x, ints(cls), batch, n, h, false);
      }
      if (pooling.normalize()) ops.l2Normalize(pooled, pooled, batch, h);
      float[] flat = ops.read(pooled);
      float[][] out = new float[batch][h];
      for (int b = 0; b < batch; b++) System.arraycopy(flat, b * h, out[b], 0, h);
      return out;
    }
  }


  private IntTensor ints(int[] data) {
    IntTensor t = ops.allocInts(data.length);
    ops.write(t, data);
    return t;
  }
}
