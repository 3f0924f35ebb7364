package dev.sparkinfer.kernels;

import java.util.SplittableRandom;

/**
 * A minimal LLaMA-shaped decoder with random 16-bit weights, made here (no download), to exercise the engine at real
 * sizes: 16-bit weights resident on the device, a KV cache kept as state across calls, RoPE, grouped-query attention
 * over the cache with ragged positions, SwiGLU, a tied 16-bit head. Not a model family (that is the teacher-labels
 * issue's LLaMA class): weights are random, so only engine-against-engine parity and speed mean anything here.
 */
final class DecoderStack {
  /** Widths of a LLaMA decoder; {@link #LLAMA_3_2_1B} is meta-llama/Llama-3.2-1B's config.json. */
  record Shape(int layers, int dim, int heads, int kvHeads, int ffn, int vocab, double theta) {
    static final Shape LLAMA_3_2_1B = new Shape(16, 2048, 32, 8, 8192, 128256, 500000);

    int headDim() { return dim / heads; }

    int kvDim() { return kvHeads * headDim(); }

    Shape withLayers(int n) { return new Shape(n, dim, heads, kvHeads, ffn, vocab, theta); }

    /** 16-bit parameters: embeddings (tied head) + per layer q, k, v, o and the three FFN matrices. */
    long params16() {
      return (long) vocab * dim + (long) layers * ((long) dim * dim * 2 + 2L * kvDim() * dim + 3L * ffn * dim);
    }
  }

  private record Layer(Tensor attnNorm, HalfTensor wq, HalfTensor wk, HalfTensor wv, HalfTensor wo, Tensor ffnNorm,
                       HalfTensor w1, HalfTensor w3, HalfTensor w2, Tensor kCache, Tensor vCache) {}

  final Shape shape;
  private final Ops ops;
  private final int batch, capacity;
  private final HalfTensor embed; // [vocab, dim], also the head
  private final Tensor finalNorm, invFreq;
  private final Layer[] layers;

  /** A weight as uploaded, kept for export in the checkpoint's own naming (HF LlamaForCausalLM). */
  record Exported(Object data, long[] shape) {}

  /** Uploads weights drawn from {@code seed} (the same on every Ops) and allocates the KV cache for batch x capacity. */
  DecoderStack(Ops ops, Shape s, DType dtype, long seed, int batch, int capacity) {
    this(ops, s, dtype, seed, batch, capacity, null);
  }

  /** The same, also keeping every weight in {@code export} under its Hugging Face name (a reference run loads them). */
  DecoderStack(Ops ops, Shape s, DType dtype, long seed, int batch, int capacity, java.util.Map<String, Exported> export) {
    this.ops = ops;
    this.shape = s;
    this.batch = batch;
    this.capacity = capacity;
    long values = ops.linear16Values(s.vocab(), s.dim()) + (long) s.layers() * (2 * ops.linear16Values(s.dim(), s.dim())
        + 2 * ops.linear16Values(s.kvDim(), s.dim()) + 2 * ops.linear16Values(s.ffn(), s.dim()) + ops.linear16Values(s.dim(), s.ffn()));
    ops.reserve16(values + 16L * (8 * s.layers() + 1));
    SplittableRandom rnd = new SplittableRandom(seed);
    float scale = (float) (1 / Math.sqrt(s.dim()));
    int kv = s.kvDim(), d = s.dim(), f = s.ffn();
    java.util.function.BiFunction<String, char[], HalfTensor> w16 = (name, bits) -> {
      if (export != null) export.put(name, new Exported(bits, null));
      long[] shape = shapeOf(name, s); // as the models load them: Linear weights, the tied head too, in the engine's layout
      return ops.upload16Linear(bits, dtype, (int) shape[0], (int) shape[1]);
    };
    java.util.function.BiFunction<String, float[], Tensor> w32 = (name, v) -> {
      if (export != null) export.put(name, new Exported(v, new long[] {v.length}));
      return ops.upload(v);
    };
    embed = w16.apply("model.embed_tokens.weight", random16(rnd, (long) s.vocab() * d, 0.05f, dtype)); // ~ LLaMA init's 0.02 std
    layers = new Layer[s.layers()];
    for (int l = 0; l < s.layers(); l++) {
      String p = "model.layers." + l + ".";
      layers[l] = new Layer(w32.apply(p + "input_layernorm.weight", norm(rnd, d)),
          w16.apply(p + "self_attn.q_proj.weight", random16(rnd, (long) d * d, scale, dtype)),
          w16.apply(p + "self_attn.k_proj.weight", random16(rnd, (long) kv * d, scale, dtype)),
          w16.apply(p + "self_attn.v_proj.weight", random16(rnd, (long) kv * d, scale, dtype)),
          w16.apply(p + "self_attn.o_proj.weight", random16(rnd, (long) d * d, scale, dtype)),
          w32.apply(p + "post_attention_layernorm.weight", norm(rnd, d)),
          w16.apply(p + "mlp.gate_proj.weight", random16(rnd, (long) f * d, scale, dtype)),
          w16.apply(p + "mlp.up_proj.weight", random16(rnd, (long) f * d, scale, dtype)),
          w16.apply(p + "mlp.down_proj.weight", random16(rnd, (long) d * f, (float) (1 / Math.sqrt(f)), dtype)),
          ops.allocState(Math.multiplyExact(batch * capacity, kv)),
          ops.allocState(Math.multiplyExact(batch * capacity, kv)));
    }
    finalNorm = w32.apply("model.norm.weight", norm(rnd, d));
    invFreq = ops.upload(Rope.invFreq(s.headDim(), s.theta(), null));
    if (export != null) { // shapes of the 16-bit ones, [out, in] as PyTorch's Linear
      export.replaceAll((name, e) -> e.shape() != null ? e : new Exported(e.data(), shapeOf(name, s)));
    }
  }

  private static long[] shapeOf(String name, Shape s) {
    int d = s.dim(), kv = s.kvDim(), f = s.ffn();
    if (name.equals("model.embed_tokens.weight")) return new long[] {s.vocab(), d};
    if (name.endsWith("q_proj.weight") || name.endsWith("o_proj.weight")) return new long[] {d, d};
    if (name.endsWith("k_proj.weight") || name.endsWith("v_proj.weight")) return new long[] {kv, d};
    if (name.endsWith("gate_proj.weight") || name.endsWith("up_proj.weight")) return new long[] {f, d};
    if (name.endsWith("down_proj.weight")) return new long[] {d, f};
    throw new IllegalArgumentException(name);
  }

  private static char[] random16(SplittableRandom rnd, long n, float scale, DType t) {
    char[] h = new char[Math.toIntExact(n)];
    for (int i = 0; i < h.length; i++) h[i] = t.fromFloat((float) (rnd.nextDouble() * 2 - 1) * scale);
    return h;
  }

  private static float[] norm(SplittableRandom rnd, int n) {
    float[] w = new float[n];
    for (int i = 0; i < n; i++) w[i] = (float) (0.8 + 0.4 * rnd.nextDouble());
    return w;
  }

  /**
   * Runs {@code tokens[e]} (the same count q for every entry) at positions {@code positions[e]..positions[e]+q-1} of
   * cache entry {@code first + e}, and returns the logits of each entry's last token, [entries x vocab].
   */
  float[] forward(int first, int[][] tokens, int[] positions) {
    Shape s = shape;
    int b = tokens.length, q = tokens[0].length, rows = b * q, dim = s.dim(), kv = s.kvDim(), hd = s.headDim();
    int[] ids = new int[rows], rowPos = new int[rows];
    int maxPos = 0;
    for (int e = 0; e < b; e++) {
      if (tokens[e].length != q) throw new IllegalArgumentException("every entry runs the same number of tokens");
      for (int i = 0; i < q; i++) {
        ids[e * q + i] = tokens[e][i];
        rowPos[e * q + i] = positions[e] + i;
      }
      maxPos = Math.max(maxPos, positions[e]);
    }
    if (first + b > batch || maxPos + q > capacity) throw new IllegalArgumentException("beyond the cache: " + b + " entries, position " + (maxPos + q));
    Attention sp = new Attention(b, q, maxPos + q, s.heads(), s.kvHeads(), hd, dim, kv, dim, true, 0, 0, (float) (1 / Math.sqrt(hd)))
        .withCacheRows(capacity);
    try (Ops.Scope scope = ops.scope()) {
      IntTensor pos = ops.allocInts(b), rp = ops.allocInts(rows), tid = ops.allocInts(rows);
      ops.write(pos, java.util.Arrays.copyOf(positions, b));
      ops.write(rp, rowPos);
      ops.write(tid, ids);
      Tensor x = ops.alloc(rows * dim), h = ops.alloc(rows * dim), qt = ops.alloc(rows * dim), att = ops.alloc(rows * dim);
      Tensor kt = ops.alloc(rows * kv), vt = ops.alloc(rows * kv);
      Tensor g = ops.alloc(rows * s.ffn()), u = ops.alloc(rows * s.ffn()), scores = ops.alloc(Math.toIntExact(sp.scoresSize()));
      ops.gather16(x, embed, tid, rows, s.vocab(), dim);
      for (Layer l : layers) {
        // attention: pre-norm, q/k/v projections, rotary, cache write, causal GQA over the cache, output projection, residual
        ops.rmsNorm(h, x, l.attnNorm(), rows, dim, 1e-5f);
        ops.linear16(qt, h, l.wq(), null, rows, dim, dim);
        ops.linear16(kt, h, l.wk(), null, rows, kv, dim);
        ops.linear16(vt, h, l.wv(), null, rows, kv, dim);
        ops.rope(qt, rows, s.heads(), hd, dim, rp, invFreq);
        ops.rope(kt, rows, s.kvHeads(), hd, kv, rp, invFreq);
        Tensor kc = l.kCache().slice(first * capacity * kv, b * capacity * kv), vc = l.vCache().slice(first * capacity * kv, b * capacity * kv);
        ops.cacheWrite(kc, kt, pos, b, q, kv, kv, capacity);
        ops.cacheWrite(vc, vt, pos, b, q, kv, kv, capacity);
        ops.attention(att, qt, kc, vc, null, pos, scores, sp);
        ops.linear16(h, att, l.wo(), null, rows, dim, dim);
        ops.add(x, x, h, rows * dim);
        // feed-forward: pre-norm, SwiGLU (silu(gate) * up), down projection, residual
        ops.rmsNorm(h, x, l.ffnNorm(), rows, dim, 1e-5f);
        ops.linear16(g, h, l.w1(), null, rows, s.ffn(), dim);
        ops.linear16(u, h, l.w3(), null, rows, s.ffn(), dim);
        ops.activation(Activation.SILU, g, g, rows * s.ffn());
        ops.mul(g, g, u, rows * s.ffn());
        ops.linear16(h, g, l.w2(), null, rows, dim, s.ffn());
        ops.add(x, x, h, rows * dim);
      }
      // last token of each entry: final norm, tied head
      Tensor last = ops.alloc(b * dim), logits = ops.alloc(Math.multiplyExact(b, s.vocab()));
      for (int e = 0; e < b; e++) ops.copy(last.slice(e * dim, dim), x.slice(((e + 1) * q - 1) * dim, dim), dim);
      ops.rmsNorm(last, last, finalNorm, b, dim, 1e-5f);
      ops.linear16(logits, last, embed, null, b, s.vocab(), dim);
      return ops.read(logits);
    }
  }
}
