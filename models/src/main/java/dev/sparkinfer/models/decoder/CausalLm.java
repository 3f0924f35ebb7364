package dev.sparkinfer.models.decoder;

/**
 * A causal language model on one engine, with a KV cache of {@link #entries()} sequences of up to
 * {@link #capacity()} tokens kept as engine state between calls: a prompt is prefilled, then decoded a token at a time,
 * each entry at its own position (ragged batches).
 */
public interface CausalLm extends AutoCloseable {
  int vocabSize();

  /** Sequences the cache holds at once. */
  int entries();

  /** Tokens per sequence the cache holds (at most the model's positions). */
  int capacity();

  /**
   * Runs {@code tokens[e]} for cache entries {@code first + e}, starting at position {@code positions[e]} of each. Entries
   * may have different token counts (shorter ones are padded internally; the padding never becomes visible to real
   * tokens). Returns logits [entries][vocab] of each entry's last token, or, when {@code everyPosition}, of every token:
   * entry e's token i at row {@code e * maxLen + i} of a [entries * maxLen][vocab] array, maxLen the longest entry.
   */
  default float[] forward(int first, int[][] tokens, int[] positions, boolean everyPosition) {
    return forward(first, tokens, positions, everyPosition, (ops, logits, rows, batch) -> ops.read(logits));
  }

  /**
   * As {@link #forward(int, int[][], int[], boolean)}, with the logits left on the engine: {@code use} receives them
   * ([rows][vocab], rows as described there) inside the call's scratch scope, and may allocate more scratch there (a
   * log-softmax, top-k) and read back only what it needs.
   */
  <T> T forward(int first, int[][] tokens, int[] positions, boolean everyPosition, LogitsUse<T> use);

  /**
   * As {@link #forward(int, int[][], int[], boolean, LogitsUse)} at every position, with the final norm and the head run
   * only on the rows listed ({@code logitRows[i]}: a row as every position lays them out, {@code e * maxLen + i}): logits
   * row i belongs to {@code logitRows[i]}. A caller that labels some positions (a sliding window's new ones, no padding)
   * pays the head and what follows it (a log-softmax over the vocabulary) only for those. Each row's logits are the
   * values the full call computes for it: bit for bit on the Java and CPU engines (16-bit heads, tied ones too, are
   * packed Linear weights there), up to the head's summation order on OpenCL.
   */
  <T> T forwardRows(int first, int[][] tokens, int[] positions, int[] logitRows, LogitsUse<T> use);

  /** What a caller does with logits kept on the engine. */
  @FunctionalInterface
  interface LogitsUse<T> {
    T apply(dev.sparkinfer.kernels.Ops ops, dev.sparkinfer.kernels.Tensor logits, int rows, Batch batch);
  }

  /**
   * Copies cache entries: after the call, entry {@code to[i]} holds what entry {@code from[i]} held at positions
   * 0 .. positions-1 (all sources are read before any destination is written, so a permutation is fine). Beam search
   * reorders its beams with it.
   */
  default void copyEntries(int[] from, int[] to, int positions) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot copy cache entries (beam search)");
  }

  /**
   * The rows of {@code x} ([rows][dim]) the final norm and head run on: x itself when {@code wanted} is null, else the
   * rows listed, gathered in order into scratch of the caller's scope.
   */
  static dev.sparkinfer.kernels.Tensor headRows(dev.sparkinfer.kernels.Ops ops, dev.sparkinfer.kernels.Tensor x, int rows, int dim, int[] wanted) {
    if (wanted == null) return x;
    if (wanted.length == 0) throw new IllegalArgumentException("no logit rows asked for");
    for (int r : wanted) if (r < 0 || r >= rows) throw new IllegalArgumentException("logit row " + r + " of a call with " + rows + " rows");
    dev.sparkinfer.kernels.IntTensor ids = ops.allocInts(wanted.length);
    ops.write(ids, wanted);
    dev.sparkinfer.kernels.Tensor sel = ops.alloc(Math.multiplyExact(wanted.length, dim));
    ops.gather(sel, x, ids, wanted.length, rows, dim, false);
    return sel;
  }

  /** Copies entries as {@link #copyEntries} does, for caches laid out [entries][capacity][width] per layer. */
  static void copyCacheEntries(dev.sparkinfer.kernels.Ops ops, java.util.List<dev.sparkinfer.kernels.Tensor> caches, int capacity, int width,
      int[] from, int[] to, int positions) {
    if (from.length != to.length) throw new IllegalArgumentException(from.length + " sources for " + to.length + " destinations");
    if (positions < 0 || positions > capacity) throw new IllegalArgumentException(positions + " positions of a cache of " + capacity);
    int n = positions * width;
    if (n == 0 || from.length == 0) return;
    try (dev.sparkinfer.kernels.Ops.Scope s = ops.scope()) {
      dev.sparkinfer.kernels.Tensor tmp = ops.alloc(Math.multiplyExact(from.length, n));
      for (dev.sparkinfer.kernels.Tensor cache : caches) {
        for (int i = 0; i < from.length; i++) ops.copy(tmp.slice(i * n, n), cache.slice(from[i] * capacity * width, n), n);
        for (int i = 0; i < to.length; i++) ops.copy(cache.slice(to[i] * capacity * width, n), tmp.slice(i * n, n), n);
      }
    }
  }

  /** The engine that runs it, as logs and summaries name it. */
  String deviceDescription();

  @Override
  void close();
}
