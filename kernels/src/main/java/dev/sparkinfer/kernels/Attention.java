package dev.sparkinfer.kernels;

/**
 * Shape and masking of one scaled-dot-product attention call.
 *
 * <p>Layouts follow Hugging Face: q is {@code [batch, qLen, qStride]} with head h at columns {@code h*headDim},
 * k and v are {@code [batch, kLen, kvStride]} with kv head g at {@code g*headDim}; out is {@code [batch, qLen, outStride]}.
 * Strides let q, k and v be slices of one fused qkv projection. Query i sits at absolute position
 * {@code posOffset + i} (non-zero with a KV cache); key j at position j.
 *
 * <p>With a KV cache, k and v are the cache: {@code kvRows} rows per batch entry (its capacity; batch b's key j at row
 * {@code b * kvRows + j}), of which the first {@code kLen} are read. Ragged batches pass per-entry positions to
 * {@link Ops#attention(Tensor, Tensor, Tensor, Tensor, IntTensor, IntTensor, Tensor, Attention)}: query i of entry b is
 * then at position {@code positions[b] + i} instead of {@code posOffset + i}.
 *
 * @param heads       query heads
 * @param kvHeads     key/value heads (GQA: heads is a multiple of kvHeads; query head h reads kv head h / (heads/kvHeads))
 * @param causal      key j visible to query i only when j <= posOffset + i
 * @param window      sliding window (Mistral): when > 0, key j visible only when j > posOffset + i - window
 * @param scale       usually 1/sqrt(headDim)
 * @param kvRows      rows per batch entry in k and v (the cache capacity; kLen without a cache)
 */
public record Attention(int batch, int qLen, int kLen, int heads, int kvHeads, int headDim,
                        int qStride, int kvStride, int outStride,
                        boolean causal, int posOffset, int window, float scale, int kvRows) {
  /** Without a cache: k and v hold exactly kLen rows per batch entry. */
  public Attention(int batch, int qLen, int kLen, int heads, int kvHeads, int headDim, int qStride, int kvStride, int outStride,
                   boolean causal, int posOffset, int window, float scale) {
    this(batch, qLen, kLen, heads, kvHeads, headDim, qStride, kvStride, outStride, causal, posOffset, window, scale, kLen);
  }

  public Attention {
    if (kvRows < kLen) throw new IllegalArgumentException("kvRows " + kvRows + " < kLen " + kLen + " in attention");
    if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
      throw new IllegalArgumentException("heads " + heads + " must be a positive multiple of kvHeads " + kvHeads);
    }
    if (batch <= 0 || qLen <= 0 || kLen <= 0 || headDim <= 0) throw new IllegalArgumentException("empty attention " + this);
    if (qStride < heads * headDim || kvStride < kvHeads * headDim || outStride < heads * headDim) {
      throw new IllegalArgumentException("strides too small for heads x headDim in " + this);
    }
  }

  /** Self-attention over padded sequences of equal q/k length, packed [batch, seq, heads*headDim] tensors. */
  public static Attention selfAttention(int batch, int seq, int heads, int headDim, boolean causal) {
    int w = heads * headDim;
    return new Attention(batch, seq, seq, heads, heads, headDim, w, w, w, causal, 0, 0, (float) (1.0 / Math.sqrt(headDim)));
  }

  public Attention withStrides(int qStride, int kvStride, int outStride) {
    return new Attention(batch, qLen, kLen, heads, kvHeads, headDim, qStride, kvStride, outStride, causal, posOffset, window, scale, kvRows);
  }

  /** Keys and values read from a cache of {@code rows} rows per batch entry. */
  public Attention withCacheRows(int rows) {
    return new Attention(batch, qLen, kLen, heads, kvHeads, headDim, qStride, kvStride, outStride, causal, posOffset, window, scale, rows);
  }

  /** Floats of scratch the scores need: batch * heads * qLen * kLen. */
  public long scoresSize() { return (long) batch * heads * qLen * kLen; }

  /** Whether key j is visible to query i (masks other than the key-padding mask). */
  public boolean visible(int i, int j) { return visibleAt(posOffset + i, j); }

  /** Whether key j is visible to a query at absolute position pos. */
  public boolean visibleAt(int pos, int j) {
    if (causal && j > pos) return false;
    return window <= 0 || j > pos - window;
  }
}
