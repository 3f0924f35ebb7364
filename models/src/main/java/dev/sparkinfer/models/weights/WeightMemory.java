package dev.sparkinfer.models.weights;

import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Quantization;
import java.util.function.Function;

/**
 * What a checkpoint's weights take in an engine's banks, counted before a model loads them, so that the loader reserves
 * room for them all at once ({@link Ops#reserve16}, {@link Ops#reserve32}, {@link Ops#reserve8}). A bank that grows
 * instead ends up to half as large again as its weights, and holds its old and new copies at once while it grows.
 *
 * @param values16 16-bit values (BF16/F16 Linear weights and tables as stored)
 * @param values32 float32 values in the float banks (float32 Linear weights and tables; 16-bit Linear weights that load
 *                 as float32 once a LoRA update is merged)
 * @param bytes    bytes of quantized Linear weights (their scales go to the float arena)
 */
public record WeightMemory(long values16, long values32, long bytes) {
  /** How a model loads a tensor (the model says; the checkpoint's dtype and shape say the rest). */
  public enum Load {
    /** Not loaded, or not into a bank: vectors (norms, biases) and tables the model keeps in its float arena. */
    NONE,
    /** A Linear weight, in its stored precision (16-bit stays 16-bit). */
    LINEAR,
    /** A Linear weight loaded as float32 whatever its stored precision (a LoRA update merged into it). */
    FLOAT_LINEAR,
    /** A table (token or position embeddings; a tied head) in its stored precision. */
    TABLE,
    /** Quantized at load (the scheme the model is loaded with): held as bytes, not in the banks. */
    QUANTIZED
  }

  /** Alignment slack per tensor (tensors start on 16-value boundaries). */
  private static final long SLACK = 64;

  /**
   * The tensors of {@code w} as {@code how} loads them, each at most (an upper bound): a matrix (or a tensor of more
   * dimensions, as the matrix of its first dimension by the rest: a patch convolution) as a Linear weight either way
   * round ({@link Ops#linear16Values}, {@link Ops#linear32Values}: padded where the engine packs; some checkpoints store
   * Linear weights transposed), a table as a Linear weight too when 16-bit (a tied head is packed as one) and as its
   * elements when float32, plus alignment slack. One-dimensional tensors load into the float arena: not counted.
   */
  public static WeightMemory of(Ops ops, WeightSource w, Function<String, Load> how) { return of(ops, w, Quantization.NONE, how); }

  /** As above, {@link Load#QUANTIZED} tensors quantized with {@code q} ({@link Ops#linearBytes}, either way round). */
  public static WeightMemory of(Ops ops, WeightSource w, Quantization q, Function<String, Load> how) {
    long v16 = 0, v32 = 0, v8 = 0;
    for (String n : w.names()) {
      long[] shape = w.shape(n);
      if (shape.length < 2) continue;
      DType t = w.dtype(n);
      boolean half = t == DType.BF16 || t == DType.F16;
      if (!half && t != DType.F32) continue;
      Load load = how.apply(n);
      int a = Math.toIntExact(shape[0]), b = Math.toIntExact(elements(shape) / shape[0]);
      switch (load) {
        case LINEAR, TABLE -> {
          if (half) v16 += Math.max(ops.linear16Values(a, b), ops.linear16Values(b, a)) + SLACK;
          else v32 += (load == Load.TABLE ? elements(shape) : Math.max(ops.linear32Values(a, b), ops.linear32Values(b, a))) + SLACK;
        }
        case FLOAT_LINEAR -> v32 += Math.max(ops.linear32Values(a, b), ops.linear32Values(b, a)) + SLACK;
        case QUANTIZED -> v8 += Math.max(ops.linearBytes(a, b, q), ops.linearBytes(b, a, q)) + SLACK;
        case NONE -> { }
      }
    }
    return new WeightMemory(v16, v32, v8);
  }

  public WeightMemory plus(WeightMemory o) { return new WeightMemory(values16 + o.values16, values32 + o.values32, bytes + o.bytes); }

  /** Reserves this much on {@code ops} (a smaller reservation made while loading does not shrink it). */
  public void reserve(Ops ops) {
    ops.reserve16(values16);
    ops.reserve32(values32);
    ops.reserve8(bytes);
  }

  private static long elements(long[] shape) {
    long n = 1;
    for (long d : shape) n *= d;
    return n;
  }
}
