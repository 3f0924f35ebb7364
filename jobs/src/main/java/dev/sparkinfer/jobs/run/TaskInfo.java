package dev.sparkinfer.jobs.run;

import dev.sparkinfer.udf.BatchTask;

/** What executors tell the driver about their tasks: model, device and output Arrow schema (JSON). */
public record TaskInfo(String modelName, String device, String arrowSchemaJson) {
  public static TaskInfo of(BatchTask task) {
    return new TaskInfo(task.modelName(), task.deviceDescription(), task.outputSchema().toJson());
  }

  /** One string for a {@code CollectionAccumulator<String>}. */
  public String encode() { return modelName + "\u0000" + device + "\u0000" + arrowSchemaJson; }

  public static TaskInfo decode(String s) {
    String[] p = s.split("\u0000", 3);
    return new TaskInfo(p[0], p[1], p[2]);
  }
}
