package dev.sparkinfer.udf.image;

import dev.sparkinfer.models.image.ClipImagePreprocessor;
import dev.sparkinfer.models.image.DecodedImage;
import dev.sparkinfer.models.image.ImageDecoder;
import dev.sparkinfer.models.image.ImageRejectedException;
import dev.sparkinfer.schemas.RejectsTable;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.model.ExecutorCores;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;
import org.apache.arrow.vector.VarBinaryVector;

/**
 * Where a batch's images are decoded and preprocessed (CLIP jobs, captioning): on the executor's cores, in parallel
 * (decode is what bounds CLIP scoring on a GPU: clip-retrieval reaches ~2,500 img/s per A100 for this reason). An image that cannot be used is rejected
 * (stage {@code image}) with the decoder's short reason and its detail; it never reaches the model.
 */
public final class ImageBatch {
  /** One pool per JVM, as many threads as the executor has cores (the CPU engine waits while images decode). */
  private static volatile ForkJoinPool pool;

  /** Per row: the preprocessed image [3][size][size] (null: not wanted, or rejected), its decoded width and height. */
  public final float[][] pixels;
  public final int[] width, height;
  private final String[] reason, detail;

  private ImageBatch(int n) {
    pixels = new float[n][];
    width = new int[n];
    height = new int[n];
    reason = new String[n];
    detail = new String[n];
  }

  /** Decodes and preprocesses the rows where {@code wanted[i]}; others stay null. */
  public static ImageBatch of(VarBinaryVector images, boolean[] wanted, ImageDecoder decoder, ClipImagePreprocessor pre) {
    int n = wanted.length;
    ImageBatch b = new ImageBatch(n);
    byte[][] bytes = new byte[n][];
    for (int i = 0; i < n; i++) {
      if (wanted[i] && !images.isNull(i)) bytes[i] = images.get(i);
      else if (wanted[i]) {
        b.reason[i] = "no image";
        b.detail[i] = "the image column is null or missing for this row";
      }
    }
    Runnable work = () -> IntStream.range(0, n).parallel().forEach(i -> {
      if (bytes[i] == null) return;
      try {
        DecodedImage img = decoder.decode(bytes[i]);
        b.width[i] = img.width();
        b.height[i] = img.height();
        b.pixels[i] = pre.preprocess(img);
      } catch (ImageRejectedException e) {
        b.reason[i] = e.reason();
        b.detail[i] = e.getMessage();
      } catch (RuntimeException | OutOfMemoryError e) {
        // a decoder bug or a huge image that passed the header check: this row, not the job
        b.reason[i] = "cannot be decoded";
        b.detail[i] = e.getClass().getSimpleName() + ": " + e.getMessage();
      }
    });
    try {
      pool().submit(work).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while decoding images", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("image decoding failed: " + e.getCause(), e.getCause());
    }
    return b;
  }

  /** Sends the rows whose image failed to rejects; true for the rows that have pixels. */
  public boolean[] reject(BatchTask.RowRejects rejects) {
    boolean[] ok = new boolean[pixels.length];
    for (int i = 0; i < ok.length; i++) {
      if (pixels[i] != null) ok[i] = true;
      else if (reason[i] != null) rejects.reject(i, RejectsTable.STAGE_IMAGE, reason[i], detail[i]);
    }
    return ok;
  }

  private static ForkJoinPool pool() {
    ForkJoinPool p = pool;
    if (p == null) {
      synchronized (ImageBatch.class) {
        if (pool == null) pool = new ForkJoinPool(Math.max(1, ExecutorCores.apply(dev.sparkinfer.kernels.EngineConfig.defaults()).cpuThreadsOrAll()));
        p = pool;
      }
    }
    return p;
  }
}
