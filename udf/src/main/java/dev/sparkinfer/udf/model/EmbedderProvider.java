package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.Embedder;

/**
 * Where embedders come from, found with {@link java.util.ServiceLoader}. Production has one: {@link ModelRefProvider}
 * (the default model or a Hugging Face folder, through {@code Embedders.load}). Test code registers extra providers
 * for specs of its own (e.g. {@code test:hash}); a spec no provider claims goes to {@link ModelRefProvider}, which
 * rejects it with a message, so nothing is ever substituted silently.
 */
public interface EmbedderProvider {
  /** True when this provider owns the spec (e.g. a scheme prefix). */
  boolean handles(String modelSpec);

  /**
   * Checks the spec without loading weights, on the driver before any job starts.
   *
   * @return the model's short name for logs and the summary
   * @throws IllegalArgumentException saying what is wrong and what to do
   */
  String check(String modelSpec);

  /** Loads the model onto the device; called once per JVM per (spec, device) by {@link EmbedderCache}. */
  Embedder load(String modelSpec, DeviceChoice device);

  /**
   * Loads the model onto the executor's shared engine for the device, opened with the engine config that travelled
   * with the job. Providers of test models that use no device keep the two-argument form.
   */
  default Embedder load(String modelSpec, DeviceChoice device, EngineConfig engine) { return load(modelSpec, device); }
}
