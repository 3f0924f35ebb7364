package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.BatchJob;
import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.JobSummary;
import dev.sparkinfer.jobs.caption.CaptionJob;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.udf.caption.CaptionConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pipeline caption}: a caption for every image, by a LLaVA model. */
@Command(name = "caption", mixinStandardHelpOptions = true, sortOptions = false,
    customSynopsis = "bin/pipeline caption --model DIR --input PATH --output DIR [--prompt \"USER: <image>\\nDescribe this image. ASSISTANT:\"] "
        + "[--max-new-tokens 64] [--greedy | --temperature T --top-p P --seed S | --beams N] [--image-col image] [--image-root DIR] [--keep-cols a,b] ...",
    description = {"Captions every image with a LLaVA model (Hugging Face LlavaForConditionalGeneration) on Spark: the vision tower once "
        + "per image, its projected features at the prompt's <image> positions, then generation on the KV cache, batched over images.",
        "Output rows: id, caption, token_ids (new tokens), mean_logprob, finish_reason (eos or length), image_width, image_height, model, "
            + "then --keep-cols. Inputs and bad-image handling as clip-score's (paths, bytes, WebDataset shards; rejects with reasons)."},
    footer = {"", "Examples:",
        "  bin/pipeline caption --model /models/llava-1.5-7b-hf --input 'shards/*.tar' --output captions/ --max-new-tokens 64",
        "", "Exit status: 0 done, 1 the job failed, 2 bad arguments, paths or model (nothing was run)."})
public final class CaptionCommand implements Callable<Integer> {
  public static final String DEFAULT_PROMPT = "USER: <image>\nDescribe this image. ASSISTANT:";

  @Mixin CommonOptions options;
  @Mixin ImageOptions images;
  @Spec CommandSpec spec;

  @Option(names = "--prompt", paramLabel = "TEXT", defaultValue = DEFAULT_PROMPT,
      description = "the prompt; <image> is where the image's features go (default: LLaVA-1.5's)")
  String prompt;

  @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "64", description = "caption length limit in tokens (default: ${DEFAULT-VALUE})")
  int maxNewTokens;

  @Option(names = "--greedy", description = "argmax decoding (the default when no --temperature is given)")
  boolean greedy;

  @Option(names = "--temperature", paramLabel = "T", defaultValue = "0", description = "sampling temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
  float temperature;

  @Option(names = "--top-p", paramLabel = "P", defaultValue = "1.0", description = "nucleus sampling mass (default: ${DEFAULT-VALUE})")
  float topP;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "sampling seed; each row's stream is seeded by it and the row's id (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--stop-at-eos", paramLabel = "BOOL", defaultValue = "true", arity = "1",
      description = "end a caption at the end-of-text token (default: ${DEFAULT-VALUE})")
  boolean stopAtEos;

  @Option(names = "--beams", paramLabel = "N", defaultValue = "1",
      description = "beam search width (transformers' beam search, early_stopping=False); 1 = greedy or sampling (default: ${DEFAULT-VALUE})")
  int beams;

  @Option(names = "--length-penalty", paramLabel = "X", defaultValue = "1.0",
      description = "beam search: a finished caption scores log-prob sum / length^X (default: ${DEFAULT-VALUE})")
  float lengthPenalty;

  @Option(names = "--captions-per-pass", paramLabel = "N", defaultValue = "8",
      description = "images captioned together on the KV cache (default: ${DEFAULT-VALUE})")
  int batch;

  @Override
  public Integer call() {
    JobConfig cfg = images.apply(options.toConfig(), null);
    String dir = ImageOptions.modelDir(cfg, "a LLaVA folder (Hugging Face LlavaForConditionalGeneration, e.g. llava-hf/llava-1.5-7b-hf)");
    if (greedy && temperature != 0) throw new IllegalArgumentException("--greedy and --temperature " + temperature + " contradict each other");
    int promptTokens = CaptionJob.promptTokens(Path.of(dir), prompt);
    CaptionConfig cc = new CaptionConfig(dir, prompt, promptTokens, maxNewTokens, temperature, topP, seed, stopAtEos, batch, images.maxPixels,
        beams, lengthPenalty);
    CaptionJob job = new CaptionJob(cc, cfg.device(), EngineConfig.fromSystemProperties());
    job.checkModel();
    boolean ownSession = SparkSession.getDefaultSession().isEmpty();
    SparkSession spark = Sessions.start("sparkinfer caption", cfg.master());
    try {
      JobSummary summary = BatchJob.run(spark, cfg, c -> job);
      spec.commandLine().getOut().println(summary.oneLine());
      return 0;
    } finally {
      if (ownSession) spark.stop();
    }
  }
}
