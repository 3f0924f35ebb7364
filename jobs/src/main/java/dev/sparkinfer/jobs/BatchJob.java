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
import org.apache.spark.util.CollectionAccumulator;
import dev.sparkinfer.jobs.write.OutputFormat;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.jobs.write.RunManifest;
import dev.sparkinfer.jobs.write.ShardManifest;
import dev.sparkinfer.jobs.write.ShardWriter;
import java.io.Serializable;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * Runs a job on a live SparkSession: checks (model, input, columns, output) before any Spark job, then
 * <ol>
 *   <li>read the corpus and spread it over its shards (a stable function of the row: its length band, or a hash of its
 *       id; one partition per shard, sorted longest first inside it, {@link #spread}); count it (the total for
 *       progress; the shuffle it writes is reused by the next step),</li>
 *   <li>run each shard's rows through the partition runner (Arrow batches through the task) and write and commit the
 *       shard from its own task ({@link ShardWriter}: data and rejects together, then its manifest), with progress
 *       on the driver,</li>
 *   <li>sum the shards' manifests into {@code _SUMMARY.json}.</li>
 * </ol>
 * A shard is committed once, whatever retries, lost executors or reruns happen; {@code --resume} reruns a job into
 * the output of an interrupted run and computes only the shards it did not commit. A job whose rows to write depend
 * on every result ({@link JobSpec#needsAllResults}) keeps its results until all have run and then writes its shards.
 */
public final class BatchJob {
  private static final Logger LOG = LoggerFactory.getLogger(BatchJob.class);

  private BatchJob() {}

  public static final String REJECTS_DIR = ShardWriter.REJECTS_DIR;

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
    boolean resume = cfg.overwrite() == JobConfig.Overwrite.RESUME && outputFolder.holdsRun();
    if (resume && spec.needsAllResults()) {
      throw new UsageException(spec.name() + " with these options writes nothing until every row has run, so an interrupted run "
          + "left nothing to resume: run it again with --overwrite");
    }
    int defaultShards = cfg.partitions() > 0 ? cfg.partitions() : Math.max(2, sc.defaultParallelism() * JobConfig.PARTITIONS_PER_CORE);
    RunManifest run = RunManifest.of(spec, cfg, modelName, corpus.files(), defaultShards, hadoop);
    if (resume) run = RunManifest.read(output, hadoop).checkResumable(run, cfg);
    long counted = -1; // rows the band sampling counted on its pass over the input (a fresh text job), else -1
    if (!resume && spec.tasks().hasSortLength()) {
      Bands bands = lengthBands(corpus.records(), spec.tasks(), run.shards());
      run = run.withLengthBands(bands.bounds());
      counted = bands.rows();
    }
    int shards = run.shards();
    String device = sc.isLocal() ? spec.warmUp() : null;
    PartitionRunner runner = new PartitionRunner(spec.tasks(), cfg.batchSize(), cfg.windowRows(), null, null);
    StructType outputSchema = CarriedColumns.append(spec.outputSparkSchema(), corpus.carried());
    if (!resume) {
      outputFolder.clearOldOutput(); // passed every check: absent, empty, or an output --overwrite may replace
      run.write(output, hadoop);
    }
    Map<Integer, ShardManifest> before = resume ? ShardManifest.readAll(output, hadoop) : Map.of();
    Set<Integer> committed = new HashSet<>(before.keySet());
    if (resume) {
      LOG.info(String.format("%s: resuming %s: %d of %d shards committed by the earlier run; computing the other %d", spec.name(),
          output, committed.size(), shards, shards - committed.size()));
    }
    Arrow arrow = new Arrow(cfg.format() == OutputFormat.ARROW && sc.isLocal() ? spec.outputArrowSchema() : null, corpus.carried());
    ShardWriter writer = ShardWriter.create(spark, output, cfg.format(), outputSchema, arrow.schema(), spec, spec.keep(), corpus.carried());

    LongAccumulator rowsDone = sc.longAccumulator("sparkinfer." + spec.name() + ".rows");
    CollectionAccumulator<String> taskInfo = sc.collectionAccumulator("sparkinfer." + spec.name() + ".taskInfo");

    // 1. read, spread over the shards not committed yet, count (a fresh text job counted while it sampled: no second pass)
    sc.setJobDescription(spec.name() + ": read and count " + cfg.input());
    JavaRDD<InputRecord> input = spread(corpus.records(), spec.tasks(), shards, run.lengthBands(), committed);
    long total = counted >= 0 ? counted : input.count();
    long t1 = System.nanoTime();
    LOG.info(String.format("%s: %,d rows to run from %d %s file(s), %d shards, batch size %d", spec.name(), total,
        corpus.files().size(), corpus.format().name().toLowerCase(), shards, cfg.batchSize()));

    // 2. run the tasks; each shard's task writes and commits it (or, for a job that needs all results, keeps them first)
    // image jobs: paths become bytes here, after the spread (only paths were shuffled)
    JavaRDD<InputRecord> ready = cfg.images() == null ? input : input.mapPartitions(new ImageFetcher(hadoop, cfg.images().maxImageBytes()), true);
    PartitionRunner reporting = runner.reporting(rowsDone, taskInfo);
    Map<String, Object> selected = Map.of();
    long t2;
    ProgressListener progress = new ProgressListener(rowsDone.id());
    sc.addSparkListener(progress);
    JavaRDD<ResultRecord> kept = null;
    try (ProgressDisplay display = new ProgressDisplay(spec.name(), total, progress::rowsDone, cfg.progressMillis(), cfg.logMillis())) {
      sc.setJobDescription(spec.name() + ": run tasks and commit shards");
      if (!spec.needsAllResults()) {
        ready.mapPartitionsWithIndex((shard, rows) -> {
          PartitionRunner.Run results = reporting.call(rows);
          return List.of(writer.write(shard, results, results::taskInfo).shard()).iterator(); // the manifest is read from storage
        }, true).collect();
      } else {
        kept = ready.mapPartitions(reporting, true).persist(StorageLevel.MEMORY_AND_DISK());
        JavaRDD<ResultRecord> outputs = kept.filter(r -> !r.isReject());
        long count = outputs.count();
        sc.setJobDescription(spec.name() + ": select");
        JobSpec.Selection selection = spec.select(spark, outputs, count);
        selected = selection.summary();
        for (String info : taskInfo.value()) if (arrow.schema() == null) arrow = arrow.with(schema(TaskInfo.decode(info).arrowSchemaJson()));
        ShardWriter selecting = writer.keeping(selection.keep(), arrow.schema());
        sc.setJobDescription(spec.name() + ": write " + cfg.output());
        kept.mapPartitionsWithIndex((shard, rows) -> List.of(selecting.write(shard, rows, () -> null).shard()).iterator(), true).collect();
      }
      display.finish(total);
    } finally {
      sc.removeSparkListener(progress);
      if (kept != null) kept.unpersist(false);
      sc.setJobDescription(null);
    }
    t2 = System.nanoTime();

    // 3. every shard committed: the summary is the sum of their manifests
    Map<Integer, ShardManifest> all = ShardManifest.readAll(output, hadoop);
    if (all.size() != shards) {
      throw new IllegalStateException(all.size() + " of " + shards + " shards are committed in " + ShardManifest.dir(output)
          + " after every task succeeded: was the output changed while the job ran?");
    }
    PartitionStats stats = new PartitionStats();
    long dropped = 0;
    Set<String> devices = new LinkedHashSet<>();
    for (ShardManifest m : all.values()) {
      stats.merge(m.stats());
      dropped += m.dropped();
      if (m.model() != null) modelName = m.model();
      if (m.device() != null) devices.add(m.device());
      if (m.arrowSchema() != null && arrow.schema() == null) arrow = arrow.with(schema(m.arrowSchema()));
    }
    for (String info : taskInfo.value()) { // a job that kept all results before writing: its tasks told the accumulator
      devices.add(TaskInfo.decode(info).device());
      modelName = TaskInfo.decode(info).modelName();
    }
    if (!devices.isEmpty()) device = String.join(", ", devices);
    writer.writeEmptyIfNone(hadoop, false, arrow.schema() == null ? null : arrow.schema().toJson());
    writer.writeEmptyIfNone(hadoop, true, null);
    long[] tally = ShardManifest.sumTallies(ShardManifest.tallies(all.values()), spec.tallySize());
    JobSpec.Finish finish = spec.finish(spark, tally, stats.written, dropped, selected, output);
    if (finish.files() != null) finish.files().run();
    ShardWriter.removeTemporary(output, hadoop);
    long t3 = System.nanoTime();

    long inputRows = stats.written + dropped + stats.rejected;
    JobSummary summary = new JobSummary(spec.name(), cfg.input(), corpus.format().name().toLowerCase(), corpus.files().size(),
        corpus.skipped(), cfg.output(), cfg.format().name().toLowerCase(), inputRows, stats.written, dropped, stats.rejected,
        new TreeMap<>(stats.rejectedByStage), new TreeMap<>(stats.rejectedByReason), (t3 - t0) / 1e9, (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9,
        modelName, device == null ? "unknown" : device, sc.master(), sc.version(), shards, cfg.batchSize(),
        started.toString(), Instant.now().toString(), finish.summary(), new JobSummary.Shards(shards, shards - committed.size(), committed.size()));
    summary.writeTo(output, hadoop);
    long ranNow = 0;
    for (ShardManifest m : all.values()) if (!committed.contains(m.shard())) ranNow += m.inputRows();
    if (ranNow != total) {
      // cannot happen unless a task loses rows: say so loudly rather than pass it off as success
      throw new IllegalStateException("counts do not reconcile: " + total + " rows were run, but the shards committed now hold "
          + ranNow + " (written + dropped + rejected); see " + new Path(output, JobSummary.FILE));
    }
    LOG.info(summary.oneLine());
    return summary;
  }

  private static Schema schema(String json) {
    try {
      return Schema.fromJSON(json);
    } catch (java.io.IOException e) {
      throw new IllegalStateException("task output schema unreadable: " + e.getMessage(), e);
    }
  }

  /** The output's Arrow schema (with the carried columns), once known: from the driver's model or a shard's manifest. */
  private record Arrow(Schema schema, StructType carried) {
    Arrow {
      if (schema != null) schema = CarriedColumns.append(schema, carried);
    }

    Arrow with(Schema taskSchema) { return new Arrow(taskSchema, carried); }
  }

  /**
   * Spreads the corpus over {@code shards} partitions, partition i holding shard i, leaving out the shards already
   * committed. A row's shard is a stable function of the row: with a cost proxy ({@link BatchTaskFactory#sortLength}),
   * the band its {@link #lengthKey} falls in under {@code bands} (chosen from a sample at the first run and kept in the
   * run's manifest; shard 0 holds the longest rows), so each shard holds rows of similar length, its batches pad little
   * and the long shards start first; without one (images), {@link ShardWriter#shardOf} of the id. Inside a shard
   * rows are sorted longest first. One shuffle.
   */
  static JavaRDD<InputRecord> spread(JavaRDD<InputRecord> records, BatchTaskFactory tasks, int shards, long[] bands, Set<Integer> committed) {
    boolean sort = tasks.hasSortLength();
    if (sort && (bands == null || bands.length != shards - 1)) throw new IllegalStateException("no length bands for " + shards + " shards");
    JavaPairRDD<ShardKey, InputRecord> keyed = records.mapToPair(r -> {
      if (!sort) return new Tuple2<>(new ShardKey(ShardWriter.shardOf(r.id(), shards), 0), r);
      long key = lengthKey(tasks, r);
      return new Tuple2<>(new ShardKey(band(key, bands), key), r);
    });
    if (!committed.isEmpty()) keyed = keyed.filter(t -> !committed.contains(t._1().shard));
    Partitioner byShard = new ShardPartitioner(shards);
    return (sort ? keyed.repartitionAndSortWithinPartitions(byShard, new LongestFirst()) : keyed.partitionBy(byShard)).values();
  }

  /** The shard of a length key under ascending bounds: shard 0 above the last bound (the longest rows). */
  static int band(long key, long[] bounds) {
    int i = java.util.Arrays.binarySearch(bounds, key);
    int below = i >= 0 ? i + 1 : -i - 1; // bounds <= key
    return bounds.length - below;
  }

  /**
   * Bounds that cut the rows' length keys into {@code shards} bands of about equal row counts: one pass over the input,
   * each partition sampling up to a fixed number of keys (a reservoir with a seed of its index), weighted by its row
   * count on the driver (as Spark's range partitioner does).
   */
  /** Band bounds ({@link #lengthBands}) and the rows counted on the pass that sampled them. */
  record Bands(long[] bounds, long rows) {}

  static Bands lengthBands(JavaRDD<InputRecord> records, BatchTaskFactory tasks, int shards) {
    int perPartition = Math.max(20, 60 * shards / Math.max(1, records.getNumPartitions()));
    List<Tuple2<Long, long[]>> samples = records.mapPartitionsWithIndex((index, it) -> {
      java.util.Random rnd = new java.util.Random(index);
      long[] sample = new long[perPartition];
      long n = 0;
      while (it.hasNext()) {
        long key = lengthKey(tasks, it.next());
        if (n < perPartition) sample[(int) n] = key;
        else {
          long j = (long) (rnd.nextDouble() * (n + 1));
          if (j < perPartition) sample[(int) j] = key;
        }
        n++;
      }
      return List.of(new Tuple2<>(n, java.util.Arrays.copyOf(sample, (int) Math.min(n, perPartition)))).iterator();
    }, false).collect();
    int sampled = 0;
    double total = 0;
    for (Tuple2<Long, long[]> s : samples) sampled += s._2().length;
    long[] keys = new long[sampled];
    double[] weights = new double[sampled]; // each sampled key stands for count / sample size rows of its partition
    int at = 0;
    for (Tuple2<Long, long[]> s : samples) {
      for (long k : s._2()) {
        keys[at] = k;
        weights[at++] = (double) s._1() / s._2().length;
      }
      total += s._1();
    }
    Integer[] order = new Integer[sampled];
    for (int i = 0; i < sampled; i++) order[i] = i;
    java.util.Arrays.sort(order, Comparator.comparingLong(i -> keys[i]));
    long[] bounds = new long[shards - 1];
    double step = total / shards, cumulative = 0;
    int b = 0;
    long last = Long.MIN_VALUE;
    for (int k = 0; k < order.length && b < bounds.length; k++) {
      cumulative += weights[order[k]];
      if (cumulative >= step * (b + 1) && keys[order[k]] > last) {
        bounds[b++] = keys[order[k]];
        last = keys[order[k]];
      }
    }
    for (; b < bounds.length; b++) bounds[b] = last == Long.MAX_VALUE ? last : ++last; // few rows: empty bands at the top
    long rows = 0;
    for (Tuple2<Long, long[]> s : samples) rows += s._1();
    return new Bands(bounds, rows);
  }

  /** Cost proxy in the high 32 bits, a hash of the id in the low ones; rows rejected while reading cost 0. */
  static long lengthKey(BatchTaskFactory tasks, InputRecord r) {
    long length = r.isRejected() ? 0 : Math.max(0, tasks.sortLength(r.values));
    return (length << 32) | (r.id().hashCode() & 0xffffffffL);
  }

  /** A row's shard and sort key (a plain class: Spark's Kryo cannot make records). */
  static final class ShardKey implements Serializable {
    private static final long serialVersionUID = 1L;
    int shard;
    long length;

    ShardKey() {}

    ShardKey(int shard, long length) {
      this.shard = shard;
      this.length = length;
    }
  }

  /** Partition i is shard i. */
  static final class ShardPartitioner extends Partitioner {
    private final int shards;

    ShardPartitioner(int shards) { this.shards = shards; }

    @Override
    public int numPartitions() { return shards; }

    @Override
    public int getPartition(Object key) { return ((ShardKey) key).shard; }

    @Override
    public boolean equals(Object o) { return o instanceof ShardPartitioner p && p.shards == shards; }

    @Override
    public int hashCode() { return shards; }
  }

  /** Longest first (the key's length, descending). */
  static final class LongestFirst implements Comparator<ShardKey>, Serializable {
    @Override
    public int compare(ShardKey a, ShardKey b) { return Long.compare(b.length, a.length); }
  }
}
