package dev.sparkinfer.jobs.write;

import java.io.IOException;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.io.NullWritable;
import org.apache.hadoop.mapreduce.Job;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import scala.Tuple2;

/**
 * Writes a table in the chosen format through Spark's commit protocol (a failed task leaves no partial file; the
 * job's files appear at job commit). Parquet and JSONL use Spark's writers; Arrow IPC uses
 * {@link ArrowIpcOutputFormat}. The target folder must not exist (the job has checked or cleared it). Every format
 * handles a table with no rows; for Arrow, {@code arrowSchema} may then be null (no file is written without it).
 */
public final class OutputWriter {
  private OutputWriter() {}

  public static void write(SparkSession spark, JavaRDD<Row> rows, StructType sparkSchema, Schema arrowSchema, String path,
      OutputFormat format) {
    switch (format) {
      // dictionaries of float arrays are never worth it: they are tried, filled and thrown away
      case PARQUET -> spark.createDataFrame(rows, sparkSchema).write().mode(SaveMode.ErrorIfExists)
          .option("parquet.enable.dictionary#embedding.list.element", "false").parquet(path);
      case JSONL -> spark.createDataFrame(rows, sparkSchema).write().mode(SaveMode.ErrorIfExists)
          .option("ignoreNullFields", "false").json(path);
      case ARROW -> writeArrow(spark, rows, arrowSchema, path);
    }
  }

  private static void writeArrow(SparkSession spark, JavaRDD<Row> rows, Schema arrowSchema, String path) {
    try {
      Job job = Job.getInstance(new Configuration(spark.sparkContext().hadoopConfiguration()));
      if (arrowSchema != null) job.getConfiguration().set(ArrowIpcOutputFormat.SCHEMA, arrowSchema.toJson());
      // one partition (how the job writes an empty table): its file is written even with no rows, so the schema is there
      if (rows.getNumPartitions() == 1) job.getConfiguration().setBoolean(ArrowIpcOutputFormat.WRITE_EMPTY, true);
      rows.mapToPair(r -> new Tuple2<>(NullWritable.get(), r))
          .saveAsNewAPIHadoopFile(path, NullWritable.class, Row.class, ArrowIpcOutputFormat.class, job.getConfiguration());
    } catch (IOException e) {
      throw new IllegalStateException("cannot set up the Arrow output " + path + ": " + e.getMessage(), e);
    }
  }
}
