package dev.sparkinfer.jobs.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.sparkinfer.jobs.BatchJob;
import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.JobSummary;
import dev.sparkinfer.jobs.teacher.TeacherLabelsJob;
import dev.sparkinfer.models.decoder.DecoderModels;
import dev.sparkinfer.models.decoder.DecoderTokenizers;
import dev.sparkinfer.schemas.TeacherLabelsTable;
import dev.sparkinfer.udf.teacher.TeacherConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pipeline teacher-labels}: a decoder teacher's top-k log-probs at every token position of a corpus. */
@Command(name = "teacher-labels", mixinStandardHelpOptions = true, sortOptions = false,
    customSynopsis = "bin/pipeline teacher-labels --model DIR --input PATH --output DIR [--top-k 20] [--temperature T] "
        + "[--max-length N] [--stride N] [--logprob-dtype float16|float32|uint8] [--lora DIR] [--quantize int8|int4] [--prune unstructured:F|2:4] [--device auto|cpu|opencl|java] ...",
    description = {"Labels every token position of every text with a teacher's top-k log_softmax(logits / T), for distillation.",
        "Output rows: id, token_ids, topk_ids, topk_logprobs (encoded, see --logprob-dtype), target_logprob, sum_logprob "
            + "(T = 1), n_tokens, windows, note, model. DIR/_TEACHER_CONFIG.json records the settings and tokenizer hash."},
    footer = {"", "Examples:",
        "  bin/pipeline teacher-labels --model /models/Llama-3.2-1B --input texts.jsonl --output labels/ --top-k 20 --temperature 2.0",
        "", "Exit status: 0 done, 1 the job failed, 2 bad arguments, paths or model (nothing was run)."})
public final class TeacherLabelsCommand implements Callable<Integer> {
  public static final String CONFIG_FILE = "_TEACHER_CONFIG.json";

  @Mixin CommonOptions options;
  @Mixin WeightOptions weights;
  @Spec CommandSpec spec;

  @Option(names = "--top-k", paramLabel = "K", defaultValue = "20", description = "token ids and log-probs kept per position (default: ${DEFAULT-VALUE})")
  int topK;

  @Option(names = "--temperature", paramLabel = "T", defaultValue = "1.0", description = "log_softmax(logits / T) (default: ${DEFAULT-VALUE})")
  float temperature;

  @Option(names = "--max-length", paramLabel = "N", defaultValue = "0",
      description = "tokens per window; longer texts run in overlapping windows; 0 = min(1024, the model's positions) (default: ${DEFAULT-VALUE})")
  int maxLength;

  @Option(names = "--stride", paramLabel = "N", defaultValue = "0",
      description = "tokens between window starts (at most --max-length); 0 = half the window (default: ${DEFAULT-VALUE})")
  int stride;

  @Option(names = "--logprob-dtype", paramLabel = "DTYPE", defaultValue = "float16",
      description = "how topk_logprobs are stored: float16, float32 or uint8 (q = round(-logprob * 16)) (default: ${DEFAULT-VALUE})")
  String logprobDtype;

  @Option(names = "--lora", paramLabel = "DIR", description = "a PEFT LoRA adapter folder, merged into the teacher at load")
  Path lora;

  @Option(names = "--windows-per-pass", paramLabel = "N", defaultValue = "4",
      description = "windows run together in one forward pass (default: ${DEFAULT-VALUE})")
  int windowsPerPass;

  @Override
  public Integer call() {
    JobConfig cfg = options.toConfig();
    if (cfg.model().equals(JobConfig.DEFAULT_MODEL)) {
      throw new IllegalArgumentException("--model must be a decoder's Hugging Face folder (GPT-2, LLaMA, Mistral, Mixtral)");
    }
    Path dir = Path.of(cfg.model()).toAbsolutePath().normalize();
    int positions = DecoderModels.positions(dir);
    int window = maxLength > 0 ? maxLength : Math.min(1024, positions);
    TeacherConfig tc = new TeacherConfig(dir.toString(), lora == null ? null : lora.toAbsolutePath().normalize().toString(), topK,
        temperature, window, stride > 0 ? stride : Math.max(1, window / 2), TeacherLabelsTable.LogprobEncoding.parse(logprobDtype),
        windowsPerPass, cfg.task().maxTextChars());
    TeacherLabelsJob job = new TeacherLabelsJob(tc, cfg.device(), weights.engine());
    String modelName = job.checkModel(); // before Spark starts
    boolean ownSession = SparkSession.getDefaultSession().isEmpty();
    SparkSession spark = Sessions.start("sparkinfer teacher-labels", cfg.master());
    try {
      JobSummary summary = BatchJob.run(spark, cfg, c -> job);
      writeConfig(spark, cfg.output(), tc, modelName, summary);
      spec.commandLine().getOut().println(summary.oneLine());
      spec.commandLine().getOut().printf("stored bytes per token: %d (%d ids + %d %s log-probs + token id + target)%n",
          tc.bytesPerToken(), topK, topK, tc.encoding().label());
      return 0;
    } finally {
      if (ownSession) spark.stop();
    }
  }

  /** The settings a trainer must match, beside the data. */
  static void writeConfig(SparkSession spark, String output, TeacherConfig tc, String modelName, JobSummary summary) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("model", modelName);
    m.put("model_dir", tc.modelDir());
    m.put("lora", tc.loraDir());
    m.put("tokenizer_sha256", DecoderTokenizers.load(Path.of(tc.modelDir())).fingerprint());
    m.put("temperature", tc.temperature());
    m.put("top_k", tc.topK());
    m.put("max_length", tc.maxLength());
    m.put("stride", tc.stride());
    m.put("logprob_dtype", tc.encoding().label());
    if (tc.encoding() == TeacherLabelsTable.LogprobEncoding.UINT8) m.put("uint8_logprob", "-q / " + TeacherLabelsTable.LogprobEncoding.UINT8_STEPS_PER_NAT);
    m.put("position_i_predicts", "token i + 1");
    m.put("stored_bytes_per_token", tc.bytesPerToken());
    m.put("rows_written", summary.written());
    m.put("device", summary.device());
    org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(output, CONFIG_FILE);
    try {
      FileSystem fs = file.getFileSystem(spark.sparkContext().hadoopConfiguration());
      try (OutputStream out = fs.create(file, true)) {
        out.write((new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(m) + "\n").getBytes(StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }
}
