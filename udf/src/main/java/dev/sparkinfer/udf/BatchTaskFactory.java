package dev.sparkinfer.udf;

import java.io.Serializable;

/**
 * Makes a task on an executor. Shipped inside Spark closures, so it holds only settings (model spec, device, tunables);
 * the model itself comes from the per-JVM {@link dev.sparkinfer.udf.model.EmbedderCache}.
 */
@FunctionalInterface
public interface BatchTaskFactory extends Serializable {
  BatchTask create();

  /**
   * A cost proxy of one input row (values in the task's input schema order), computed without the model: the job
   * range-partitions the corpus by it and the partition runner sorts each window by it, so that a batch holds rows of
   * similar length and pads little. Text tasks return the text length; 0 (the default) means "no order helps".
   */
  default int sortLength(Object[] inputRow) { return 0; }

  /**
   * Whether {@link #sortLength} orders anything. Without a cost proxy (the image tasks: every image is resized to the
   * same size) the job spreads the corpus round-robin, skipping the range partitioner's sampling pass over the input
   * (which would read every image or shard twice).
   */
  default boolean hasSortLength() { return false; }
}
