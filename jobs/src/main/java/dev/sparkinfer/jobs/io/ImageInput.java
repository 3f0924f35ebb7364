package dev.sparkinfer.jobs.io;

import java.io.Serializable;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * How an image job (CLIP) reads its corpus, beside the id and caption ({@code --caption-col}, the job's text column).
 *
 * @param imageCol      the image column: a path (relative to {@code imageRoot}, or absolute, or a URI such as
 *                      {@code hdfs://...} or {@code s3a://...}) or the image bytes (a Parquet binary column)
 * @param imageRoot     the folder relative image paths are resolved against; null: relative to the input file's folder
 * @param captions      whether the job reads captions (clip-score, clip-filter) or not (clip-classify)
 * @param keepCols      input columns carried into the output unchanged (img2dataset's save_additional_columns)
 * @param maxImageBytes image files larger than this are rejected without being read whole
 */
public record ImageInput(String imageCol, String imageRoot, boolean captions, List<String> keepCols, long maxImageBytes)
    implements Serializable {
  public static final String DEFAULT_IMAGE_COL = "image";
  public static final String DEFAULT_CAPTION_COL = "caption";
  public static final long DEFAULT_MAX_IMAGE_BYTES = 64L << 20;

  public ImageInput {
    if (imageCol == null || imageCol.isBlank()) throw new IllegalArgumentException("--image-col must name a column");
    if (imageRoot != null && imageRoot.isBlank()) imageRoot = null;
    keepCols = keepCols == null ? List.of() : List.copyOf(keepCols);
    if (maxImageBytes < 1) throw new IllegalArgumentException("--max-image-bytes must be positive, got " + maxImageBytes);
  }

  public static ImageInput of(boolean captions) {
    return new ImageInput(DEFAULT_IMAGE_COL, null, captions, List.of(), DEFAULT_MAX_IMAGE_BYTES);
  }

  public ImageInput withImageCol(String c) { return new ImageInput(c, imageRoot, captions, keepCols, maxImageBytes); }
  public ImageInput withImageRoot(String r) { return new ImageInput(imageCol, r, captions, keepCols, maxImageBytes); }
  public ImageInput withKeepCols(List<String> k) { return new ImageInput(imageCol, imageRoot, captions, k, maxImageBytes); }
  public ImageInput withMaxImageBytes(long b) { return new ImageInput(imageCol, imageRoot, captions, keepCols, b); }

  /** Checks the columns against the id and caption columns; messages name the flags. */
  public void check(String idCol, String captionCol) {
    if (imageCol.equals(idCol)) throw new IllegalArgumentException("--image-col and --id-col are both '" + idCol + "': name two columns");
    if (captions && imageCol.equals(captionCol)) {
      throw new IllegalArgumentException("--image-col and --caption-col are both '" + imageCol + "': name two columns");
    }
    Set<String> seen = new HashSet<>();
    for (String k : keepCols) {
      if (k.isBlank()) throw new IllegalArgumentException("--keep-cols names an empty column");
      if (!seen.add(k)) throw new IllegalArgumentException("--keep-cols names '" + k + "' twice");
      if (k.equals(idCol)) throw new IllegalArgumentException("--keep-cols names the id column '" + k + "', which the output has already");
    }
  }

  /** The columns read after the id and the caption: the image, then the carried ones. */
  public List<String> extraCols() {
    return java.util.stream.Stream.concat(java.util.stream.Stream.of(imageCol), keepCols.stream()).toList();
  }
}
