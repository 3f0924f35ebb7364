package dev.sparkinfer.kernels;

/** Element-wise activations of the model families we run. */
public enum Activation {
  /** BERT, LLaVA projector: 0.5 x (1 + erf(x / sqrt 2)). */
  GELU_ERF,
  /** GPT-2 "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  GELU_TANH,
  /** OpenAI CLIP: x sigmoid(1.702 x). */
  QUICK_GELU,
  /** LLaMA SwiGLU gate: x sigmoid(x). */
  SILU,
  RELU;

  /** The code the OpenCL kernel switches on. */
  public int code() { return ordinal(); }
}
