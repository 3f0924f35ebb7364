package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.models.Embedders;
import dev.sparkinfer.models.ModelRef;

/** The production provider: {@code default} or a model folder, validated by {@link ModelRef#resolve}. */
public final class ModelRefProvider implements EmbedderProvider {
  @Override
  public boolean handles(String modelSpec) { return true; }

  @Override
  public String check(String modelSpec) { return ModelRef.resolve(modelSpec).name(); }

  @Override
  public Embedder load(String modelSpec, DeviceChoice device) {
    return load(modelSpec, device, EngineConfig.fromSystemProperties());
  }

  /** Onto this JVM's one engine for the device (shared with every other model loaded here, one memory budget). */
  @Override
  public Embedder load(String modelSpec, DeviceChoice device, EngineConfig engine) {
    return Embedders.load(ModelRef.resolve(modelSpec), DeviceRuntime.get(device, engine), Embedders.DEFAULT_BATCH_SIZE, engine);
  }
}
