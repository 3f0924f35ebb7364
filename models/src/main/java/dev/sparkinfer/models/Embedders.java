package dev.sparkinfer.models;

import dev.sparkinfer.kernels.DeviceChoice;

/** Loads a sentence-embedding model (BERT family) onto a device. */
public final class Embedders {
  private Embedders() {}

  /** Loads the model; fails with a message naming what is wrong (missing files, no OpenCL device, ...). */
  public static Embedder load(ModelRef model, DeviceChoice device) {
    throw new UnsupportedOperationException("BERT engine not merged yet");
  }
}
