package dev.sparkinfer.kernels;

/** A kernel did not run on the OpenCL device that was asked for (strict mode), with Aparapi's reason. */
public class KernelFallbackException extends RuntimeException {
  public KernelFallbackException(String message, Throwable cause) { super(message, cause); }
}
