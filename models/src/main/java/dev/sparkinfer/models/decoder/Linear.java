package dev.sparkinfer.models.decoder;

import dev.sparkinfer.kernels.HalfTensor;
import dev.sparkinfer.kernels.LinearWeight;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Pruning;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.weights.DType;
import dev.sparkinfer.models.weights.WeightSource;

/**
 * A Linear layer's weight on the engine in the checkpoint's precision: 16-bit checkpoints stay 16-bit ({@code w16},
 * widened in the kernels), float32 ones (and LoRA-merged weights) are float ({@code w32}), and quantized ones
 * ({@link Quantization}, at load) are a quantized {@code w32} ({@link LinearWeight#isQuantized()}). {@code bias} may be null.
 */
public record Linear(HalfTensor w16, LinearWeight w32, Tensor bias, int out, int in) {
  /** out[rows, out] = x[rows, in] W^T + bias. */
  public void apply(Ops ops, Tensor dst, Tensor x, int rows) {
    if (w16 != null) ops.linear16(dst, x, w16, bias, rows, out, in);
    else ops.linear(dst, x, w32, bias, rows);
  }

  /** dst = act(x W^T + bias) (act null: none); float weights through the engine's fused {@link Ops#linear} with act. */
  public void apply(Ops ops, Tensor dst, Tensor x, int rows, dev.sparkinfer.kernels.Activation act) {
    if (w16 != null) {
      ops.linear16(dst, x, w16, bias, rows, out, in);
      if (act != null) ops.activation(act, dst, dst, Math.multiplyExact(rows, out));
    } else {
      ops.linear(dst, x, w32, bias, rows, act);
    }
  }

  /**
   * Loads a PyTorch Linear weight {@code [out, in]} named {@code name} (GPT-2's Conv1D stores {@code [in, out]}:
   * {@code conv1d} transposes it), checking its shape; {@code delta} (a merged LoRA update, [out, in]) makes it float.
   */
  public static Linear load(Ops ops, WeightSource w, String name, String biasName, int out, int in, boolean conv1d, float[] delta) {
    return load(ops, w, name, biasName, out, in, conv1d, delta, Quantization.NONE);
  }

  /**
   * As above, quantized at load unless {@code quantize} is NONE: the weight (16-bit widened, a LoRA delta merged first)
   * is quantized from float32 and stays quantized on the engine; the bias stays float.
   */
  public static Linear load(Ops ops, WeightSource w, String name, String biasName, int out, int in, boolean conv1d, float[] delta,
                            Quantization quantize) {
    return load(ops, w, name, biasName, out, in, conv1d, delta, quantize, Pruning.NONE);
  }

  /**
   * As above, magnitude-pruned at load first unless {@code prune} is NONE ({@link Pruning}: in the float values, after a
   * LoRA delta is merged, before quantizing; a 16-bit weight that is not quantized stays 16-bit with its pruned entries
   * zero), then quantized.
   */
  public static Linear load(Ops ops, WeightSource w, String name, String biasName, int out, int in, boolean conv1d, float[] delta,
                            Quantization quantize, Pruning prune) {
    long[] shape = w.shape(name);
    long[] want = conv1d ? new long[] {in, out} : new long[] {out, in};
    if (shape.length != 2 || shape[0] != want[0] || shape[1] != want[1]) {
      throw new IllegalArgumentException(w.origin() + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(shape)
          + ", the config says " + java.util.Arrays.toString(want));
    }
    Tensor bias = biasName == null ? null : ops.upload(vector(w, biasName, out));
    DType t = w.dtype(name);
    if (quantize == Quantization.NONE && delta == null && (t == DType.BF16 || t == DType.F16)) {
      char[] bits = w.bits16(name);
      if (conv1d) bits = transpose(bits, in, out);
      if (!prune.isNone()) {
        float[] f = w.floats(name);
        prune.apply16(bits, conv1d ? transpose(f, in, out) : f, out, in);
      }
      return new Linear(ops.upload16Linear(bits, t == DType.BF16 ? dev.sparkinfer.kernels.DType.BF16 : dev.sparkinfer.kernels.DType.F16, out, in),
          null, bias, out, in);
    }
    float[] f = w.floats(name);
    if (conv1d) f = transpose(f, in, out);
    if (delta != null) for (int i = 0; i < f.length; i++) f[i] += delta[i];
    prune.apply(f, out, in);
    return new Linear(null, ops.uploadLinear(f, out, in, quantize), bias, out, in);
  }

  /** A 1-D tensor of {@code n} floats (norm weights, biases), checked. */
  public static float[] vector(WeightSource w, String name, int n) {
    long[] shape = w.shape(name);
    if (shape.length != 1 || shape[0] != n) {
      throw new IllegalArgumentException(w.origin() + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(shape) + ", expected [" + n + "]");
    }
    return w.floats(name);
  }

  /** A 16-bit table [rows, cols] (embeddings), checked; null when the checkpoint stores it as float. */
  public static char[] table16(WeightSource w, String name, int rows, int cols) {
    long[] shape = w.shape(name);
    if (shape.length != 2 || shape[0] != rows || shape[1] != cols) {
      throw new IllegalArgumentException(w.origin() + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(shape)
          + ", the config says [" + rows + ", " + cols + "]" + (shape.length == 2 && shape[1] == cols && shape[0] != rows
          ? ": the tokenizer's vocabulary and the embedding rows disagree" : ""));
    }
    DType t = w.dtype(name);
    return t == DType.BF16 || t == DType.F16 ? w.bits16(name) : null;
  }

  public static dev.sparkinfer.kernels.DType kernelType(DType t) {
    return switch (t) {
      case BF16 -> dev.sparkinfer.kernels.DType.BF16;
      case F16 -> dev.sparkinfer.kernels.DType.F16;
      default -> throw new IllegalArgumentException("not a 16-bit type: " + t);
    };
  }

  private static char[] transpose(char[] a, int rows, int cols) {
    char[] t = new char[a.length];
    for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
    return t;
  }

  private static float[] transpose(float[] a, int rows, int cols) {
    float[] t = new float[a.length];
    for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
    return t;
  }
}
