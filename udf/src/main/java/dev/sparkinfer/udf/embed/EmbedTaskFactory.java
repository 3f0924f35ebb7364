package dev.sparkinfer.udf.embed;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.TaskConfig;
import dev.sparkinfer.udf.model.EmbedderCache;

/**
 * Makes {@link EmbedTask}s on executors, with the JVM's shared model for (modelSpec, device), on an engine opened with
 * {@code engine}: the driver's config, serialized with this factory, so executors run what the driver was told; the CPU
 * engine's threads are the executor's cores ({@code ExecutorCores}, applied by the cache) unless the config fixes them.
 */
public record EmbedTaskFactory(String modelSpec, DeviceChoice device, TaskConfig config, EngineConfig engine) implements BatchTaskFactory {
  /** With the engine config of this JVM's sparkinfer.* properties (made on the driver). */
  public EmbedTaskFactory(String modelSpec, DeviceChoice device, TaskConfig config) {
    this(modelSpec, device, config, EngineConfig.fromSystemProperties());
  }

  @Override
  public BatchTask create() {
    return new EmbedTask(EmbedderCache.get(modelSpec, device, engine), config);
  }

  @Override
  public boolean hasSortLength() { return true; }

  /** The text's length in chars (a proxy of its token count). */
  @Override
  public int sortLength(Object[] inputRow) {
    return inputRow[1] instanceof String s ? s.length() : 0;
  }
}
