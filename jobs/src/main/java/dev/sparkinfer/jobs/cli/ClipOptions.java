package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.io.ImageInput;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The flags the CLIP jobs add to {@link ImageOptions}: the caption column and the tokenizer's folder. */
public final class ClipOptions {
  @Option(names = "--caption-col", paramLabel = "NAME", defaultValue = ImageInput.DEFAULT_CAPTION_COL,
      description = "caption column (default: ${DEFAULT-VALUE})")
  String captionCol;

  @Option(names = "--tokenizer", paramLabel = "DIR",
      description = "folder with the CLIP tokenizer files (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz) when --model lacks them")
  Path tokenizer;

  static final String WHAT = "a CLIP folder (Hugging Face CLIPModel, e.g. openai/clip-vit-base-patch32, or OpenCLIP: "
      + "open_clip_config.json + open_clip_model.safetensors)";

  static String modelDir(JobConfig cfg) { return ImageOptions.modelDir(cfg, WHAT); }

  String tokenizerDir(String modelDir) { return tokenizer == null ? modelDir : tokenizer.toAbsolutePath().normalize().toString(); }
}
