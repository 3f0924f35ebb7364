package dev.sparkinfer.kernels;

/**
 * A Linear layer's weight on the device, in the layout that device multiplies fastest: PyTorch's {@code [out, in]}
 * (GPUs: local-memory tiles), transposed {@code [in, out]} (CPU OpenCL: consecutive work-items read consecutive floats),
 * or, for the CPU engine, transposed and cut into panels of {@code panel} columns, each panel {@code [in, panel]}
 * contiguous (the last one zero-padded), so its matmul streams one panel through the cache.
 *
 * @param panel columns per panel when packed ({@link CpuOps}); 0 when not
 */
public record LinearWeight(Tensor data, int out, int in, boolean inMajor, int panel) {
  public LinearWeight(Tensor data, int out, int in, boolean inMajor) { this(data, out, in, inMajor, 0); }
}
