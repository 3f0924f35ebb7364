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

  /** What a caller does with logits kept on the engine. */
  @FunctionalInterface
  interface LogitsUse<T> {
    T apply(dev.sparkinfer.kernels.Ops ops, dev.sparkinfer.kernels.Tensor logits, int rows, Batch batch);
  }

  /** The engine that runs it, as logs and summaries name it. */
  String deviceDescription();

  @Override
  void close();
}
