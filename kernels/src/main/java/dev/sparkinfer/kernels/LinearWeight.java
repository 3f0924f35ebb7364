package dev.sparkinfer.kernels;

/**
 * A Linear layer's weight on the device, in the layout that device multiplies fastest: PyTorch's {@code [out, in]}
 * (GPUs: local-memory tiles) or transposed {@code [in, out]} (CPU OpenCL: consecutive work-items read consecutive floats).
 */
public record LinearWeight(Tensor data, int out, int in, boolean inMajor) {}
