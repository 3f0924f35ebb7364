package dev.sparkinfer.models.weights;

/** Element types found in checkpoints, with their safetensors spelling and byte width. */
public enum DType {
  F32(4), F16(2), BF16(2), F64(8), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

  public final int bytes;

  DType(int bytes) { this.bytes = bytes; }
}
