package dev.sparkinfer.udf.clip;

import dev.sparkinfer.kernels.DeviceMemoryException;
import dev.sparkinfer.kernels.KernelFallbackException;
import dev.sparkinfer.schemas.RejectsTable;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.TaskConfig;
import dev.sparkinfer.udf.model.ClipCache;

/**
 * The CLIP towers over a batch's good rows, in one admitted call on the executor's device; if that call fails, row by
 * row, so one bad row does not reject its neighbours (stage {@code score}). Engine failures (a kernel falling back,
 * device memory) fail the task; a model failing on {@link TaskConfig#DEFAULT_MAX_CONSECUTIVE_ROW_FAILURES} rows in a
 * row is broken, not fed bad rows, and fails the task too. Embeddings come back L2-normalised.
 */
final class ClipPass {
  static final int MAX_CONSECUTIVE_FAILURES = TaskConfig.DEFAULT_MAX_CONSECUTIVE_ROW_FAILURES;

  /** Per input row: the normalised image and text embeddings (null where the row was not run or failed). */
  record Result(float[][] image, float[][] text) {}

  private final ClipCache.Clip clip;
  private int consecutiveFailures;
  private String lastFailure;

  ClipPass(ClipCache.Clip clip) { this.clip = clip; }

  /** The batch's ids, copied out of the input root (a pipelined task's root is refilled while the model runs). */
  static byte[][] ids(org.apache.arrow.vector.VectorSchemaRoot in) {
    var v = (org.apache.arrow.vector.VarCharVector) in.getVector(dev.sparkinfer.schemas.ImageCorpusTable.ID);
    byte[][] ids = new byte[in.getRowCount()][];
    for (int i = 0; i < ids.length; i++) ids[i] = v.get(i);
    return ids;
  }

  /**
   * @param pixels preprocessed images per row (null: row not run)
   * @param tokens CLIP contexts per row; null array: images only (clip-classify)
   * @param ok     the rows to run
   */
  Result run(float[][] pixels, int[][] tokens, boolean[] ok, BatchTask.RowRejects rejects) {
    int n = ok.length;
    int[] rows = java.util.stream.IntStream.range(0, n).filter(i -> ok[i]).toArray();
    float[][] image = new float[n][], text = tokens == null ? null : new float[n][];
    if (rows.length == 0) return new Result(image, text);
    if (!tryRun(rows, pixels, tokens, image, text)) {
      for (int row : rows) {
        if (tryRun(new int[] {row}, pixels, tokens, image, text)) {
          consecutiveFailures = 0;
        } else {
          rejects.reject(row, RejectsTable.STAGE_SCORE, "model failed on this row", lastFailure);
          if (++consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) {
            throw new IllegalStateException("CLIP " + clip.name() + " failed on " + consecutiveFailures + " rows in a row (last: "
                + lastFailure + "): this looks like a broken model or device, not bad input; check the model and --device");
          }
        }
      }
    } else {
      consecutiveFailures = 0;
    }
    return new Result(image, text);
  }

  private boolean tryRun(int[] rows, float[][] pixels, int[][] tokens, float[][] image, float[][] text) {
    float[][] px = new float[rows.length][];
    int[][] ids = tokens == null ? null : new int[rows.length][];
    for (int k = 0; k < rows.length; k++) {
      px[k] = pixels[rows[k]];
      if (ids != null) ids[k] = tokens[rows[k]];
    }
    float[][][] got;
    try {
      got = clip.runtime().admit(ops -> new float[][][] {clip.model().encodeImages(px), ids == null ? null : clip.model().encodeTexts(ids)});
    } catch (KernelFallbackException | DeviceMemoryException e) {
      throw e; // the engine, not a row
    } catch (RuntimeException e) {
      lastFailure = e.getClass().getSimpleName() + ": " + e.getMessage();
      return false;
    }
    for (int k = 0; k < rows.length; k++) {
      ClipCache.normalize(got[0][k]);
      image[rows[k]] = got[0][k];
      if (ids != null) {
        ClipCache.normalize(got[1][k]);
        text[rows[k]] = got[1][k];
      }
    }
    return true;
  }
}
