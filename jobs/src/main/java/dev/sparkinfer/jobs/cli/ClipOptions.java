package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.io.ImageInput;
import dev.sparkinfer.udf.clip.ClipTaskConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Option;

/** The flags the CLIP jobs share (beside {@link CommonOptions}): image and caption columns, limits, tokenizer. */
public final class ClipOptions {
  @Option(names = "--image-col", paramLabel = "NAME", defaultValue = ImageInput.DEFAULT_IMAGE_COL,
      description = "image column: a path (relative to --image-root, absolute, or a URI such as s3a://b/x.jpg) or the image bytes "
          + "(Parquet binary) (default: ${DEFAULT-VALUE}); WebDataset shards (.tar) need no columns")
  String imageCol;

  @Option(names = "--caption-col", paramLabel = "NAME", defaultValue = ImageInput.DEFAULT_CAPTION_COL,
      description = "caption column (default: ${DEFAULT-VALUE})")
  String captionCol;

  @Option(names = "--image-root", paramLabel = "DIR",
      description = "folder (any Hadoop FS URI) relative image paths are resolved against (default: the folder of the input file)")
  String imageRoot;

  @Option(names = "--keep-cols", paramLabel = "A,B", split = ",",
      description = "input columns carried into the output unchanged, e.g. url,width,height (img2dataset's save_additional_columns)")
  List<String> keepCols;

  @Option(names = "--max-pixels", paramLabel = "N", defaultValue = "" + ClipTaskConfig.DEFAULT_MAX_PIXELS,
      description = "images with more pixels (read from the header, before decoding) are rejected (default: ${DEFAULT-VALUE}, Pillow's bomb limit)")
  long maxPixels;

  @Option(names = "--max-image-bytes", paramLabel = "N", defaultValue = "" + ImageInput.DEFAULT_MAX_IMAGE_BYTES,
      description = "image files larger than this are rejected without being read (default: ${DEFAULT-VALUE})")
  long maxImageBytes;

  @Option(names = "--tokenizer", paramLabel = "DIR",
      description = "folder with the CLIP tokenizer files (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz) when --model lacks them")
  Path tokenizer;

  /** The job configuration with the image input set; the caption column becomes the job's text column. */
  JobConfig apply(JobConfig cfg, boolean captions) {
    ImageInput images = new ImageInput(imageCol, imageRoot, captions, keepCols, maxImageBytes);
    return cfg.withColumns(cfg.idCol(), captionCol).withImages(images);
  }

  /** The model folder, checked to be a folder (the job checks what is in it). */
  static String modelDir(JobConfig cfg) {
    if (cfg.model().equals(JobConfig.DEFAULT_MODEL)) {
      throw new IllegalArgumentException("--model must name a CLIP folder (Hugging Face CLIPModel, e.g. openai/clip-vit-base-patch32, "
          + "or OpenCLIP: open_clip_config.json + open_clip_model.safetensors)");
    }
    Path dir = Path.of(cfg.model()).toAbsolutePath().normalize();
    if (!Files.isDirectory(dir)) throw new IllegalArgumentException("--model " + dir + " is not a folder");
    return dir.toString();
  }

  String tokenizerDir(String modelDir) { return tokenizer == null ? modelDir : tokenizer.toAbsolutePath().normalize().toString(); }

  static List<String> split(String s) { return Arrays.stream(s.split(",")).map(String::trim).filter(x -> !x.isEmpty()).toList(); }
}
