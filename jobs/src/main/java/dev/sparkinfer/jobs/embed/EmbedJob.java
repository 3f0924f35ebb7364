package dev.sparkinfer.jobs.embed;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.JobSpec;
import dev.sparkinfer.jobs.UsageException;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.models.ModelRef;
import dev.sparkinfer.schemas.EmbeddingsTable;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.TaskConfig;
import dev.sparkinfer.udf.embed.EmbedTaskFactory;
import dev.sparkinfer.udf.model.EmbedderCache;
import dev.sparkinfer.udf.model.EmbedderProviders;
import dev.sparkinfer.udf.model.ModelRefProvider;
import org.apache.spark.sql.types.StructType;

/**
 * The embedding job: corpus (id, text) to embeddings (id, embedding, n_tokens, truncated, model). {@code engine} (the
 * driver's, with the command's --quantize/--prune) travels to the executors inside the task factory.
 */
public record EmbedJob(String modelSpec, DeviceChoice device, TaskConfig taskConfig, EngineConfig engine) implements JobSpec {
  /** With the engine config of this JVM's sparkinfer.* properties (made on the driver). */
  public EmbedJob(JobConfig cfg) { this(cfg, EngineConfig.fromSystemProperties()); }

  public EmbedJob(JobConfig cfg, EngineConfig engine) { this(absoluteFolder(cfg.model()), cfg.device(), cfg.task(), engine); }

  /**
   * A model folder given by a relative path, made absolute here on the driver: executors resolve a path against their
   * own working directory (a standalone worker's is its application folder), so a relative folder the driver found
   * would be missing on every executor. The built-in model and specs of registered providers are left as they are.
   */
  static String absoluteFolder(String modelSpec) {
    String spec = EmbedderProviders.normalize(modelSpec);
    if (ModelRef.isDefaultSpec(spec) || !(EmbedderProviders.forSpec(spec) instanceof ModelRefProvider) || spec.startsWith("file:")) {
      return modelSpec;
    }
    try {
      java.nio.file.Path p = java.nio.file.Path.of(spec);
      return p.isAbsolute() ? modelSpec : p.toAbsolutePath().normalize().toString();
    } catch (java.nio.file.InvalidPathException e) {
      return modelSpec; // not a path: checkModel says so
    }
  }

  @Override
  public String name() { return "embed"; }

  @Override
  public BatchTaskFactory tasks() { return new EmbedTaskFactory(modelSpec, device, taskConfig, engine); }

  @Override
  public StructType outputSparkSchema() { return EmbeddingsTable.sparkSchema(); }

  @Override
  public String checkModel() {
    try {
      // the recorded name says what was applied at load (+prune2:4, +int8), as the model column does
      return EmbedderProviders.forSpec(EmbedderProviders.normalize(modelSpec)).check(EmbedderProviders.normalize(modelSpec))
          + engine.weightsSuffix();
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new UsageException("--model " + modelSpec + ": " + e.getMessage(), e);
    }
  }

  /** True when the failure comes from the device layer (kernels, OpenCL), where --device java is a real way out. */
  static boolean fromDevice(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
      String m = String.valueOf(c.getMessage());
      if (m.contains("OpenCL") || m.contains("CL_")) return true;
      for (StackTraceElement f : c.getStackTrace()) {
        if (f.getClassName().startsWith("dev.sparkinfer.kernels.") || f.getClassName().startsWith("com.aparapi.")) return true;
        if (f.getClassName().startsWith("dev.sparkinfer.models.")) break; // thrown by the model's own code first
      }
    }
    return false;
  }

  @Override
  public String warmUp() {
    try {
      Embedder e = EmbedderCache.get(modelSpec, device, engine);
      return e.deviceDescription();
    } catch (RuntimeException e) {
      throw new UsageException("cannot load model '" + modelSpec + "' on device " + device.name().toLowerCase() + ": "
          + e.getMessage() + (device != DeviceChoice.JAVA && fromDevice(e) ? " (try --device java for the plain-Java engine)"
          : " (check the model folder: its files may be incomplete or corrupt)"), e);
    }
  }
}
