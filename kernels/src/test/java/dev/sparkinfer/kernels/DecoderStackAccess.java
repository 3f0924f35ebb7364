package dev.sparkinfer.kernels;

/** Opens the test-scope {@link DecoderStack} to the benchmark programs in {@code bench}. */
public final class DecoderStackAccess {
  private final DecoderStack stack;

  private DecoderStackAccess(DecoderStack stack) { this.stack = stack; }

  public static DecoderStackAccess llama1b(Ops ops, int layers, DType dtype, int batch, int capacity) {
    return new DecoderStackAccess(new DecoderStack(ops, DecoderStack.Shape.LLAMA_3_2_1B.withLayers(layers), dtype, 1, batch, capacity));
  }

  public long params16() { return stack.shape.params16(); }

  public float[] forward(int[][] tokens, int[] positions) { return stack.forward(0, tokens, positions); }

  /** The same on cache entries from {@code first} (a warm-up can use an entry of its own). */
  public float[] forward(int first, int[][] tokens, int[] positions) { return stack.forward(first, tokens, positions); }
}
