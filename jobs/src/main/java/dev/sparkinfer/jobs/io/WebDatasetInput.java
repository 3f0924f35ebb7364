package dev.sparkinfer.jobs.io;

import static dev.sparkinfer.schemas.RejectsTable.STAGE_READ;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.UsageException;
import dev.sparkinfer.jobs.run.InputRecord;
import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * WebDataset tar shards (img2dataset's {@code --output_format webdataset}) as image-job records: one task per shard,
 * read as a stream ({@link WebDatasetShard}); the id is the sample's key, the caption its {@code KEY.txt} (else the
 * json's {@code caption}), the image its bytes, the carried columns ({@code --keep-cols}) fields of its
 * {@code KEY.json} (as strings). A sample with a problem (no image, a truncated shard, ...) is a reject (stage
 * {@code read}), never a failed job.
 */
final class WebDatasetInput {
  private WebDatasetInput() {}

  static JavaRDD<InputRecord> records(SparkSession spark, List<String> files, JobConfig cfg) {
    ImageInput images = cfg.images();
    SerializableConfiguration conf = new SerializableConfiguration(spark.sparkContext().hadoopConfiguration());
    checkFirstSample(files.get(0), images, conf);
    List<String> keep = images.keepCols();
    long maxBytes = images.maxImageBytes();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    return jsc.parallelize(files, Math.max(1, files.size())).flatMap(file -> {
      Path path = new Path(file);
      String shown = path.toUri().getPath();
      WebDatasetShard shard;
      try {
        shard = WebDatasetShard.open(path, conf.get(), maxBytes);
      } catch (IOException e) {
        return List.of(InputRecord.rejected(shown + ":0", STAGE_READ, "damaged file", shown + " cannot be opened: " + e)).iterator();
      }
      TaskContext ctx = TaskContext.get();
      if (ctx != null) ctx.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) c -> closeQuietly(shard));
      return new Iterator<InputRecord>() {
        @Override
        public boolean hasNext() {
          boolean more = shard.hasNext();
          if (!more) closeQuietly(shard);
          return more;
        }

        @Override
        public InputRecord next() {
          if (!hasNext()) throw new NoSuchElementException();
          return record(shard.next(), shown, keep);
        }
      };
    });
  }

  static InputRecord record(WebDatasetShard.Sample s, String shard, List<String> keep) {
    String id = s.key() == null || s.key().isBlank() ? shard + ":?" : s.key();
    if (s.problem() != null) {
      int colon = s.problem().indexOf(':');
      String reason = colon > 0 ? s.problem().substring(0, colon) : s.problem();
      return InputRecord.rejected(id, STAGE_READ, reason, "sample '" + id + "' of " + shard + ": " + s.problem());
    }
    InputRecord badId = IdRule.check(s.key(), id, "sample of " + shard);
    if (badId != null) return badId;
    Object[] v = new Object[3 + keep.size()];
    v[0] = s.key();
    v[1] = s.caption();
    v[2] = s.image();
    for (int k = 0; k < keep.size(); k++) v[3 + k] = s.json().get(keep.get(k));
    return InputRecord.row(v);
  }

  /** Before the job: the first shard opens, and its first sample has the carried columns in its json. */
  private static void checkFirstSample(String file, ImageInput images, SerializableConfiguration conf) {
    try (WebDatasetShard shard = WebDatasetShard.open(new Path(file), conf.get())) {
      if (!shard.hasNext()) return; // an empty shard holds no rows
      WebDatasetShard.Sample s = shard.next();
      if (s.problem() != null) return; // the job rejects it with its reason
      for (String k : images.keepCols()) {
        if (!s.json().containsKey(k)) {
          throw new UsageException("--keep-cols '" + k + "': the first sample of " + file + " has no such field in its .json (fields: "
              + s.json().keySet() + ")");
        }
      }
    } catch (IOException e) {
      throw new UsageException("cannot read WebDataset shard " + file + ": " + e.getMessage(), e);
    }
  }

  private static void closeQuietly(WebDatasetShard s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing a read stream: nothing is lost
    }
  }
}
