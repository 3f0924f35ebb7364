package dev.sparkinfer.jobs.teacher;

import dev.sparkinfer.jobs.JobSpec;
import dev.sparkinfer.jobs.UsageException;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.decoder.DecoderModels;
import dev.sparkinfer.models.decoder.DecoderTokenizers;
import dev.sparkinfer.schemas.TeacherLabelsTable;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.model.DecoderCache;
import dev.sparkinfer.udf.teacher.TeacherConfig;
import dev.sparkinfer.udf.teacher.TeacherLabelTaskFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.types.StructType;

/** The teacher-labels job: corpus (id, text) to per-position top-k log-probs of a decoder teacher (TeacherLabelsTable). */
public record TeacherLabelsJob(TeacherConfig config, DeviceChoice device, EngineConfig engine) implements JobSpec {
  @Override
  public String name() { return "teacher-labels"; }

  @Override
  public BatchTaskFactory tasks() { return new TeacherLabelTaskFactory(config, device, engine); }

  @Override
  public StructType outputSparkSchema() { return TeacherLabelsTable.sparkSchema(); }

  @Override
  public String checkModel() {
    Path dir = Path.of(config.modelDir());
    try {
      DecoderModels.modelType(dir);
      DecoderModels.checkWeights(dir, engine.quantize(), engine.prune(), config.loraDir() != null); // GPTQ: as stored
      int positions = DecoderModels.positions(dir);
      if (config.maxLength() > positions) {
        throw new IllegalArgumentException("--max-length " + config.maxLength() + " exceeds the model's " + positions + " positions");
      }
      int vocab = DecoderModels.vocabSize(dir);
      if (config.topK() > vocab) throw new IllegalArgumentException("--top-k " + config.topK() + " is larger than the model's vocabulary of " + vocab);
      var tok = DecoderTokenizers.load(dir);
      if (tok.vocabSize() > vocab) {
        throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " ids but the model's embeddings have " + vocab
            + " rows: the tokenizer files do not belong to this model");
      }
      if (config.loraDir() != null && !Files.isRegularFile(Path.of(config.loraDir()).resolve("adapter_config.json"))) {
        throw new IllegalArgumentException("--lora " + config.loraDir() + " is not a PEFT adapter folder (no adapter_config.json)");
      }
    } catch (IllegalArgumentException | UnsupportedOperationException e) {
      throw new UsageException("--model " + config.modelDir() + ": " + e.getMessage(), e);
    }
    return dir.getFileName().toString() + engine.weightsSuffix();
  }

  @Override
  public String warmUp() {
    try {
      return DecoderCache.get(config.modelDir(), config.loraDir(), config.windowsPerPass(), config.maxLength(), device, engine).runtime().device().toString();
    } catch (RuntimeException e) {
      throw new UsageException("cannot load teacher '" + config.modelDir() + "' on device " + device.name().toLowerCase() + ": " + e.getMessage(), e);
    }
  }
}
