package dev.sparkinfer.models.weights;

import java.io.Closeable;
import java.util.Set;

/**
 * Named tensors of a checkpoint, whatever the file format (safetensors, ONNX initializers).
 * Names are the checkpoint's own (e.g. {@code encoder.layer.0.attention.self.query.weight}); shapes are row-major,
 * PyTorch convention ({@code [out, in]} for linear weights).
 */
public interface WeightSource extends Closeable {
  /** Every tensor name this source holds. */
  Set<String> names();

  boolean has(String name);

  /** Shape of a tensor, e.g. {@code [384, 1536]}; throws {@link IllegalArgumentException} naming the tensor when absent. */
  long[] shape(String name);

  /** Element type as stored: F32, F16, BF16, I64, I32, ... */
  DType dtype(String name);

  /** The tensor widened to float32, row-major; throws {@link IllegalArgumentException} naming the tensor when absent. */
  float[] floats(String name);

  /**
   * A 16-bit tensor's bit patterns as stored (F16 or BF16), for engines that keep weights 16-bit; throws naming the
   * tensor when it is another type.
   */
  default char[] bits16(String name) {
    throw new UnsupportedOperationException(origin() + ": reading tensor '" + name + "' as 16-bit patterns is not supported by this source");
  }

  /** Integer tensors (I64 narrowed, I32); for fixtures such as {@code input_ids}. */
  long[] longs(String name);

  /** Where the tensors come from, for error messages. */
  String origin();

  @Override
  default void close() {}
}
