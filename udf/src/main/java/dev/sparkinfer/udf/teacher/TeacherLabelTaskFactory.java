package dev.sparkinfer.udf.teacher;

import dev.sparkinfer.udf.model.DecoderCache;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.BatchTaskFactory;

/** Makes {@link TeacherLabelTask}s on executors with the JVM's shared decoder ({@code DecoderCache}). */
public record TeacherLabelTaskFactory(TeacherConfig config, DeviceChoice device, EngineConfig engine) implements BatchTaskFactory {
  @Override
  public BatchTask create() { return new TeacherLabelTask(DecoderCache.get(config.modelDir(), config.loraDir(), config.windowsPerPass(), config.maxLength(), device, engine), config); }

  @Override
  public boolean hasSortLength() { return true; }

  /** The text's length in chars (a proxy of its token count). */
  @Override
  public int sortLength(Object[] inputRow) { return inputRow[1] instanceof String s ? s.length() : 0; }
}
