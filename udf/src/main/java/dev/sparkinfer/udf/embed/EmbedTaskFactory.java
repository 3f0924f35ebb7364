package dev.sparkinfer.udf.embed;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.TaskConfig;
import dev.sparkinfer.udf.model.EmbedderCache;

/** Makes {@link EmbedTask}s on executors, with the JVM's shared model for (modelSpec, device). */
public record EmbedTaskFactory(String modelSpec, DeviceChoice device, TaskConfig config) implements BatchTaskFactory {
  @Override
  public BatchTask create() {
    return new EmbedTask(EmbedderCache.get(modelSpec, device), config);
  }

  /** The text's length in chars (a proxy of its token count). */
  @Override
  public int sortLength(Object[] inputRow) {
    return inputRow[1] instanceof String s ? s.length() : 0;
  }
}
