package dev.sparkinfer.jobs.caption;

import dev.sparkinfer.jobs.JobSpec;
import dev.sparkinfer.jobs.UsageException;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.llava.LlavaConfig;
import dev.sparkinfer.models.llava.LlavaPrompt;
import dev.sparkinfer.schemas.CaptionsTable;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.caption.CaptionConfig;
import dev.sparkinfer.udf.caption.CaptionTaskFactory;
import dev.sparkinfer.udf.model.LlavaCache;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.spark.sql.types.StructType;

/** The caption job: images (paths, bytes or WebDataset shards) to captions by a LLaVA model ({@link CaptionsTable}). */
public record CaptionJob(CaptionConfig config, DeviceChoice device, EngineConfig engine) implements JobSpec {
  @Override
  public String name() { return "caption"; }

  @Override
  public BatchTaskFactory tasks() { return new CaptionTaskFactory(config, device, engine); }

  @Override
  public StructType outputSparkSchema() { return CaptionsTable.sparkSchema(); }

  /** The prompt's length in tokens with this model's tokenizer and image expansion (checks the folder on the way). */
  public static int promptTokens(Path dir, String prompt) {
    try {
      if (!Files.isRegularFile(dir.resolve("config.json"))) throw new IllegalArgumentException("no config.json: not a Hugging Face model folder");
      String type = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("config.json").toFile()).path("model_type").asText();
      if (!type.equals("llava")) {
        throw new IllegalArgumentException("config.json says model_type '" + type + "': caption needs a LLaVA folder (LlavaForConditionalGeneration)");
      }
      LlavaConfig c = LlavaConfig.read(dir);
      return LlavaPrompt.load(dir, c).encode(prompt).length;
    } catch (java.io.IOException | RuntimeException e) {
      throw new UsageException("--model " + dir + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String checkModel() {
    Path dir = Path.of(config.modelDir());
    promptTokens(dir, config.prompt());
    return dir.getFileName().toString() + engine.weightsSuffix();
  }

  @Override
  public String warmUp() {
    try {
      return LlavaCache.get(config.modelDir(), config.entries(), config.capacity(), device, engine).runtime().device().toString();
    } catch (RuntimeException e) {
      throw new UsageException("cannot load LLaVA '" + config.modelDir() + "' on device " + device.name().toLowerCase(Locale.ROOT) + ": " + e.getMessage(), e);
    }
  }
}
