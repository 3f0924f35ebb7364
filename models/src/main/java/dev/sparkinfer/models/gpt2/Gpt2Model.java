package dev.sparkinfer.models.gpt2;

import dev.sparkinfer.kernels.Attention;
import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Pruning;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.decoder.Batch;
import dev.sparkinfer.models.decoder.CausalLm;
import dev.sparkinfer.models.decoder.Embedding;
import dev.sparkinfer.models.decoder.Linear;
import dev.sparkinfer.models.weights.SafeTensors;
import dev.sparkinfer.models.weights.WeightMemory;
import dev.sparkinfer.models.weights.WeightSource;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * GPT-2 (Hugging Face GPT2LMHeadModel, nanoGPT's model.py): learned positions, pre-LayerNorm blocks, fused qkv
 * projection, causal attention, tanh-GELU MLP, final LayerNorm, head tied to the token embeddings. Conv1D weights are
 * stored [in, out] in the checkpoint and transposed once at load.
 */
public final class Gpt2Model implements CausalLm {
  /** The checkpoint's tensor names. */
  static final String WTE = "transformer.wte.weight", WPE = "transformer.wpe.weight", LN_F = "transformer.ln_f.";
  static String block(int l, String rest) { return "transformer.h." + l + "." + rest; }

  private record Layer(Tensor ln1W, Tensor ln1B, Linear attn, Linear proj, Tensor ln2W, Tensor ln2B, Linear fc, Linear out,
                       Tensor kCache, Tensor vCache) {}

  private final Gpt2Config c;
  private final Ops ops;
  private final int entries, capacity;
  private final Embedding wte, wpe;
  private final Layer[] layers;
  private final Tensor lnFW, lnFB;

  private Gpt2Model(Gpt2Config c, Ops ops, WeightSource w, int entries, int capacity, Quantization q, Pruning p) {
    if (capacity > c.positions()) throw new IllegalArgumentException("a cache of " + capacity + " tokens exceeds GPT-2's " + c.positions() + " positions");
    this.c = c;
    this.ops = ops;
    this.entries = entries;
    this.capacity = capacity;
    int d = c.dim();
    // room for the tables and the blocks' Linear weights at once (not the Linear weights when quantized; not the
    // attention-mask buffers older checkpoints store as h.N.attn.bias)
    WeightMemory.of(ops, w, q, n -> !n.endsWith(".weight") ? WeightMemory.Load.NONE
        : n.equals(WTE) || n.equals(WPE) ? WeightMemory.Load.TABLE
        : q != Quantization.NONE ? WeightMemory.Load.QUANTIZED : WeightMemory.Load.LINEAR).reserve(ops);
    wte = Embedding.load(ops, w, WTE, c.vocabSize(), d, true); // also the head
    wpe = Embedding.load(ops, w, WPE, c.positions(), d);
    layers = new Layer[c.layers()];
    for (int l = 0; l < c.layers(); l++) {
      layers[l] = new Layer(vec(w, block(l, "ln_1.weight"), d), vec(w, block(l, "ln_1.bias"), d),
          Linear.load(ops, w, block(l, "attn.c_attn.weight"), bias(w, block(l, "attn.c_attn.bias")), 3 * d, d, true, null, q, p),
          Linear.load(ops, w, block(l, "attn.c_proj.weight"), bias(w, block(l, "attn.c_proj.bias")), d, d, true, null, q, p),
          vec(w, block(l, "ln_2.weight"), d), vec(w, block(l, "ln_2.bias"), d),
          Linear.load(ops, w, block(l, "mlp.c_fc.weight"), bias(w, block(l, "mlp.c_fc.bias")), c.inner(), d, true, null, q, p),
          Linear.load(ops, w, block(l, "mlp.c_proj.weight"), bias(w, block(l, "mlp.c_proj.bias")), d, c.inner(), true, null, q, p),
          ops.allocState(Math.multiplyExact(entries * capacity, d)), ops.allocState(Math.multiplyExact(entries * capacity, d)));
    }
    lnFW = vec(w, LN_F + "weight", d);
    lnFB = vec(w, LN_F + "bias", d);
  }

  private Tensor vec(WeightSource w, String name, int n) { return ops.upload(Linear.vector(w, name, n)); }

  /** A bias the checkpoint may leave out (then none: zeros). */
  private static String bias(WeightSource w, String name) { return w.has(name) ? name : null; }

  /** Loads a Hugging Face GPT-2 folder onto {@code ops}, with a KV cache for {@code entries} x {@code capacity} tokens. */
  public static Gpt2Model load(Path dir, Ops ops, int entries, int capacity) { return load(dir, ops, entries, capacity, Quantization.NONE); }

  /** As above, the blocks' Linear weights quantized at load ({@link Quantization}; NONE: as stored); wte/wpe and norms as stored. */
  public static Gpt2Model load(Path dir, Ops ops, int entries, int capacity, Quantization quantize) {
    return load(dir, ops, entries, capacity, quantize, Pruning.NONE);
  }

  /** As above, the same Linear weights magnitude-pruned first ({@link Pruning}; NONE: as stored). */
  public static Gpt2Model load(Path dir, Ops ops, int entries, int capacity, Quantization quantize, Pruning prune) {
    Gpt2Config c = Gpt2Config.read(dir);
    try (WeightSource w = SafeTensors.openModelDir(dir)) {
      return new Gpt2Model(c, ops, w, entries, capacity, quantize, prune);
    }
  }

  public Gpt2Config config() { return c; }

  @Override public int vocabSize() { return c.vocabSize(); }
  @Override public int entries() { return entries; }
  @Override public int capacity() { return capacity; }
  @Override public String deviceDescription() { return ops.ranOn(); }

  @Override
  public <T> T forward(int first, int[][] tokens, int[] positions, boolean everyPosition, LogitsUse<T> use) {
    return forward(first, tokens, positions, everyPosition ? bt -> null : Batch::lastRow, use);
  }

  @Override
  public <T> T forwardRows(int first, int[][] tokens, int[] positions, int[] logitRows, LogitsUse<T> use) {
    return forward(first, tokens, positions, bt -> logitRows, use);
  }

  /** {@code logitRows}: the rows the final LN and the head run on, given the batch's layout (null: every row). */
  private <T> T forward(int first, int[][] tokens, int[] positions, Function<Batch, int[]> logitRows, LogitsUse<T> use) {
    Batch bt = Batch.of(tokens, positions, capacity);
    if (first < 0 || first + bt.entries() > entries) throw new IllegalArgumentException("cache entries " + first + ".." + (first + bt.entries() - 1) + " of " + entries);
    int b = bt.entries(), q = bt.maxLen(), rows = bt.rows(), d = c.dim(), hd = c.headDim();
    Attention sp = new Attention(b, q, bt.maxEnd(), c.heads(), c.heads(), hd, 3 * d, d, d, true, 0, 0, (float) (1 / Math.sqrt(hd)))
        .withCacheRows(capacity);
    try (Ops.Scope scope = ops.scope()) {
      IntTensor ids = ints(bt.ids()), rowPos = ints(bt.rowPositions()), start = ints(java.util.Arrays.copyOf(positions, b));
      Tensor x = ops.alloc(rows * d), h = ops.alloc(rows * d), qkv = ops.alloc(rows * 3 * d), att = ops.alloc(rows * d);
      Tensor ffn = ops.alloc(rows * c.inner()), scores = ops.alloc(Math.toIntExact(sp.scoresSize()));
      // embeddings: token + learned position
      wte.gather(ops, x, ids, rows);
      wpe.gather(ops, h, rowPos, rows);
      ops.add(x, x, h, rows * d);
      for (Layer l : layers) {
        // attention: pre-LN, fused qkv projection, keys and values into the cache, causal attention over it, projection, residual
        ops.layerNorm(h, x, l.ln1W(), l.ln1B(), rows, d, c.eps());
        l.attn().apply(ops, qkv, h, rows);
        Tensor kc = l.kCache().slice(first * capacity * d, b * capacity * d), vc = l.vCache().slice(first * capacity * d, b * capacity * d);
        ops.cacheWrite(kc, qkv.slice(d, rows * 3 * d - d), start, b, q, d, 3 * d, capacity);
        ops.cacheWrite(vc, qkv.slice(2 * d, rows * 3 * d - 2 * d), start, b, q, d, 3 * d, capacity);
        ops.attention(att, qkv, kc, vc, null, start, scores, sp);
        l.proj().apply(ops, h, att, rows);
        // residual, then the MLP: pre-LN, dense and GELU (tanh), dense, residual
        ops.addLayerNorm(h, x, h, l.ln2W(), l.ln2B(), rows, d, c.eps());
        l.fc().apply(ops, ffn, h, rows, c.activation());
        l.out().apply(ops, h, ffn, rows);
        ops.add(x, x, h, rows * d);
      }
      // final LN and the tied head, at the rows asked for
      int[] wanted = logitRows.apply(bt);
      Tensor sel = CausalLm.headRows(ops, x, rows, d, wanted);
      int n = wanted == null ? rows : wanted.length;
      ops.layerNorm(sel, sel, lnFW, lnFB, n, d, c.eps());
      Tensor logits = ops.alloc(Math.multiplyExact(n, c.vocabSize()));
      wte.head(ops, logits, sel, n);
      return use.apply(ops, logits, n, bt);
    }
  }

  private IntTensor ints(int[] v) {
    IntTensor t = ops.allocInts(v.length);
    ops.write(t, v);
    return t;
  }

  @Override
  public void close() {} // the engine's memory belongs to its owner
}
