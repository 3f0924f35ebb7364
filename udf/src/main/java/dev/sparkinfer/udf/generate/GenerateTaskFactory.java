package dev.sparkinfer.udf.generate;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.model.DecoderCache;

/** Makes {@link GenerateTask}s on executors with the JVM's shared decoder. */
public record GenerateTaskFactory(GenerateConfig config, DeviceChoice device, EngineConfig engine) implements BatchTaskFactory {
  @Override
  public BatchTask create() {
    return new GenerateTask(DecoderCache.get(config.modelDir(), config.loraDir(), config.batch(), config.capacity(), device, engine), config);
  }

  @Override
  public boolean hasSortLength() { return true; }

  @Override
  public int sortLength(Object[] inputRow) { return inputRow[1] instanceof String s ? s.length() : 0; }
}
