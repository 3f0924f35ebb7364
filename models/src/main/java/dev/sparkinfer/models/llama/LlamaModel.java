package dev.sparkinfer.models.llama;

import dev.sparkinfer.kernels.Activation;
import dev.sparkinfer.kernels.Attention;
import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Pruning;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.kernels.Rope;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.decoder.Batch;
import dev.sparkinfer.models.decoder.CausalLm;
import dev.sparkinfer.models.decoder.Embedding;
import dev.sparkinfer.models.decoder.Linear;
import dev.sparkinfer.models.weights.SafeTensors;
import dev.sparkinfer.models.weights.WeightMemory;
import dev.sparkinfer.models.weights.WeightSource;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Function;

/**
 * The LLaMA family (Hugging Face LlamaForCausalLM, Mistral, Mixtral; llama2.c's model.py): RMSNorm pre-norm blocks,
 * rotary positions (HF's rotate-half layout, {@code rope_theta}, the llama3 {@code rope_scaling}), grouped-query
 * attention over the KV cache (a sliding window for Mistral/Mixtral), a SwiGLU feed-forward or Mixtral's sparse
 * mixture of experts, final RMSNorm, a tied or separate head. 16-bit checkpoints stay 16-bit on the engine; LoRA
 * adapters are merged into their weights at load; GPTQ 4-bit checkpoints ({@link GptqCheckpoint}) load as INT4.
 */
public final class LlamaModel implements CausalLm {
  /** The checkpoint's tensor names. */
  static final String EMBED = "model.embed_tokens.weight", NORM = "model.norm.weight", HEAD = "lm_head.weight";
  static String layer(int l, String rest) { return "model.layers." + l + "." + rest; }

  /** A SwiGLU feed-forward: down(silu(gate x) * up x). */
  private record SwiGlu(Linear gate, Linear up, Linear down) {}

  private record Layer(Tensor attnNorm, Linear q, Linear k, Linear v, Linear o, Tensor ffnNorm,
                       SwiGlu mlp, Linear router, SwiGlu[] experts, Tensor kCache, Tensor vCache) {}

  private final LlamaConfig c;
  private final Ops ops;
  private final int entries, capacity;
  private final Embedding embed;
  private final Linear head; // null when tied
  private final Tensor norm, invFreq;
  private final Layer[] layers;
  /** Quantization of the layers' Linear weights (attention, MLP, experts); embeddings, norms, router and head keep theirs. */
  private final Quantization quantize;
  /** Magnitude pruning of the same Linear weights, before quantizing. */
  private final Pruning prune;
  /** The checkpoint's GPTQ settings when its layers' Linear weights are GPTQ-packed 4-bit (they load as INT4); else null. */
  private final GptqCheckpoint gptq;

  private LlamaModel(LlamaConfig c, Ops ops, WeightSource w, LoraAdapter lora, int entries, int capacity, Quantization quantize,
                     Pruning prune, GptqCheckpoint gptq) {
    if (capacity > c.positions()) throw new IllegalArgumentException("a cache of " + capacity + " tokens exceeds the model's " + c.positions() + " positions");
    this.c = c;
    this.ops = ops;
    this.entries = entries;
    this.capacity = capacity;
    this.quantize = quantize;
    this.prune = prune;
    this.gptq = gptq;
    if (gptq != null && (quantize != Quantization.NONE || !prune.isNone() || lora != null)) {
      throw new IllegalArgumentException(w.origin() + " is a GPTQ 4-bit checkpoint (" + gptq.source() + "): its weights load as they are; "
          + "--quantize, --prune and --lora apply to float or 16-bit checkpoints only: leave them out");
    }
    weightMemory(ops, w, quantize, lora).reserve(ops);
    int d = c.dim(), kv = c.kvDim(), qd = c.qDim();
    embed = Embedding.load(ops, w, EMBED, c.vocabSize(), d, c.tied() || !w.has(HEAD)); // the head too when tied
    layers = new Layer[c.layers()];
    for (int l = 0; l < c.layers(); l++) {
      SwiGlu mlp = null;
      Linear router = null;
      SwiGlu[] experts = null;
      if (c.experts() == 0) {
        mlp = swiGlu(w, lora, layer(l, "mlp.gate_proj.weight"), layer(l, "mlp.up_proj.weight"), layer(l, "mlp.down_proj.weight"));
      } else {
        router = linear(w, lora, layer(l, "block_sparse_moe.gate.weight"), c.experts(), d, Quantization.NONE, Pruning.NONE);
        experts = new SwiGlu[c.experts()];
        for (int e = 0; e < c.experts(); e++) {
          String p = layer(l, "block_sparse_moe.experts." + e + ".");
          experts[e] = swiGlu(w, lora, p + "w1.weight", p + "w3.weight", p + "w2.weight");
        }
      }
      layers[l] = new Layer(vec(w, layer(l, "input_layernorm.weight"), d),
          linear(w, lora, layer(l, "self_attn.q_proj.weight"), qd, d), linear(w, lora, layer(l, "self_attn.k_proj.weight"), kv, d),
          linear(w, lora, layer(l, "self_attn.v_proj.weight"), kv, d), linear(w, lora, layer(l, "self_attn.o_proj.weight"), d, qd),
          vec(w, layer(l, "post_attention_layernorm.weight"), d), mlp, router, experts,
          ops.allocState(Math.multiplyExact(entries * capacity, kv)), ops.allocState(Math.multiplyExact(entries * capacity, kv)));
    }
    norm = vec(w, NORM, d);
    head = c.tied() || !w.has(HEAD) ? null : linear(w, lora, HEAD, c.vocabSize(), d, Quantization.NONE, Pruning.NONE);
    if (!c.tied() && head == null) throw new IllegalArgumentException(w.origin() + ": tie_word_embeddings is false but there is no " + HEAD);
    invFreq = ops.upload(Rope.invFreq(c.headDim(), c.theta(), c.scaling()));
    if (lora != null) lora.checkAllUsed();
  }

  /**
   * What this model's weights take in the banks of {@code ops} (reserved before loading): the token table, the head and
   * the layers' Linear weights in their stored precision; the layers' Linear weights not when quantized, and as float32
   * where a LoRA adapter updates them (quantized ones as bytes); GPTQ-packed layers as the INT4 bytes they load as
   * (their {@code qweight} int32 {@code [in / 8, out]}); vectors not.
   */
  public static WeightMemory weightMemory(Ops ops, WeightSource w, Quantization quantize, LoraAdapter lora) {
    long gptqBytes = 0;
    for (String n : w.names()) {
      long[] s = n.endsWith(".qweight") ? w.shape(n) : null;
      if (s != null && s.length == 2) gptqBytes += ops.linearBytes(Math.toIntExact(s[1]), Math.toIntExact(8 * s[0]), Quantization.INT4) + 64;
    }
    return WeightMemory.of(ops, w, quantize, n -> !n.endsWith(".weight") ? WeightMemory.Load.NONE // GPTQ's parts; buffers
        : quantize != Quantization.NONE && isLayerLinear(n) ? WeightMemory.Load.QUANTIZED
        : lora != null && lora.touches(n) ? WeightMemory.Load.FLOAT_LINEAR
        : n.equals(EMBED) ? WeightMemory.Load.TABLE : WeightMemory.Load.LINEAR).plus(new WeightMemory(0, 0, gptqBytes));
  }

  /** The layers' Linear weights that {@code quantize} applies to (not norms, not the MoE router). */
  private static boolean isLayerLinear(String name) {
    return name.startsWith("model.layers.") && name.endsWith(".weight") && !name.endsWith("norm.weight") && !name.contains("block_sparse_moe.gate.");
  }

  private SwiGlu swiGlu(WeightSource w, LoraAdapter lora, String gate, String up, String down) {
    return new SwiGlu(linear(w, lora, gate, c.ffn(), c.dim()), linear(w, lora, up, c.ffn(), c.dim()), linear(w, lora, down, c.dim(), c.ffn()));
  }

  private Linear linear(WeightSource w, LoraAdapter lora, String name, int out, int in) { return linear(w, lora, name, out, in, quantize, prune); }

  private Linear linear(WeightSource w, LoraAdapter lora, String name, int out, int in, Quantization q, Pruning p) {
    String bias = c.attentionBias() && name.contains("self_attn.") && !name.contains("o_proj") ? name.replace(".weight", ".bias") : null;
    String layer = name.substring(0, name.length() - ".weight".length());
    if (gptq != null && GptqCheckpoint.has(w, layer)) { // GPTQ-packed: INT4 as stored, never dequantized
      return new Linear(null, ops.uploadLinear(gptq.load(w, layer, out, in)), bias == null ? null : ops.upload(Linear.vector(w, bias, out)), out, in);
    }
    return Linear.load(ops, w, name, bias, out, in, false, lora == null ? null : lora.delta(name, out, in), q, p);
  }

  private Tensor vec(WeightSource w, String name, int n) { return ops.upload(Linear.vector(w, name, n)); }

  /**
   * Loads a Hugging Face LLaMA/Mistral/Mixtral folder onto {@code ops} with a KV cache for {@code entries} x
   * {@code capacity} tokens; {@code loraDir} (a PEFT adapter) is merged when not null.
   */
  public static LlamaModel load(Path dir, Path loraDir, Ops ops, int entries, int capacity) {
    return load(dir, loraDir, ops, entries, capacity, Quantization.NONE);
  }

  /** As above, the layers' Linear weights quantized at load ({@link Quantization}; NONE: as stored). */
  public static LlamaModel load(Path dir, Path loraDir, Ops ops, int entries, int capacity, Quantization quantize) {
    return load(dir, loraDir, ops, entries, capacity, quantize, Pruning.NONE);
  }

  /** As above, the same Linear weights magnitude-pruned first ({@link Pruning}; NONE: as stored). */
  public static LlamaModel load(Path dir, Path loraDir, Ops ops, int entries, int capacity, Quantization quantize, Pruning prune) {
    LlamaConfig c = LlamaConfig.read(dir);
    GptqCheckpoint gptq = GptqCheckpoint.read(dir);
    try (WeightSource w = SafeTensors.openModelDir(dir); LoraAdapter lora = loraDir == null ? null : LoraAdapter.open(loraDir)) {
      return new LlamaModel(c, ops, w, lora, entries, capacity, quantize, prune, gptq);
    }
  }

  /**
   * From a config and weights given separately (a LLaVA checkpoint's language model, its names seen as LLaMA's), with
   * a KV cache for {@code entries} x {@code capacity} tokens.
   */
  public static LlamaModel load(LlamaConfig c, WeightSource w, Ops ops, int entries, int capacity) {
    return load(c, w, ops, entries, capacity, Quantization.NONE, Pruning.NONE);
  }

  /** As above, the layers' Linear weights pruned and quantized at load as asked. */
  public static LlamaModel load(LlamaConfig c, WeightSource w, Ops ops, int entries, int capacity, Quantization quantize, Pruning prune) {
    return new LlamaModel(c, ops, w, null, entries, capacity, quantize, prune, null);
  }

  public LlamaConfig config() { return c; }

  @Override public int vocabSize() { return c.vocabSize(); }
  @Override public int entries() { return entries; }
  @Override public int capacity() { return capacity; }
  @Override public String deviceDescription() { return ops.ranOn(); }

  /**
   * Input embeddings given for some tokens instead of the embedding table's rows (LLaVA's projected image features):
   * {@code rows} [count][dim] on this model's engine, taken in order by entry e's tokens at indices {@code at[e]}
   * (ascending), entry by entry.
   */
  public record InputEmbeddings(Tensor rows, int count, int[][] at) {}

  @Override
  public void copyEntries(int[] from, int[] to, int positions) {
    for (int e : from) if (e < 0 || e >= entries) throw new IllegalArgumentException("cache entry " + e + " of " + entries);
    for (int e : to) if (e < 0 || e >= entries) throw new IllegalArgumentException("cache entry " + e + " of " + entries);
    java.util.List<Tensor> caches = new java.util.ArrayList<>();
    for (Layer l : layers) {
      caches.add(l.kCache());
      caches.add(l.vCache());
    }
    CausalLm.copyCacheEntries(ops, caches, capacity, c.kvDim(), from, to, positions);
  }

  @Override
  public <T> T forward(int first, int[][] tokens, int[] positions, boolean everyPosition, LogitsUse<T> use) {
    return forward(first, tokens, positions, null, everyPosition, use);
  }

  /** As {@link #forward(int, int[][], int[], boolean, LogitsUse)}, with {@code given} embeddings at some tokens (or null). */
  public <T> T forward(int first, int[][] tokens, int[] positions, InputEmbeddings given, boolean everyPosition, LogitsUse<T> use) {
    return forward(first, tokens, positions, given, everyPosition ? bt -> null : Batch::lastRow, use);
  }

  @Override
  public <T> T forwardRows(int first, int[][] tokens, int[] positions, int[] logitRows, LogitsUse<T> use) {
    return forward(first, tokens, positions, null, bt -> logitRows, use);
  }

  /** {@code logitRows}: the rows the final norm and the head run on, given the batch's layout (null: every row). */
  private <T> T forward(int first, int[][] tokens, int[] positions, InputEmbeddings given, Function<Batch, int[]> logitRows, LogitsUse<T> use) {
    Batch bt = Batch.of(tokens, positions, capacity);
    if (first < 0 || first + bt.entries() > entries) throw new IllegalArgumentException("cache entries " + first + ".." + (first + bt.entries() - 1) + " of " + entries);
    int b = bt.entries(), q = bt.maxLen(), rows = bt.rows(), d = c.dim(), kv = c.kvDim(), qd = c.qDim(), hd = c.headDim();
    Attention sp = new Attention(b, q, bt.maxEnd(), c.heads(), c.kvHeads(), hd, qd, kv, qd, true, 0, c.window(), (float) (1 / Math.sqrt(hd)))
        .withCacheRows(capacity);
    try (Ops.Scope scope = ops.scope()) {
      IntTensor ids = ints(bt.ids()), rowPos = ints(bt.rowPositions()), start = ints(Arrays.copyOf(positions, b));
      Tensor x = ops.alloc(rows * d), h = ops.alloc(rows * d), qt = ops.alloc(rows * qd), att = ops.alloc(rows * qd);
      Tensor kt = ops.alloc(rows * kv), vt = ops.alloc(rows * kv), scores = ops.alloc(Math.toIntExact(sp.scoresSize()));
      Tensor ffnOut = ops.alloc(rows * d);
      // token embeddings; the given rows replace those of the tokens they stand for
      embed.gather(ops, x, ids, rows);
      if (given != null) place(given, x, tokens, bt.maxLen());
      for (Layer l : layers) {
        // attention: RMSNorm, q/k/v projections, rotary at each token's position, keys and values into the cache,
        // causal grouped-query attention over the cache (sliding window if any), output projection, residual
        ops.rmsNorm(h, x, l.attnNorm(), rows, d, c.eps());
        l.q().apply(ops, qt, h, rows);
        l.k().apply(ops, kt, h, rows);
        l.v().apply(ops, vt, h, rows);
        ops.rope(qt, rows, c.heads(), hd, qd, rowPos, invFreq);
        ops.rope(kt, rows, c.kvHeads(), hd, kv, rowPos, invFreq);
        Tensor kc = l.kCache().slice(first * capacity * kv, b * capacity * kv), vc = l.vCache().slice(first * capacity * kv, b * capacity * kv);
        ops.cacheWrite(kc, kt, start, b, q, kv, kv, capacity);
        ops.cacheWrite(vc, vt, start, b, q, kv, kv, capacity);
        ops.attention(att, qt, kc, vc, null, start, scores, sp);
        l.o().apply(ops, h, att, rows);
        ops.add(x, x, h, rows * d);
        // feed-forward: RMSNorm, SwiGLU or the mixture of experts, residual
        ops.rmsNorm(h, x, l.ffnNorm(), rows, d, c.eps());
        if (l.mlp() != null) swiGlu(l.mlp(), ffnOut, h, rows);
        else moe(l, ffnOut, h, rows);
        ops.add(x, x, ffnOut, rows * d);
      }
      // final RMSNorm and the head, at the rows asked for
      int[] wanted = logitRows.apply(bt);
      Tensor sel = CausalLm.headRows(ops, x, rows, d, wanted);
      int n = wanted == null ? rows : wanted.length;
      ops.rmsNorm(sel, sel, norm, n, d, c.eps());
      Tensor logits = ops.alloc(Math.multiplyExact(n, c.vocabSize()));
      if (head == null) embed.head(ops, logits, sel, n);
      else head.apply(ops, logits, sel, n);
      return use.apply(ops, logits, n, bt);
    }
  }

  /**
   * Copies the given embeddings over the gathered ones at their tokens' rows (entry e's token i: row e * maxLen + i),
   * a run of consecutive tokens (an image's positions) in one copy.
   */
  private void place(InputEmbeddings given, Tensor x, int[][] tokens, int maxLen) {
    int d = c.dim(), next = 0;
    if (given.at().length != tokens.length) throw new IllegalArgumentException("embeddings for " + given.at().length + " entries, the batch has " + tokens.length);
    for (int e = 0; e < tokens.length; e++) {
      int[] at = given.at()[e];
      for (int j = 0; j < at.length; ) {
        int run = 1;
        while (j + run < at.length && at[j + run] == at[j] + run) run++;
        if (at[j] < 0 || at[j] + run > tokens[e].length || (j > 0 && at[j] <= at[j - 1])) {
          throw new IllegalArgumentException("entry " + e + ": embeddings at tokens " + java.util.Arrays.toString(at) + " of " + tokens[e].length + " (ascending, in range)");
        }
        if (next + run > given.count()) throw new IllegalArgumentException("more tokens to replace than the " + given.count() + " embeddings given");
        ops.copy(x.slice((e * maxLen + at[j]) * d, run * d), given.rows().slice(next * d, run * d), run * d);
        next += run;
        j += run;
      }
    }
    if (next != given.count()) throw new IllegalArgumentException(given.count() + " embeddings given for " + next + " tokens");
  }

  /** out = down(silu(gate x) * up x) over n rows. */
  private void swiGlu(SwiGlu f, Tensor out, Tensor x, int n) {
    try (Ops.Scope s = ops.scope()) {
      Tensor g = ops.alloc(n * c.ffn()), u = ops.alloc(n * c.ffn());
      f.gate().apply(ops, g, x, n);
      f.up().apply(ops, u, x, n);
      ops.activation(Activation.SILU, g, g, n * c.ffn());
      ops.mul(g, g, u, n * c.ffn());
      f.down().apply(ops, out, g, n);
    }
  }

  /**
   * Mixtral's sparse mixture of experts: the router's logits pick each token's top experts, weighted by the softmax
   * over those logits (mistral-inference's MoeLayer; HF's softmax-then-renormalise is the same). Each expert runs on
   * the tokens routed to it only (gathered), and the weighted outputs are gathered back per routing slot.
   */
  private void moe(Layer l, Tensor out, Tensor x, int rows) {
    int d = c.dim(), experts = c.experts(), top = c.topExperts();
    try (Ops.Scope s = ops.scope()) {
      Tensor logits = ops.alloc(rows * experts);
      l.router().apply(ops, logits, x, rows);
      float[] r = ops.read(logits);
      int[][] chosen = new int[rows][top];
      float[][] weight = new float[rows][top];
      int[] count = new int[experts];
      for (int i = 0; i < rows; i++) {
        // top experts by logit (ties: lower index), then softmax over their logits
        boolean[] taken = new boolean[experts];
        for (int t = 0; t < top; t++) {
          int best = -1;
          for (int e = 0; e < experts; e++) if (!taken[e] && (best < 0 || r[i * experts + e] > r[i * experts + best])) best = e;
          taken[best] = true;
          chosen[i][t] = best;
        }
        double mx = r[i * experts + chosen[i][0]], sum = 0;
        for (int t = 0; t < top; t++) sum += Math.exp(r[i * experts + chosen[i][t]] - mx);
        for (int t = 0; t < top; t++) {
          weight[i][t] = (float) (Math.exp(r[i * experts + chosen[i][t]] - mx) / sum);
          count[chosen[i][t]]++;
        }
      }
      // each expert's tokens, stacked: expert e's outputs at rows base[e] .. base[e] + count[e] of ys
      int[] base = new int[experts];
      for (int e = 1; e < experts; e++) base[e] = base[e - 1] + count[e - 1];
      int[][] members = new int[experts][];
      int[] fill = new int[experts];
      for (int e = 0; e < experts; e++) members[e] = new int[count[e]];
      int[][] slotRow = new int[top][rows]; // row of ys holding token i's t-th expert output
      for (int i = 0; i < rows; i++) {
        for (int t = 0; t < top; t++) {
          int e = chosen[i][t];
          slotRow[t][i] = base[e] + fill[e];
          members[e][fill[e]++] = i;
        }
      }
      Tensor ys = ops.alloc(rows * top * d);
      for (int e = 0; e < experts; e++) {
        if (count[e] == 0) continue;
        try (Ops.Scope es = ops.scope()) {
          Tensor xe = ops.alloc(count[e] * d);
          ops.gather(xe, x, ints(members[e]), count[e], rows, d, false);
          swiGlu(l.experts()[e], ys.slice(base[e] * d, count[e] * d), xe, count[e]);
        }
      }
      // out = sum over slots of weight * that slot's expert output
      Tensor part = ops.alloc(rows * d), w = ops.alloc(rows * d);
      for (int t = 0; t < top; t++) {
        ops.gather(part, ys, ints(slotRow[t]), rows, rows * top, d, false);
        float[] wt = new float[rows * d];
        for (int i = 0; i < rows; i++) Arrays.fill(wt, i * d, (i + 1) * d, weight[i][t]);
        ops.write(w, wt);
        if (t == 0) {
          ops.mul(out, part, w, rows * d);
        } else {
          ops.mul(part, part, w, rows * d);
          ops.add(out, out, part, rows * d);
        }
      }
    }
  }

  private IntTensor ints(int[] v) {
    IntTensor t = ops.allocInts(Math.max(1, v.length));
    if (v.length > 0) ops.write(t, v);
    return t;
  }

  @Override
  public void close() {} // the engine's memory belongs to its owner
}
