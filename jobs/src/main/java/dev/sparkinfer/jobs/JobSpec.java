package dev.sparkinfer.jobs;

import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.BatchTaskFactory;
import java.io.Serializable;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.types.StructType;

/**
 * What makes one job different from another; everything else (reading, the partition runner, rejects, writing,
 * progress, summary) is {@link BatchJob}'s. A new job is a task in {@code udf/}, a spec here and a command in
 * {@code jobs.cli}.
 */
public interface JobSpec extends Serializable {
  /** Makes a job's spec from the run's configuration (model, device and task tunables all come from there). */
  @FunctionalInterface
  interface Factory {
    JobSpec create(JobConfig cfg);
  }

  /** Short name, used in logs, progress and the summary: {@code embed}. */
  String name();

  /** Makes the task on executors. */
  BatchTaskFactory tasks();

  /** The output table (from {@code schemas/}); its field order is the task's output schema order. */
  StructType outputSparkSchema();

  /**
   * The output table's Arrow schema, for an Arrow output no row of which reached a task (then no executor reported
   * it). Makes a task on the driver: call it only where the model is already loaded there (local masters).
   */
  default Schema outputArrowSchema() {
    try (BatchTask t = tasks().create()) {
      return t.outputSchema();
    }
  }

  /**
   * Checks the model on the driver without loading it; returns its short name.
   *
   * @throws UsageException saying what is wrong with the model and what to do
   */
  String checkModel();

  /**
   * Loads the model into this JVM's cache (used with local masters, where the driver is the executor, so that a
   * model that cannot load fails before the job and its load time is not counted as job time).
   *
   * @return the device description
   * @throws UsageException when the model cannot be loaded on the device
   */
  String warmUp();

  /**
   * Output rows to write, decided row by row as each shard is written (clip-filter {@code --min-cosine}); the others
   * are counted as dropped (input = written + dropped + rejected). Null: every output row is written.
   */
  default org.apache.spark.api.java.function.Function<dev.sparkinfer.jobs.run.ResultRecord, Boolean> keep() {
    return null;
  }

  /**
   * True when the rows to write depend on every result (clip-filter {@code --keep-top-fraction}: a quantile of all
   * scores): the results are then kept (memory, spilling to disk) until every row has run, {@link #select} decides,
   * and only then are the shards written and committed. Such a job cannot {@code --resume}.
   */
  default boolean needsAllResults() {
    return false;
  }

  /**
   * For a job that {@link #needsAllResults}: which output rows to write, decided from all of them.
   *
   * @param outputs the rows that were not rejected (kept: several passes are fine)
   * @param count   how many there are
   */
  default Selection select(org.apache.spark.sql.SparkSession spark, org.apache.spark.api.java.JavaRDD<dev.sparkinfer.jobs.run.ResultRecord> outputs,
      long count) {
    throw new UnsupportedOperationException(name() + " selects no rows");
  }

  /** The rows to write ({@code keep}) and what the choice adds to the job's summary (threshold, rule). */
  record Selection(org.apache.spark.api.java.function.Function<dev.sparkinfer.jobs.run.ResultRecord, Boolean> keep,
      java.util.Map<String, Object> summary) implements Serializable {}

  /** How many counts the job keeps per shard ({@link #tally}); 0: none. */
  default int tallySize() {
    return 0;
  }

  /**
   * Adds an output row (before {@link #keep}) to the shard's counts: histogram bins, label wins. Counted in the task
   * that writes the shard, stored in its manifest and summed over every shard for {@link #finish}, so a resumed job
   * has the counts of the shards an earlier run committed without running them again.
   */
  default void tally(dev.sparkinfer.jobs.run.ResultRecord row, long[] counts) {}

  /**
   * Once every shard is committed: what the job adds to {@code _SUMMARY.json} and the files it writes beside the
   * output (the score histogram picture, the label list).
   *
   * @param tally   the shards' counts, summed ({@link #tallySize} of them)
   * @param written output rows written
   * @param dropped output rows left out by {@link #keep} or {@link #select}
   * @param selected what {@link #select} said (empty for a job that selects nothing)
   * @param output  the output folder
   */
  default Finish finish(org.apache.spark.sql.SparkSession spark, long[] tally, long written, long dropped,
      java.util.Map<String, Object> selected, org.apache.hadoop.fs.Path output) {
    return Finish.NONE;
  }

  /**
   * @param summary what the job adds to {@code _SUMMARY.json} (threshold, counts, picture)
   * @param files   writes the job's own files beside the output (pictures, label lists); null: none
   */
  record Finish(java.util.Map<String, Object> summary, Runnable files) {
    public static final Finish NONE = new Finish(java.util.Map.of(), null);
  }
}
