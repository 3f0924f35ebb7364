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
   * What to do with the results before they are written, once every row has run: clip-filter keeps the rows over a
   * threshold (an exact quantile of all scores, computed on the cluster) and draws the score histogram; clip-score
   * draws the histogram. The default writes every output row.
   *
   * @param outputs the rows that were not rejected (kept in memory and on disk: several passes are fine)
   * @param output  the output folder (for pictures beside the data)
   */
  default Finish finish(org.apache.spark.sql.SparkSession spark, org.apache.spark.api.java.JavaRDD<dev.sparkinfer.jobs.run.ResultRecord> outputs,
      long written, org.apache.hadoop.fs.Path output) {
    return Finish.ALL;
  }

  /**
   * @param keep    the output rows to write; null: all
   * @param dropped output rows left out on purpose (filtered, not rejected): input = written + dropped + rejected
   * @param summary what the job adds to {@code _SUMMARY.json} (threshold, counts, picture)
   * @param files   writes the job's own files beside the output (pictures, label lists) once the output is written
   *                (the writers need a folder that does not exist yet); null: none
   */
  record Finish(org.apache.spark.api.java.function.Function<dev.sparkinfer.jobs.run.ResultRecord, Boolean> keep, long dropped,
      java.util.Map<String, Object> summary, Runnable files) {
    public static final Finish ALL = new Finish(null, 0, java.util.Map.of(), null);
  }
}
