package dev.sparkinfer.jobs.io;

import static dev.sparkinfer.schemas.RejectsTable.STAGE_IMAGE;

import dev.sparkinfer.jobs.run.InputRecord;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.function.FlatMapFunction;

/**
 * Where an image path becomes bytes: on the executor, right before the task, through the Hadoop FileSystem API (so
 * {@code file://}, {@code hdfs://} and {@code s3a://} all work). Rows whose image is already bytes (a Parquet binary
 * column, WebDataset) pass unchanged. A missing, unreadable or oversized file is a reject (stage {@code image}), not
 * a failed job. Runs after the corpus was spread over the partitions, so only paths are shuffled, never image bytes
 * read from paths.
 */
public final class ImageFetcher implements FlatMapFunction<Iterator<InputRecord>, InputRecord> {
  private static final long serialVersionUID = 1L;

  /** This many unreadable images in a row (not missing: failing to read) is a broken file system setup, not bad rows. */
  static final int MAX_CONSECUTIVE_UNREADABLE = 1_000;

  private final SerializableConfiguration conf;
  private final long maxBytes;
  private transient int unreadableInARow;

  public ImageFetcher(org.apache.hadoop.conf.Configuration conf, long maxBytes) {
    this.conf = new SerializableConfiguration(conf);
    this.maxBytes = maxBytes;
  }

  @Override
  public Iterator<InputRecord> call(Iterator<InputRecord> rows) {
    return new Iterator<>() {
      @Override
      public boolean hasNext() { return rows.hasNext(); }

      @Override
      public InputRecord next() { return fetch(rows.next()); }
    };
  }

  InputRecord fetch(InputRecord r) {
    if (r.isRejected() || !(r.values[2] instanceof String image)) return r;
    if (image.isBlank()) return InputRecord.rejected(r.id(), STAGE_IMAGE, "no image", "the image path is empty");
    Path path;
    try {
      path = new Path(image);
    } catch (IllegalArgumentException e) {
      return InputRecord.rejected(r.id(), STAGE_IMAGE, "bad image path", "'" + image + "' is not a path: " + e.getMessage());
    }
    try {
      FileSystem fs = path.getFileSystem(conf.get());
      FileStatus st = fs.getFileStatus(path);
      if (st.isDirectory()) return InputRecord.rejected(r.id(), STAGE_IMAGE, "missing image", path + " is a folder, not an image file");
      if (st.getLen() > maxBytes) {
        return InputRecord.rejected(r.id(), STAGE_IMAGE, "image file too large", path + " is " + st.getLen()
            + " bytes, over --max-image-bytes " + maxBytes);
      }
      byte[] bytes = new byte[(int) st.getLen()];
      try (InputStream in = fs.open(path)) {
        int off = 0;
        while (off < bytes.length) {
          int n = in.read(bytes, off, bytes.length - off);
          if (n < 0) break;
          off += n;
        }
        if (off < bytes.length) bytes = java.util.Arrays.copyOf(bytes, off); // shrank while read: decode what is there
      }
      Object[] v = r.values.clone();
      v[2] = bytes;
      unreadableInARow = 0;
      return InputRecord.row(v);
    } catch (FileNotFoundException e) {
      return InputRecord.rejected(r.id(), STAGE_IMAGE, "missing image", path + " does not exist");
    } catch (IOException | RuntimeException e) {
      if (++unreadableInARow >= MAX_CONSECUTIVE_UNREADABLE) {
        throw new IllegalStateException(unreadableInARow + " images in a row could not be read (last: " + path + ": " + e
            + "): this looks like the file system's settings (credentials, endpoint), not bad rows; check them", e);
      }
      return InputRecord.rejected(r.id(), STAGE_IMAGE, "unreadable image", path + ": " + e);
    }
  }
}
