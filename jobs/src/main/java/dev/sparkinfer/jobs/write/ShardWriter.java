package dev.sparkinfer.jobs.write;

import dev.sparkinfer.jobs.JobSpec;
import dev.sparkinfer.jobs.io.SerializableConfiguration;
import dev.sparkinfer.jobs.run.PartitionStats;
import dev.sparkinfer.jobs.run.ResultRecord;
import dev.sparkinfer.jobs.run.TaskInfo;
import dev.sparkinfer.schemas.RejectsTable;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.Locale;
import java.util.function.Supplier;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.NullWritable;
import org.apache.hadoop.mapreduce.Job;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.hadoop.mapreduce.TaskAttemptID;
import org.apache.hadoop.mapreduce.TaskType;
import org.apache.hadoop.mapreduce.task.TaskAttemptContextImpl;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.CatalystTypeConverters;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.execution.datasources.OutputWriter;
import org.apache.spark.sql.execution.datasources.OutputWriterFactory;
import org.apache.spark.sql.execution.datasources.json.JsonFileFormat;
import org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat;
import org.apache.spark.sql.types.StructType;

/**
 * Writes and commits one shard of a job's output from inside its Spark task: the shard's rows go to
 * {@code <output>/part-NNNNN.<ext>} and its rejects to {@code <output>/_rejects/part-NNNNN.<ext>}, together, and the
 * shard is committed by its manifest ({@link ShardManifest}), so a crash loses at most the shards still running.
 *
 * <p>Exactly once: a shard is a stable function of the row id ({@link #shardOf}), its files have fixed names, and its
 * commit is idempotent. A task attempt writes both files into its own folder under {@code _temporary/}, then —
 * unless the shard is already committed, when it throws its files away and returns the committed manifest — renames
 * them over whatever an earlier, failed attempt may have left, and renames its manifest into {@code _manifest/} last.
 * A retried task, a task rerun after its executor died, or {@code --resume} after the driver died therefore leave one
 * data file and one rejects file per shard, whichever attempt wrote them: the rows of a shard are the same in every
 * attempt. (Spark's output-commit coordinator is not used: it fails the whole stage when an authorized attempt dies,
 * which is the executor loss this design must survive.)
 *
 * <p>Parquet and JSON lines are written by Spark's own file formats ({@link ParquetFileFormat}, {@link JsonFileFormat},
 * prepared on the driver as Spark's writer prepares them), so the files are those {@code DataFrameWriter} would write;
 * Arrow IPC by {@link ArrowIpcOutputFormat}'s record writer. A shard with no row writes no data file, a shard without
 * rejects no rejects file ({@link #writeEmptyIfNone} gives a table without rows its one schema-only file at the end).
 */
public final class ShardWriter implements Serializable {
  private static final long serialVersionUID = 1L;

  /**
   * Where a test makes the first attempt of each task fail: a local property ({@code sc.setLocalProperty(FAULT, point)})
   * or the Spark setting {@code spark.} + this name (a driver started in another JVM, a cluster).
   */
  public static final String FAULT = "sparkinfer.test.fault";
  /** Fault points: after the attempt's files are written, or after the data file is renamed into place. */
  public static final String FAULT_BEFORE_COMMIT = "before-commit", FAULT_MID_COMMIT = "mid-commit";
  /** A test's pause per shard (milliseconds), so a driver can be killed mid-job. */
  public static final String SHARD_DELAY = "sparkinfer.test.shardDelayMs";
  /** The rejects' folder inside the output. */
  public static final String REJECTS_DIR = "_rejects";

  private final String output;
  private final OutputFormat format;
  private final Table data;
  private final Table rejects;
  private final int tallySize;
  private final Tally tally;
  private final Function<ResultRecord, Boolean> keep;
  private final StructType carried;

  /** One table's writer as prepared on the driver: Spark's factory and the Hadoop configuration it set up. */
  private record Table(StructType schema, OutputWriterFactory factory, SerializableConfiguration conf, String arrowSchema)
      implements Serializable {}

  /** A job's per-shard counts ({@link JobSpec#tally}), without the rest of the job's spec. */
  @FunctionalInterface
  public interface Tally extends Serializable {
    void add(ResultRecord row, long[] counts);
  }

  private ShardWriter(String output, OutputFormat format, Table data, Table rejects, int tallySize, Tally tally,
      Function<ResultRecord, Boolean> keep, StructType carried) {
    this.tallySize = tallySize;
    this.tally = tally;
    this.carried = carried;
    this.output = output;
    this.format = format;
    this.data = data;
    this.rejects = rejects;
    this.keep = keep;
  }

  /**
   * Prepares the writers on the driver.
   *
   * @param schema      the output's Spark schema, carried columns included
   * @param arrowSchema the output's Arrow schema, carried columns included, when known on the driver (else each task's
   *                    own is used, with the carried columns appended)
   * @param keep        which output rows to write (the others are counted as dropped); null: all
   * @param carried     the carried input columns ({@code --keep-cols}) that follow the task's output columns
   */
  public static ShardWriter create(SparkSession spark, Path output, OutputFormat format, StructType schema, Schema arrowSchema,
      JobSpec spec, Function<ResultRecord, Boolean> keep, StructType carried) {
    // the spec's tally only where it has one: the spec itself need not travel (a test's spec may not serialize)
    int tallySize = spec.tallySize();
    Tally tally = tallySize == 0 ? null : spec::tally;
    return new ShardWriter(output.toString(), format, table(spark, format, schema, arrowSchema),
        table(spark, format, RejectsTable.sparkSchema(), RejectsTable.arrowSchema()), tallySize, tally, keep, carried);
  }

  /**
   * The same writer keeping other rows (clip-filter's threshold, known once every row has run), and with the output's
   * Arrow schema where the driver learnt it from the tasks (may be null).
   */
  public ShardWriter keeping(Function<ResultRecord, Boolean> keep, Schema arrowSchema) {
    Table d = arrowSchema == null || data.arrowSchema() != null ? data : new Table(data.schema(), data.factory(), data.conf(), arrowSchema.toJson());
    return new ShardWriter(output, format, d, rejects, tallySize, tally, keep, carried);
  }

  private static Table table(SparkSession spark, OutputFormat format, StructType schema, Schema arrowSchema) {
    try {
      Job job = Job.getInstance(new Configuration(spark.sparkContext().hadoopConfiguration()));
      OutputWriterFactory factory = switch (format) {
        // dictionaries of float arrays are never worth it: they are tried, filled and thrown away
        case PARQUET -> {
          job.getConfiguration().set("parquet.enable.dictionary#embedding.list.element", "false");
          yield new ParquetFileFormat().prepareWrite(spark, job, new scala.collection.immutable.Map.Map1<>(
              "parquet.enable.dictionary#embedding.list.element", "false"), schema);
        }
        case JSONL -> new JsonFileFormat().prepareWrite(spark, job, new scala.collection.immutable.Map.Map1<>("ignoreNullFields", "false"), schema);
        case ARROW -> null;
      };
      return new Table(schema, factory, new SerializableConfiguration(job.getConfiguration()), arrowSchema == null ? null : arrowSchema.toJson());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot set up the " + format.name().toLowerCase(Locale.ROOT) + " writer: " + e.getMessage(), e);
    }
  }

  /** The shard of a row: a stable function of its id (the same in every run, JVM and attempt). */
  public static int shardOf(String id, int shards) {
    int h = id == null ? 0 : id.hashCode(); // String.hashCode is specified, so stable across JVMs
    h ^= h >>> 16; // murmur3's finalizer: the low bits depend on every bit of the hash
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    h ^= h >>> 16;
    return Math.floorMod(h, shards);
  }

  /** The shard's manifest if it is committed, else null. */
  public ShardManifest committed(int shard) {
    Path file = ShardManifest.file(new Path(output), shard);
    try {
      FileSystem fs = file.getFileSystem(data.conf().get());
      return fs.exists(file) ? ShardManifest.fromJson(ShardManifest.read(fs, file)) : null;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Writes a shard's results (drained here) and commits them; returns the shard's manifest. Called in the shard's
   * task; {@code info} tells, after the last row, which model and device ran (null when no row reached a model).
   */
  public ShardManifest write(int shard, Iterator<ResultRecord> results, Supplier<TaskInfo> info) {
    ShardManifest done = committed(shard);
    if (done != null) return done; // a retry or a rerun of a committed shard: nothing more to do
    TaskContext ctx = TaskContext.get();
    long attempt = ctx == null ? 0 : ctx.taskAttemptId();
    Path out = new Path(output);
    Path attemptDir = new Path(out, String.format("_temporary/shard-%05d-attempt-%d", shard, attempt));
    Configuration conf = data.conf().get();
    try {
      FileSystem fs = out.getFileSystem(conf);
      PartitionStats stats = new PartitionStats();
      long dropped = 0;
      long[] counts = new long[tallySize];
      Sink rows = null, rejected = null;
      try {
        while (results.hasNext()) {
          ResultRecord r = results.next();
          if (r.isReject()) {
            if (rejected == null) rejected = open(rejects, new Path(attemptDir, "rejects"), shard, attempt, rejects.arrowSchema());
            rejected.write(r.rejectRow());
            stats.add(r);
            continue;
          }
          if (tally != null) tally.add(r, counts);
          if (keep != null && !keep.call(r)) {
            dropped++;
            continue;
          }
          if (rows == null) rows = open(data, new Path(attemptDir, "data"), shard, attempt, arrowSchema(info.get()));
          rows.write(r.outputRow());
          stats.add(r);
        }
      } finally {
        try (Sink a = rows; Sink b = rejected) {
          // closes both
        }
      }
      delay(ctx);
      TaskInfo ti = info.get();
      String ext = extension();
      String dataName = rows == null ? null : String.format("part-%05d%s", shard, ext);
      String rejectsName = rejected == null ? null : String.format("part-%05d%s", shard, ext);
      ShardManifest m = new ShardManifest(shard, stats.written, dropped, stats.rejected, stats.rejectedByStage, stats.rejectedByReason,
          counts, dataName, rejectsName, ti == null ? null : ti.modelName(), ti == null ? null : ti.device(),
          ti == null ? null : ti.arrowSchemaJson(), attempt);
      fault(ctx, FAULT_BEFORE_COMMIT);

      // commit: the files over any a failed attempt left, then the manifest (the commit itself) last
      done = committed(shard);
      if (done != null) { // another attempt committed while this one ran (speculation, a zombie)
        fs.delete(attemptDir, true);
        return done;
      }
      if (dataName != null) replace(fs, new Path(attemptDir, "data"), new Path(out, dataName));
      fault(ctx, FAULT_MID_COMMIT);
      if (rejectsName != null) replace(fs, new Path(attemptDir, "rejects"), new Path(new Path(out, REJECTS_DIR), rejectsName));
      Path manifest = new Path(attemptDir, "manifest.json");
      ShardManifest.write(fs, manifest, m.toJson());
      replace(fs, manifest, ShardManifest.file(out, shard));
      fs.delete(attemptDir, true);
      return m;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write shard " + shard + " of " + output + ": " + e.getMessage(), e);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException("shard " + shard + ": " + e.getMessage(), e);
    }
  }

  /** The output's Arrow schema: the driver's, or the task's with the carried columns appended (null if neither is known). */
  private String arrowSchema(TaskInfo info) {
    if (format != OutputFormat.ARROW || data.arrowSchema() != null) return data.arrowSchema();
    if (info == null) return null;
    try {
      return CarriedColumns.append(Schema.fromJSON(info.arrowSchemaJson()), carried).toJson();
    } catch (IOException e) {
      throw new UncheckedIOException("the task's output schema is unreadable: " + e.getMessage(), e);
    }
  }

  /** Deletes the attempts' working folder once every shard is committed. */
  public static void removeTemporary(Path output, Configuration conf) {
    Path tmp = new Path(output, "_temporary");
    try {
      tmp.getFileSystem(conf).delete(tmp, true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove " + tmp + ": " + e.getMessage(), e);
    }
  }

  /** The file name extension of this format's files ({@code .snappy.parquet}, {@code .json}, {@code .arrow}). */
  public String extension() {
    if (format == OutputFormat.ARROW) return ".arrow";
    return data.factory().getFileExtension(context(data.conf().get(), 0, 0));
  }

  /** Moves {@code from} to {@code to}, replacing a file a failed attempt left there. */
  private static void replace(FileSystem fs, Path from, Path to) throws IOException {
    if (fs.exists(to)) fs.delete(to, false);
    else fs.mkdirs(to.getParent()); // HDFS renames into an existing folder only
    if (!fs.rename(from, to)) {
      // another attempt of the same shard may have put its (equal) file there between the delete and the rename
      if (!fs.exists(to)) throw new IOException("cannot rename " + from + " to " + to);
    }
  }

  /** A test hook's value: the task's local property, else the Spark setting {@code spark.<name>}; null when unset. */
  private static String hook(TaskContext ctx, String name) {
    if (ctx == null) return null;
    String v = ctx.getLocalProperty(name);
    if (v == null && org.apache.spark.SparkEnv.get() != null) v = org.apache.spark.SparkEnv.get().conf().get("spark." + name, null);
    return v;
  }

  private void fault(TaskContext ctx, String point) {
    if (ctx != null && point.equals(hook(ctx, FAULT)) && ctx.attemptNumber() == 0) {
      throw new IllegalStateException("injected fault (" + FAULT + "=" + point + ") in the first attempt of shard " + ctx.partitionId());
    }
  }

  private static void delay(TaskContext ctx) {
    String ms = hook(ctx, SHARD_DELAY);
    if (ms == null) return;
    try {
      Thread.sleep(Long.parseLong(ms));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Writes a schema-only file for a table that got no row at all (readers then still find its schema). */
  public void writeEmptyIfNone(Configuration conf, boolean rejectsTable, String arrowSchema) {
    Table t = rejectsTable ? rejects : data;
    Path dir = rejectsTable ? new Path(new Path(output), REJECTS_DIR) : new Path(output);
    try {
      FileSystem fs = dir.getFileSystem(conf);
      fs.mkdirs(dir);
      String ext = extension();
      if (fs.listStatus(dir, p -> p.getName().startsWith("part-") && p.getName().endsWith(ext)).length > 0) return;
      String schema = t.arrowSchema() != null ? t.arrowSchema() : arrowSchema;
      if (format == OutputFormat.ARROW && schema == null) return; // no row reached a model: no schema to write
      Path tmp = new Path(new Path(output), "_temporary/empty-" + (rejectsTable ? "rejects" : "data"));
      try (Sink s = open(t, tmp, 0, 0, schema)) {
        s.writeEmpty();
      }
      replace(fs, tmp, new Path(dir, "part-00000" + ext));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write an empty file into " + dir + ": " + e.getMessage(), e);
    }
  }

  /** A file of rows being written. */
  private interface Sink extends AutoCloseable {
    void write(Row row) throws IOException;

    /** Makes sure the file exists even without rows. */
    void writeEmpty() throws IOException;

    @Override
    void close() throws IOException;
  }

  private Sink open(Table t, Path file, int shard, long attempt, String arrowSchema) throws IOException {
    Configuration conf = new Configuration(t.conf().get());
    TaskAttemptContext ctx = context(conf, shard, attempt);
    if (format == OutputFormat.ARROW) {
      if (arrowSchema == null) throw new IOException("no Arrow schema for " + file);
      ArrowIpcOutputFormat.ArrowRecordWriter w = new ArrowIpcOutputFormat.ArrowRecordWriter(file, conf, Schema.fromJSON(arrowSchema),
          conf.getInt(ArrowIpcOutputFormat.BATCH_ROWS, ArrowIpcOutputFormat.DEFAULT_BATCH_ROWS), true);
      return new Sink() {
        public void write(Row row) throws IOException { w.write(NullWritable.get(), row); }

        public void writeEmpty() { }

        public void close() throws IOException { w.close(ctx); }
      };
    }
    OutputWriter w = t.factory().newInstance(file.toString(), t.schema(), ctx);
    scala.Function1<Object, Object> toCatalyst = CatalystTypeConverters.createToCatalystConverter(t.schema());
    return new Sink() {
      public void write(Row row) { w.write((InternalRow) toCatalyst.apply(row)); }

      public void writeEmpty() { }

      public void close() { w.close(); }
    };
  }

  private static TaskAttemptContext context(Configuration conf, int shard, long attempt) {
    TaskAttemptID id = new TaskAttemptID("sparkinfer", 0, TaskType.MAP, shard, (int) attempt);
    conf.set("mapreduce.task.attempt.id", id.toString());
    conf.set("mapreduce.task.id", id.getTaskID().toString());
    conf.set("mapreduce.job.id", id.getJobID().toString());
    conf.setBoolean("mapreduce.task.ismap", true);
    conf.setInt("mapreduce.task.partition", shard);
    return new TaskAttemptContextImpl(conf, id);
  }
}
