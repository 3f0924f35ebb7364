package dev.sparkinfer.kernels;

/**
 * A Linear layer's weight on the device, in the layout that device multiplies fastest: PyTorch's {@code [out, in]}
 * (GPUs: local-memory tiles; on the Java and OpenCL engines in a float bank, {@code banked}, so that a large float32
 * model does not crowd the float arena), transposed {@code [in, out]} (CPU OpenCL: consecutive work-items read consecutive floats),
 * or, for the CPU engine, transposed and cut into panels of columns, each panel {@code [in, panel]} contiguous (the last
 * one zero-padded), so its matmul streams one panel through the cache: in a float bank too, the panel width in its
 * {@link HalfTensor#panel()} ({@code panel} here is that of the CPU engine's quantized weights).
 *
 * <p>A quantized weight ({@link Ops#uploadLinear(QuantizedWeights)}) has no float {@code data}: its integers and scales
 * are in {@code quantized}, in the layout of the engine that uploaded it.
 *
 * @param data      the float weights in the float arena; null when quantized or banked
 * @param panel     columns per panel when packed ({@link CpuOps}); 0 when not
 * @param quantized the integer values and scales of a quantized weight; null for float weights
 * @param banked    the float weights in a float bank ({@link Ops#uploadBanked}, read by {@link Ops#linear16}):
 *                  {@code [out, in]}, or packed in panels by the CPU engine ({@link HalfTensor#panel()}); null when in
 *                  the arena or quantized
 */
public record LinearWeight(Tensor data, int out, int in, boolean inMajor, int panel, Quantized quantized, HalfTensor banked) {
  public LinearWeight {
    int kinds = (data != null ? 1 : 0) + (quantized != null ? 1 : 0) + (banked != null ? 1 : 0);
    if (kinds != 1) throw new IllegalArgumentException("a Linear weight is float (data), quantized or banked: exactly one of them");
    if (banked != null && (inMajor || panel != 0)) {
      throw new IllegalArgumentException("a banked Linear weight says its layout in its HalfTensor (panel), not here");
    }
  }

  public LinearWeight(Tensor data, int out, int in, boolean inMajor, int panel, Quantized quantized) { this(data, out, in, inMajor, panel, quantized, null); }

  public LinearWeight(Tensor data, int out, int in, boolean inMajor, int panel) { this(data, out, in, inMajor, panel, null); }

  public LinearWeight(Tensor data, int out, int in, boolean inMajor) { this(data, out, in, inMajor, 0); }

  /** A float32 weight {@code [out, in]} in a float bank ({@link Ops#uploadBanked}). */
  public static LinearWeight banked(HalfTensor w, int out, int in) { return new LinearWeight(null, out, in, false, 0, null, w); }

  public boolean isQuantized() { return quantized != null; }

  /**
   * A quantized weight on the device. Plain layout (panel 0; {@link JavaOps}, {@link AparapiOps}): {@code values} is
   * {@link QuantizedWeights#values()} as given, {@code [out][rowBytes]}, and {@code scales} {@code [out][groups]}. The CPU
   * engine's panels: see {@link CpuOps#uploadLinear(QuantizedWeights)}.
   *
   * @param group inputs per scale ({@code in} for INT8)
   */
  public record Quantized(Quantization scheme, int group, ByteTensor values, Tensor scales) {
    public int groups(int in) { return (in + group - 1) / group; }

    public int rowBytes(int in) { return scheme == Quantization.INT4 ? (in + 1) / 2 : in; }
  }
}
