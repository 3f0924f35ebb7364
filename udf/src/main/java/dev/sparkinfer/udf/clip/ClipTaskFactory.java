package dev.sparkinfer.udf.clip;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.model.ClipCache;

/** Makes {@link ClipScoreTask}s or {@link ClipClassifyTask}s on executors with the JVM's shared CLIP ({@link ClipCache}). */
public record ClipTaskFactory(ClipTaskConfig config, DeviceChoice device, EngineConfig engine) implements BatchTaskFactory {
  @Override
  public BatchTask create() {
    ClipCache.Clip clip = ClipCache.get(config.modelDir(), config.tokenizerDir(), device, engine);
    return config.classifies() ? new ClipClassifyTask(clip, config) : new ClipScoreTask(clip, config);
  }
}
