package dev.sparkinfer.jobs.generate;

import dev.sparkinfer.jobs.JobSpec;
import dev.sparkinfer.jobs.UsageException;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.decoder.DecoderModels;
import dev.sparkinfer.models.decoder.DecoderTokenizers;
import dev.sparkinfer.schemas.GenerationsTable;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.generate.GenerateConfig;
import dev.sparkinfer.udf.generate.GenerateTaskFactory;
import dev.sparkinfer.udf.model.DecoderCache;
import java.nio.file.Path;
import org.apache.spark.sql.types.StructType;

/** The generate job: prompts (id, text) to generated continuations (GenerationsTable). */
public record GenerateJob(GenerateConfig config, DeviceChoice device, EngineConfig engine) implements JobSpec {
  @Override
  public String name() { return "generate"; }

  @Override
  public BatchTaskFactory tasks() { return new GenerateTaskFactory(config, device, engine); }

  @Override
  public StructType outputSparkSchema() { return GenerationsTable.sparkSchema(); }

  @Override
  public String checkModel() {
    Path dir = Path.of(config.modelDir());
    try {
      int positions = DecoderModels.positions(dir);
      DecoderModels.checkWeights(dir, engine.quantize(), engine.prune(), config.loraDir() != null); // GPTQ: as stored
      if (config.capacity() > positions) {
        throw new IllegalArgumentException("--context " + config.capacity() + " exceeds the model's " + positions + " positions");
      }
      DecoderTokenizers.load(dir);
    } catch (IllegalArgumentException e) {
      throw new UsageException("--model " + config.modelDir() + ": " + e.getMessage(), e);
    }
    return dir.getFileName().toString() + engine.weightsSuffix();
  }

  @Override
  public String warmUp() {
    try {
      return DecoderCache.get(config.modelDir(), config.loraDir(), config.batch(), config.capacity(), device, engine).runtime().device().toString();
    } catch (RuntimeException e) {
      throw new UsageException("cannot load '" + config.modelDir() + "' on device " + device.name().toLowerCase() + ": " + e.getMessage(), e);
    }
  }
}
