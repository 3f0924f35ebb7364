package dev.sparkinfer.models.bert;

import dev.sparkinfer.kernels.Activation;
import dev.sparkinfer.kernels.Attention;
import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import java.util.Arrays;

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

  /** The same model (weights, engine) pooling another way. */
  BertModel withPooling(Pooling other) { return new BertModel(c, w, other, ops); }

  /**
   * Sentence embeddings of a padded batch.
   *
   * @param ids     [batch, seq] token ids, padded
   * @param typeIds [batch, seq] token type ids
   * @param mask    [batch, seq] 1 for real tokens, 0 for padding
   * @return [batch][hidden] pooled (and, if configured, L2-normalised) vectors
   */
  public float[][] embed(int[] ids, int[] typeIds, int[] mask, int batch, int seq) { return embed(ids, typeIds, mask, batch, seq, true); }

  /**
   * As {@link #embed(int[], int[], int[], int, int)}; {@code unpad}: every op but attention runs on the rows that count
   * only (each sequence's real tokens and its first row, which [CLS] pooling reads), and attention on the padded layout,
   * the rows scattered into it and gathered back. A padding row changes no other row (its key is masked, its query is
   * not pooled) and every op but attention works row by row, so the embeddings are the padded run's, bit for bit (a
   * test holds each engine to it), for less work: the padding of a length-sorted batch of 32 is about 7 % of its
   * rows, and far more for a batch of texts in any order. False: the padded batch through every op.
   */
  float[][] embed(int[] ids, int[] typeIds, int[] mask, int batch, int seq, boolean unpad) {
    int n = batch * seq, h = c.hidden(), f = c.intermediate();
    // the rows that run: the kept rows in order; padded row i is kept row slot[i], or m for padding (a zero row)
    int[] kept = new int[n], slot = new int[n];
    int m = 0;
    for (int i = 0; i < n; i++) {
      boolean keep = !unpad || mask[i] != 0 || i % seq == 0;
      slot[i] = keep ? m : -1;
      if (keep) kept[m++] = i;
    }
    for (int i = 0; i < n; i++) if (slot[i] < 0) slot[i] = m;
    boolean padded = m < n;
    try (Ops.Scope scope = ops.scope()) {
      int[] tok = new int[m], typ = new int[m], pos = new int[m];
      for (int r = 0; r < m; r++) {
        tok[r] = ids[kept[r]];
        typ[r] = typeIds[kept[r]];
        pos[r] = kept[r] % seq;
      }
      IntTensor keyMask = ints(mask), tokens = ints(tok), types = ints(typ), positions = ints(pos);
      IntTensor toPadded = padded ? ints(slot) : null, fromPadded = padded ? ints(Arrays.copyOf(kept, m)) : null;

      // embeddings: word + position + token type, then LayerNorm. x has one more row, left zero: the padding's
      // source when rows are scattered into the padded layout
      Tensor x = ops.alloc((m + 1) * h);
      ops.gather(x, w.word, tokens, m, c.vocabSize(), h, false);
      ops.gather(x, w.position, positions, m, c.maxPositions(), h, true);
      ops.gather(x, w.tokenType, types, m, c.typeVocabSize(), h, true);
      ops.layerNorm(x, x, w.embLnW, w.embLnB, m, h, c.layerNormEps());

      Tensor qkv = ops.alloc((m + 1) * 3 * h); // its last row stays zero, as x's
      Tensor ctx = ops.alloc(m * h);
      Tensor tmp = ops.alloc(m * h);
      Tensor ffn = ops.alloc(m * f);
      Tensor qkvPadded = padded ? ops.alloc(n * 3 * h) : qkv, ctxPadded = padded ? ops.alloc(n * h) : ctx;
      Attention spec = Attention.selfAttention(batch, seq, c.heads(), c.headDim(), false).withStrides(3 * h, 3 * h, h);
      Tensor scores = ops.alloc((int) spec.scoresSize());
      for (BertWeights.Layer l : w.layers) {
        // attention: fused qkv projection, softmax(q k^T / sqrt(d)) over non-padding keys, output projection,
        // residual, post-LN
        ops.linear(qkv, x, l.qkvW(), l.qkvB(), m);
        if (padded) ops.gather(qkvPadded, qkv, toPadded, n, m + 1, 3 * h, false);
        ops.attention(ctxPadded, qkvPadded, qkvPadded.slice(h, qkvPadded.size() - h), qkvPadded.slice(2 * h, qkvPadded.size() - 2 * h),
            keyMask, scores, spec);
        if (padded) ops.gather(ctx, ctxPadded, fromPadded, m, n, h, false);
        ops.linear(tmp, ctx, l.attnOutW(), l.attnOutB(), m);
        ops.addLayerNorm(x, tmp, x, l.attnLnW(), l.attnLnB(), m, h, c.layerNormEps());
        // feed-forward: dense and GELU, dense, residual, post-LN
        ops.linear(ffn, x, l.ffnInW(), l.ffnInB(), m, act);
        ops.linear(tmp, ffn, l.ffnOutW(), l.ffnOutB(), m);
        ops.addLayerNorm(x, tmp, x, l.ffnLnW(), l.ffnLnB(), m, h, c.layerNormEps());
      }

      // pooling: masked mean or [CLS], then L2 normalisation (sentence-transformers Normalize)
      Tensor pooled = ops.alloc(batch * h);
      if (pooling.mode() == Pooling.Mode.MEAN) {
        Tensor all = x;
        if (padded) {
          all = ops.alloc(n * h);
          ops.gather(all, x, toPadded, n, m + 1, h, false);
        }
        ops.meanPool(pooled, all, keyMask, batch, seq, h);
      } else {
        int[] cls = new int[batch];
        for (int b = 0; b < batch; b++) cls[b] = slot[b * seq];
        ops.gather(pooled, x, ints(cls), batch, m, h, false);
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
