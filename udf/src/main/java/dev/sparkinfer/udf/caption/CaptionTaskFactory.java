package dev.sparkinfer.udf.caption;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.model.LlavaCache;

/** Makes {@link CaptionTask}s on executors with the JVM's shared LLaVA ({@link LlavaCache}). */
public record CaptionTaskFactory(CaptionConfig config, DeviceChoice device, EngineConfig engine) implements BatchTaskFactory {
  @Override
  public BatchTask create() {
    return new CaptionTask(LlavaCache.get(config.modelDir(), config.entries(), config.capacity(), device, engine), config);
  }
}
