package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.clip.ClipJob;
import dev.sparkinfer.udf.clip.ClipTaskConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pipeline clip-classify}: zero-shot label probabilities of every image. */
@Command(name = "clip-classify", mixinStandardHelpOptions = true, sortOptions = false,
    customSynopsis = "bin/pipeline clip-classify --model DIR --input PATH --output DIR --labels labels.txt [--template \"a photo of a {}.\"] "
        + "[--top-k 5] [--temperature T] [--soft-labels] [--image-col image] [--image-root DIR] [--keep-cols a,b] ...",
    description = {"Classifies every image zero-shot with CLIP: probabilities softmax(logit_scale * cos(image, prompt) / T) over the "
        + "labels, the prompts being the template with {} replaced by each label (embedded once per executor).",
        "Output rows: id, label, label_index, top_indices, top_probs, [probs: every label's probability, --soft-labels], "
            + "image_width, image_height, model, then --keep-cols. DIR/_LABELS.json (written with the output) lists the labels in index order."},
    footer = {"", "Examples:",
        "  bin/pipeline clip-classify --model /models/clip-vit-base-patch32 --input images.parquet --output classes/ --labels imagenet.txt --soft-labels",
        "", "Exit status: 0 done, 1 the job failed, 2 bad arguments, paths or model (nothing was run)."})
public final class ClipClassifyCommand implements Callable<Integer> {
  @Mixin CommonOptions options;
  @Mixin ImageOptions images;
  @Mixin ClipOptions clip;
  @Mixin WeightOptions weights;
  @Spec CommandSpec spec;

  @Option(names = "--labels", required = true, paramLabel = "FILE", description = "the class names, one a line (UTF-8; blank lines skipped)")
  Path labels;

  @Option(names = "--template", paramLabel = "TEXT", defaultValue = ClipTaskConfig.DEFAULT_TEMPLATE,
      description = "the prompt, {} replaced by the label (default: ${DEFAULT-VALUE})")
  String template;

  @Option(names = "--top-k", paramLabel = "K", defaultValue = "5", description = "labels kept per image (default: ${DEFAULT-VALUE})")
  int topK;

  @Option(names = "--temperature", paramLabel = "T", defaultValue = "1.0", description = "softmax(logit_scale * cos / T) (default: ${DEFAULT-VALUE})")
  float temperature;

  @Option(names = "--soft-labels", description = "write every label's probability (class soft labels for distillation)")
  boolean softLabels;

  @Override
  public Integer call() {
    JobConfig cfg = images.apply(options.toConfig(), null);
    String dir = ClipOptions.modelDir(cfg);
    List<String> names = readLabels(labels);
    ClipTaskConfig tc = ClipTaskConfig.classify(dir, clip.tokenizerDir(dir), images.maxPixels, names, template, topK, temperature, softLabels);
    return ClipScoreCommand.run(cfg, ClipJob.classify(tc, cfg.device(), weights.engine()), spec);
  }

  static List<String> readLabels(Path file) {
    try {
      List<String> l = Files.readAllLines(file, StandardCharsets.UTF_8).stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
      if (l.isEmpty()) throw new IllegalArgumentException("--labels " + file + " holds no label (one a line)");
      if (l.size() != new java.util.HashSet<>(l).size()) throw new IllegalArgumentException("--labels " + file + " names a label twice");
      return l;
    } catch (IOException e) {
      throw new IllegalArgumentException("--labels " + file + " cannot be read: " + e.getMessage(), e);
    }
  }
}
