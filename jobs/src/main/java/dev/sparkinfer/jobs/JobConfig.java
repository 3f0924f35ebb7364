package dev.sparkinfer.jobs;

import dev.sparkinfer.jobs.io.ImageInput;
import dev.sparkinfer.jobs.io.InputFormat;
import dev.sparkinfer.jobs.write.OutputFormat;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.TaskConfig;
import java.io.Serializable;

/**
 * Everything a job run is told, with the defaults in one place (the CLI's flags show these same constants).
 *
 * @param input             path or glob, any Hadoop FileSystem URI (file://, hdfs://, s3a://)
 * @param output            output folder; {@code _rejects/} and {@code _SUMMARY.json} go inside it
 * @param model             "default" or a model folder (or a spec a registered provider owns)
 * @param format            output format
 * @param inputFormat       input format, or AUTO to tell it from the file names
 * @param device            where kernels run
 * @param master            Spark master; null keeps the session's (spark-submit) or {@link #DEFAULT_MASTER}
 * @param batchSize         rows per Arrow batch handed to the task
 * @param idCol             id column of the corpus
 * @param textCol           text column of the corpus
 * @param overwrite         what may be done to an existing, non-empty output folder ({@link Overwrite})
 * @param partitions        partitions the corpus is spread over; 0 = {@link #PARTITIONS_PER_CORE} per core
 * @param sortWindowBatches rows are sorted by length within windows of this many batches (bounds task memory)
 * @param progressMillis    how often the progress line is redrawn in a terminal
 * @param logMillis         how often a progress line is logged when not in a terminal
 * @param task              tunables of the batch task itself
 * @param images            for the image jobs (CLIP): the image column, image root and carried columns; null for text jobs
 */
public record JobConfig(
    String input, String output, String model, OutputFormat format, InputFormat inputFormat, DeviceChoice device,
    String master, int batchSize, String idCol, String textCol, Overwrite overwrite, int partitions,
    int sortWindowBatches, long progressMillis, long logMillis, TaskConfig task, ImageInput images) implements Serializable {

  public static final String DEFAULT_MODEL = "default";
  public static final String DEFAULT_MASTER = "local[*]";
  public static final int DEFAULT_BATCH_SIZE = 32;
  public static final String DEFAULT_ID_COL = "id";
  public static final String DEFAULT_TEXT_COL = "text";
  public static final int PARTITIONS_PER_CORE = 3;
  public static final int DEFAULT_SORT_WINDOW_BATCHES = 16;
  public static final long DEFAULT_PROGRESS_MILLIS = 500;
  public static final long DEFAULT_LOG_MILLIS = 10_000;

  /** What {@code --overwrite} may delete. */
  public enum Overwrite {
    /** An existing non-empty output is refused. */
    NO,
    /** {@code --overwrite}: an earlier output of ours (only {@code _SUMMARY.json}, {@code _SUCCESS}, part files, {@code _rejects/}) is replaced. */
    OURS,
    /** {@code --overwrite-any}: the output folder is deleted whatever it holds. */
    ANY,
    /**
     * {@code --resume}: an output an interrupted run of the same job left is continued (only the shards it did not
     * commit are computed); an absent or empty output starts a clean run.
     */
    RESUME
  }

  /** The largest --batch-size: a sort window ({@link #DEFAULT_SORT_WINDOW_BATCHES} batches) must stay a Java array. */
  public static final int MAX_BATCH_SIZE = 1 << 20;

  /**
   * Every argument is checked here, once, before anything is read, deleted or started; a message names the flag.
   * Arithmetic on them is overflow-checked ({@link #windowRows()}).
   */
  public JobConfig {
    if (input == null || input.isBlank()) throw new IllegalArgumentException("--input must name a file, folder or glob");
    if (output == null || output.isBlank()) throw new IllegalArgumentException("--output must name a folder");
    if (batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
      throw new IllegalArgumentException("--batch-size must be between 1 and " + MAX_BATCH_SIZE + ", got " + batchSize);
    }
    if (partitions < 0) throw new IllegalArgumentException("--partitions must be 0 (auto) or more, got " + partitions);
    if (sortWindowBatches < 1) throw new IllegalArgumentException("sortWindowBatches must be at least 1, got " + sortWindowBatches);
    if (idCol == null || idCol.isBlank()) throw new IllegalArgumentException("--id-col must name a column");
    if (textCol == null || textCol.isBlank()) throw new IllegalArgumentException("--text-col must name a column");
    if (images != null) images.check(idCol, textCol);
    if (idCol.equals(textCol)) throw new IllegalArgumentException("--id-col and --text-col are both '" + idCol + "': name two columns");
    if (master != null && !master.isBlank() && !isMasterUrl(master)) {
      throw new IllegalArgumentException("--master '" + master + "' is not a Spark master URL: use local, local[N], local[*], "
          + "spark://HOST:PORT, yarn or k8s://https://HOST:PORT");
    }
    if (progressMillis < 1 || logMillis < 1) throw new IllegalArgumentException("progress intervals must be positive");
    if (model == null || model.isBlank()) model = DEFAULT_MODEL;
    if (format == null) format = OutputFormat.PARQUET;
    if (inputFormat == null) inputFormat = InputFormat.AUTO;
    if (device == null) device = DeviceChoice.AUTO;
    if (overwrite == null) overwrite = Overwrite.NO;
    if (task == null) task = TaskConfig.defaults();
    try {
      Math.multiplyExact(batchSize, sortWindowBatches);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("--batch-size " + batchSize + " is too large: a sort window of " + sortWindowBatches
          + " batches would hold more than " + Integer.MAX_VALUE + " rows", e);
    }
  }

  /** Rows the partition runner reads (and sorts by length) at a time: batchSize x sortWindowBatches, checked not to overflow. */
  public int windowRows() { return Math.multiplyExact(batchSize, sortWindowBatches); }

  /** Spark's master URL forms (see SparkContext.createTaskScheduler); anything else would fail only once Spark starts. */
  static boolean isMasterUrl(String m) {
    return m.matches("local(\\[(\\*|[1-9][0-9]*)(,\\s*[0-9]+)?\\])?")
        || m.matches("local-cluster\\[\\s*[0-9]+\\s*,\\s*[0-9]+\\s*,\\s*[0-9]+\\s*\\]")
        || m.matches("spark://[^/\\s]+(,[^/\\s]+)*") || m.equals("yarn") || m.matches("k8s://\\S+");
  }

  /** Defaults for everything but the paths. */
  public static JobConfig of(String input, String output) {
    return new JobConfig(input, output, DEFAULT_MODEL, OutputFormat.PARQUET, InputFormat.AUTO, DeviceChoice.AUTO, null,
        DEFAULT_BATCH_SIZE, DEFAULT_ID_COL, DEFAULT_TEXT_COL, Overwrite.NO, 0, DEFAULT_SORT_WINDOW_BATCHES,
        DEFAULT_PROGRESS_MILLIS, DEFAULT_LOG_MILLIS, TaskConfig.defaults(), null);
  }

  public JobConfig withModel(String m) { return new JobConfig(input, output, m, format, inputFormat, device, master, batchSize, idCol, textCol, overwrite, partitions, sortWindowBatches, progressMillis, logMillis, task, images); }
  public JobConfig withFormat(OutputFormat f) { return new JobConfig(input, output, model, f, inputFormat, device, master, batchSize, idCol, textCol, overwrite, partitions, sortWindowBatches, progressMillis, logMillis, task, images); }
  public JobConfig withInputFormat(InputFormat f) { return new JobConfig(input, output, model, format, f, device, master, batchSize, idCol, textCol, overwrite, partitions, sortWindowBatches, progressMillis, logMillis, task, images); }
  public JobConfig withDevice(DeviceChoice d) { return new JobConfig(input, output, model, format, inputFormat, d, master, batchSize, idCol, textCol, overwrite, partitions, sortWindowBatches, progressMillis, logMillis, task, images); }
  public JobConfig withMaster(String m) { return new JobConfig(input, output, model, format, inputFormat, device, m, batchSize, idCol, textCol, overwrite, partitions, sortWindowBatches, progressMillis, logMillis, task, images); }
  public JobConfig withBatchSize(int b) { return new JobConfig(input, output, model, format, inputFormat, device, master, b, idCol, textCol, overwrite, partitions, sortWindowBatches, progressMillis, logMillis, task, images); }
  public JobConfig withColumns(String id, String text) { return new JobConfig(input, output, model, format, inputFormat, device, master, batchSize, id, text, overwrite, partitions, sortWindowBatches, progressMillis, logMillis, task, images); }
  public JobConfig withOverwrite(boolean o) { return withOverwrite(o ? Overwrite.OURS : Overwrite.NO); }
  public JobConfig withOverwrite(Overwrite o) { return new JobConfig(input, output, model, format, inputFormat, device, master, batchSize, idCol, textCol, o, partitions, sortWindowBatches, progressMillis, logMillis, task, images); }
  public JobConfig withPartitions(int p) { return new JobConfig(input, output, model, format, inputFormat, device, master, batchSize, idCol, textCol, overwrite, p, sortWindowBatches, progressMillis, logMillis, task, images); }
  public JobConfig withTask(TaskConfig t) { return new JobConfig(input, output, model, format, inputFormat, device, master, batchSize, idCol, textCol, overwrite, partitions, sortWindowBatches, progressMillis, logMillis, t, images); }
  public JobConfig withImages(ImageInput i) { return new JobConfig(input, output, model, format, inputFormat, device, master, batchSize, idCol, textCol, overwrite, partitions, sortWindowBatches, progressMillis, logMillis, task, i); }
  public JobConfig withPaths(String in, String out) { return new JobConfig(in, out, model, format, inputFormat, device, master, batchSize, idCol, textCol, overwrite, partitions, sortWindowBatches, progressMillis, logMillis, task, images); }
}
