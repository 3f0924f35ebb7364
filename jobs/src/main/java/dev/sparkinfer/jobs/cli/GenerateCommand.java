package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.generate.GenerateJob;
import dev.sparkinfer.models.decoder.DecoderModels;
import dev.sparkinfer.udf.generate.GenerateConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pipeline generate}: batched generation from a decoder (sequence-level distillation). */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
    customSynopsis = "bin/pipeline generate --model DIR --input PATH --output DIR [--max-new-tokens N] "
        + "[--greedy | --temperature T --top-p P --seed S] [--stop-at-eos true|false] [--lora DIR] [--quantize int8|int4] [--prune unstructured:F|2:4] ...",
    description = {"Generates a continuation of every prompt with a decoder, batched on the KV cache.",
        "Output rows: id, token_ids (new tokens), text, mean_logprob (T = 1), n_prompt_tokens, finish_reason, model. The same "
            + "seed gives the same output whatever the partitioning (each row's random stream is seeded by its id)."},
    footer = {"", "Exit status: 0 done, 1 the job failed, 2 bad arguments, paths or model (nothing was run)."})
public final class GenerateCommand implements Callable<Integer> {
  @Mixin CommonOptions options;
  @Mixin DecodingOptions decoding;
  @Mixin WeightOptions weights;
  @Spec CommandSpec spec;

  @Option(names = "--context", paramLabel = "N", defaultValue = "0",
      description = "prompt + new tokens per sequence; 0 = min(1024, the model's positions) (default: ${DEFAULT-VALUE})")
  int context;

  @Option(names = "--lora", paramLabel = "DIR", description = "a PEFT LoRA adapter folder, merged at load")
  Path lora;

  @Option(names = "--sequences-per-pass", paramLabel = "N", defaultValue = "8", description = "sequences decoded together (default: ${DEFAULT-VALUE})")
  int batch;

  @Override
  public Integer call() {
    JobConfig cfg = options.toConfig();
    if (cfg.model().equals(JobConfig.DEFAULT_MODEL)) throw new IllegalArgumentException("--model must be a decoder's Hugging Face folder");
    Path dir = Path.of(cfg.model()).toAbsolutePath().normalize();
    int ctx = context > 0 ? context : Math.min(1024, DecoderModels.positions(dir));
    GenerateConfig gc = new GenerateConfig(dir.toString(), lora == null ? null : lora.toAbsolutePath().normalize().toString(),
        decoding.maxNewTokens, decoding.temperature(), decoding.topP, decoding.seed, decoding.stopAtEos, ctx, batch, cfg.task().maxTextChars());
    GenerateJob job = new GenerateJob(gc, cfg.device(), weights.engine());
    job.checkModel();
    spec.commandLine().getOut().println(Sessions.runJob(cfg, job).oneLine());
    return 0;
  }
}
