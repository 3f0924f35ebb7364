package dev.sparkinfer.jobs;

import dev.sparkinfer.jobs.io.CorpusReader;
import dev.sparkinfer.jobs.io.CorpusReader.Corpus;
import dev.sparkinfer.jobs.io.ImageFetcher;
import dev.sparkinfer.jobs.write.CarriedColumns;
import org.apache.spark.sql.types.StructType;
import dev.sparkinfer.jobs.io.OutputFolder;
import dev.sparkinfer.jobs.progress.ProgressDisplay;
import dev.sparkinfer.jobs.progress.ProgressListener;
import dev.sparkinfer.jobs.run.InputRecord;
import dev.sparkinfer.jobs.run.PartitionRunner;
import dev.sparkinfer.jobs.run.PartitionStats;
import dev.sparkinfer.jobs.run.ResultRecord;
import dev.sparkinfer.jobs.run.TaskInfo;
import dev.sparkinfer.jobs.write.OutputFormat;
import dev.sparkinfer.jobs.write.OutputWriter;
import dev.sparkinfer.schemas.RejectsTable;
import dev.sparkinfer.udf.BatchTaskFactory;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeMap;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * Runs a job on a live SparkSession: checks (model, input, columns, output) before any Spark job, then
 * <ol>
 *   <li>read the corpus and spread it over the partitions by length ({@link #spread}); count it (the total for
 *       progress; the shuffle it writes is reused by the next step),</li>
 *   <li>run the partition runner (Arrow batches through the task) with progress on the driver, keeping the results
 *       (memory, spilling to disk),</li>
 *   <li>write the output and {@code _rejects/} through Spark's commit protocol, then {@code _SUMMARY.json}.</li>
 * </ol>
 */
public final class BatchJob {
  private static final Logger LOG = LoggerFactory.getLogger(BatchJob.class);

  private BatchJob() {}

  public static final String REJECTS_DIR = "_rejects";
  /** Up to this many rejects are written as one file. */
  static final long REJECTS_PER_FILE = 100_000;

  public static JobSummary run(SparkSession spark, JobConfig cfg, JobSpec.Factory job) {
    JobSpec spec = job.create(cfg);
    long t0 = System.nanoTime();
    Instant started = Instant.now();
    SparkContext sc = spark.sparkContext();
    Configuration hadoop = sc.hadoopConfiguration();

    // checks, before any Spark job and before anything is deleted: arguments (JobConfig), model, input (every
    // file's columns), output (real paths, writable, not holding the input, only an output of ours replaced)
    String modelName = spec.checkModel();
    Corpus corpus = CorpusReader.open(spark, cfg);
    OutputFolder outputFolder = OutputFolder.check(cfg, corpus.files(), hadoop);
    Path output = outputFolder.path();
    String device = sc.isLocal() ? spec.warmUp() : null;
    PartitionRunner runner = new PartitionRunner(spec.tasks(), cfg.batchSize(), cfg.windowRows(), null, null);
    StructType outputSchema = CarriedColumns.append(spec.outputSparkSchema(), corpus.carried());
    outputFolder.clearOldOutput(); // passed every check: absent, empty, or an output --overwrite may replace

    int partitions = cfg.partitions() > 0 ? cfg.partitions() : Math.max(2, sc.defaultParallelism() * JobConfig.PARTITIONS_PER_CORE);
    LongAccumulator rowsDone = sc.longAccumulator("sparkinfer." + spec.name() + ".rows");
    CollectionAccumulator<String> taskInfo = sc.collectionAccumulator("sparkinfer." + spec.name() + ".taskInfo");

    // 1. read and count
    sc.setJobDescription(spec.name() + ": read and count " + cfg.input());
    JavaRDD<InputRecord> input = spread(corpus.records(), spec.tasks(), partitions);
    long total = input.count();
    long t1 = System.nanoTime();
    LOG.info(String.format("%s: %,d rows from %d %s file(s), %d partitions, batch size %d", spec.name(), total,
        corpus.files().size(), corpus.format().name().toLowerCase(), partitions, cfg.batchSize()));

    // 2. run the tasks, results kept for the two writes
    // image jobs: paths become bytes here, after the spread (only paths were shuffled)
    JavaRDD<InputRecord> ready = cfg.images() == null ? input : input.mapPartitions(new ImageFetcher(hadoop, cfg.images().maxImageBytes()));
    JavaRDD<ResultRecord> results = ready.mapPartitions(runner.reporting(rowsDone, taskInfo)).persist(StorageLevel.MEMORY_AND_DISK());
    JobSpec.Finish finish;
    PartitionStats stats;
    long t2;
    try {
      ProgressListener progress = new ProgressListener(rowsDone.id());
      sc.addSparkListener(progress);
      try (ProgressDisplay display = new ProgressDisplay(spec.name(), total, progress::rowsDone, cfg.progressMillis(), cfg.logMillis())) {
        sc.setJobDescription(spec.name() + ": run tasks");
        stats = results.mapPartitions(PartitionStats::of).reduce(PartitionStats::merge);
        display.finish(stats.written + stats.rejected);
      } finally {
        sc.removeSparkListener(progress);
      }
      t2 = System.nanoTime();

      // 3. write output and rejects from the kept results
      Set<String> devices = new LinkedHashSet<>();
      Schema arrowSchema = null;
      for (String s : taskInfo.value()) {
        TaskInfo info = TaskInfo.decode(s);
        modelName = info.modelName();
        devices.add(info.device());
        if (arrowSchema == null) arrowSchema = Schema.fromJSON(info.arrowSchemaJson());
      }
      if (!devices.isEmpty()) device = String.join(", ", devices);
      if (arrowSchema == null && cfg.format() == OutputFormat.ARROW && sc.isLocal()) {
        arrowSchema = spec.outputArrowSchema(); // no row reached the model; it is loaded here (warmUp), so this is cheap
      }
      if (arrowSchema != null) arrowSchema = CarriedColumns.append(arrowSchema, corpus.carried());
      JavaRDD<ResultRecord> written = results.filter(r -> !r.isReject());
      sc.setJobDescription(spec.name() + ": finish");
      finish = spec.finish(spark, written, stats.written, output);
      if (finish.keep() != null) {
        written = written.filter(finish.keep());
        stats.written -= finish.dropped();
      }
      sc.setJobDescription(spec.name() + ": write " + cfg.output());
      if (stats.written == 0) written = written.coalesce(1); // no rows: one empty file (with the schema), not one per partition
      OutputWriter.write(spark, written.map(ResultRecord::outputRow), outputSchema, arrowSchema,
          output.toString(), cfg.format());
      sc.setJobDescription(spec.name() + ": write rejects");
      JavaRDD<ResultRecord> rejects = results.filter(ResultRecord::isReject);
      if (stats.rejected < REJECTS_PER_FILE) rejects = rejects.coalesce(1); // usually few: one file, not one per partition
      OutputWriter.write(spark, rejects.map(ResultRecord::rejectRow), RejectsTable.sparkSchema(),
          RejectsTable.arrowSchema(), new Path(output, REJECTS_DIR).toString(), cfg.format());
      if (finish.files() != null) finish.files().run();
    } catch (IOException e) {
      throw new IllegalStateException("task output schema unreadable: " + e.getMessage(), e);
    } finally {
      results.unpersist(false);
      sc.setJobDescription(null);
    }
    long t3 = System.nanoTime();

    JobSummary summary = new JobSummary(spec.name(), cfg.input(), corpus.format().name().toLowerCase(), corpus.files().size(),
        corpus.skipped(), cfg.output(), cfg.format().name().toLowerCase(), total, stats.written, finish.dropped(), stats.rejected,
        new TreeMap<>(stats.rejectedByStage), new TreeMap<>(stats.rejectedByReason), (t3 - t0) / 1e9, (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9,
        modelName, device == null ? "unknown" : device, sc.master(), sc.version(), partitions, cfg.batchSize(),
        started.toString(), Instant.now().toString(), finish.summary());
    summary.writeTo(output, hadoop);
    if (!summary.reconciled()) {
      // cannot happen unless a task loses rows: say so loudly rather than pass it off as success
      throw new IllegalStateException("counts do not reconcile: " + total + " rows in, " + stats.written + " written + "
          + finish.dropped() + " dropped + " + stats.rejected + " rejected; see " + new Path(output, JobSummary.FILE));
    }
    LOG.info(summary.oneLine());
    return summary;
  }

  /**
   * Spreads the corpus over {@code partitions} partitions, range-partitioned by the task's cost proxy
   * ({@link BatchTaskFactory#sortLength}), longest first. Each partition then holds rows of similar length, so its
   * batches pad about as little as a global sort by length would (a round-robin spread leaves every partition with
   * the whole length mix and pads more); the longest, slowest partitions are scheduled first, so they do not trail
   * at the end. Ties are broken by a hash of the id, so rows of one length still spread evenly. Costs one sampling
   * pass over the input (Spark's range partitioner) and the shuffle a plain repartition would make anyway. A task
   * without a cost proxy ({@link BatchTaskFactory#hasSortLength}: images) gets the plain round-robin repartition.
   */
  static JavaRDD<InputRecord> spread(JavaRDD<InputRecord> records, BatchTaskFactory tasks, int partitions) {
    if (!tasks.hasSortLength()) return records.repartition(partitions); // no order helps: round-robin, no sampling pass
    return records.mapToPair(r -> new Tuple2<>(lengthKey(tasks, r), r)).sortByKey(false, partitions).values();
  }

  /** Cost proxy in the high 32 bits, a hash of the id in the low ones; rows rejected while reading cost 0. */
  static long lengthKey(BatchTaskFactory tasks, InputRecord r) {
    long length = r.isRejected() ? 0 : Math.max(0, tasks.sortLength(r.values));
    return (length << 32) | (r.id().hashCode() & 0xffffffffL);
  }
}
