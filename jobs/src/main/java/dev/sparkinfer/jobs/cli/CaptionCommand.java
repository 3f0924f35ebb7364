package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.caption.CaptionJob;
import dev.sparkinfer.udf.caption.CaptionConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
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
  @Mixin DecodingOptions decoding;
  @Mixin WeightOptions weights;
  @Spec CommandSpec spec;

  @Option(names = "--prompt", paramLabel = "TEXT", defaultValue = DEFAULT_PROMPT,
      description = "the prompt; <image> is where the image's features go (default: LLaVA-1.5's)")
  String prompt;

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
    int promptTokens = CaptionJob.promptTokens(Path.of(dir), prompt);
    CaptionConfig cc = new CaptionConfig(dir, prompt, promptTokens, decoding.maxNewTokens, decoding.temperature(), decoding.topP, decoding.seed,
        decoding.stopAtEos, batch, images.maxPixels,
        beams, lengthPenalty);
    CaptionJob job = new CaptionJob(cc, cfg.device(), weights.engine());
    job.checkModel();
    spec.commandLine().getOut().println(Sessions.runJob(cfg, job).oneLine());
    return 0;
  }
}
