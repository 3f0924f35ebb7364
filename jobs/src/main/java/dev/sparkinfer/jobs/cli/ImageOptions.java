package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.io.ImageInput;
import dev.sparkinfer.udf.clip.ClipTaskConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** The flags the image jobs share (clip-score, clip-filter, clip-classify, caption): where images are, limits, carried columns. */
public final class ImageOptions {
  @Option(names = "--image-col", paramLabel = "NAME", defaultValue = ImageInput.DEFAULT_IMAGE_COL,
      description = "image column: a path (relative to --image-root, absolute, or a URI such as s3a://b/x.jpg) or the image bytes "
          + "(Parquet binary) (default: ${DEFAULT-VALUE}); WebDataset shards (.tar) need no columns")
  String imageCol;

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

  /** The job configuration with the image input set; {@code captionCol} (null: none read) becomes the job's text column. */
  JobConfig apply(JobConfig cfg, String captionCol) {
    ImageInput images = new ImageInput(imageCol, imageRoot, captionCol != null, keepCols, maxImageBytes);
    return cfg.withColumns(cfg.idCol(), captionCol != null ? captionCol : ImageInput.DEFAULT_CAPTION_COL).withImages(images);
  }

  /** The model folder, checked to be a folder (the job checks what is in it). */
  static String modelDir(JobConfig cfg, String what) {
    if (cfg.model().equals(JobConfig.DEFAULT_MODEL)) throw new IllegalArgumentException("--model must name " + what);
    Path dir = Path.of(cfg.model()).toAbsolutePath().normalize();
    if (!Files.isDirectory(dir)) throw new IllegalArgumentException("--model " + dir + " is not a folder");
    return dir.toString();
  }
}
