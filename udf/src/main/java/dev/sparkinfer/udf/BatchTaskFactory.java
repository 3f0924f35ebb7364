package dev.sparkinfer.udf;

import java.io.Serializable;

/**
 * Makes a task on an executor. Shipped inside Spark closures, so it holds only settings (model spec, device, tunables);
 * the model itself comes from the per-JVM {@link dev.sparkinfer.udf.model.EmbedderCache}.
 */
@FunctionalInterface
public interface BatchTaskFactory extends Serializable {
  BatchTask create();
}
