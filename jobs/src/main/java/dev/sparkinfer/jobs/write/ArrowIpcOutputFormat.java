package dev.sparkinfer.jobs.write;

import dev.sparkinfer.udf.arrow.ArrowRows;
import java.io.IOException;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.NullWritable;
import org.apache.hadoop.mapreduce.RecordWriter;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.hadoop.mapreduce.lib.output.FileOutputFormat;
import org.apache.spark.sql.Row;

/**
 * Arrow IPC files (the random-access "file" format) as a Hadoop output format ({@code part-r-NNNNN.arrow} through
 * Hadoop's output committer, for {@code saveAsNewAPIHadoopFile}); the jobs use its {@link ArrowRecordWriter} for
 * each shard's file ({@link ShardWriter}). The Arrow schema comes from the job configuration ({@link #SCHEMA}, as JSON); row values are the
 * ones {@link ArrowRows} knows (float[] for FixedSizeList&lt;float32&gt;). A task with no rows writes no file, unless
 * {@link #WRITE_EMPTY} is set (a table with no rows at all is then one file with the schema and no batch). The schema
 * may be absent only when no row comes.
 */
public final class ArrowIpcOutputFormat extends FileOutputFormat<NullWritable, Row> {
  public static final String SCHEMA = "sparkinfer.arrow.schema";
  public static final String BATCH_ROWS = "sparkinfer.arrow.batchRows";
  public static final int DEFAULT_BATCH_ROWS = 1024;
  /** Write a file (schema, no batch) even when the task has no rows. */
  public static final String WRITE_EMPTY = "sparkinfer.arrow.writeEmpty";

  @Override
  public RecordWriter<NullWritable, Row> getRecordWriter(TaskAttemptContext ctx) throws IOException {
    Configuration conf = ctx.getConfiguration();
    String json = conf.get(SCHEMA);
    return new ArrowRecordWriter(getDefaultWorkFile(ctx, ".arrow"), conf, json == null ? null : Schema.fromJSON(json),
        conf.getInt(BATCH_ROWS, DEFAULT_BATCH_ROWS), conf.getBoolean(WRITE_EMPTY, false));
  }

  static final class ArrowRecordWriter extends RecordWriter<NullWritable, Row> {
    private final Path file;
    private final Configuration conf;
    private final Schema schema;
    private final int batchRows;
    private final boolean writeEmpty;
    private final List<Object[]> pending = new ArrayList<>();
    private BufferAllocator allocator;
    private VectorSchemaRoot root;
    private FSDataOutputStream stream;
    private ArrowFileWriter writer;

    ArrowRecordWriter(Path file, Configuration conf, Schema schema, int batchRows, boolean writeEmpty) {
      this.file = file;
      this.writeEmpty = writeEmpty;
      this.conf = conf;
      this.schema = schema;
      this.batchRows = batchRows;
    }

    @Override
    public void write(NullWritable key, Row row) throws IOException {
      Object[] values = new Object[row.length()];
      for (int i = 0; i < values.length; i++) values[i] = row.get(i);
      pending.add(values);
      if (pending.size() >= batchRows) flush();
    }

    private void flush() throws IOException {
      if (pending.isEmpty()) return;
      start();
      ArrowRows.reset(root);
      ArrowRows.fill(root, pending);
      writer.writeBatch();
      pending.clear();
    }

    private void start() throws IOException {
      if (writer == null) {
        if (schema == null) throw new IOException("no Arrow schema in the job configuration (" + SCHEMA + ")");
        allocator = new RootAllocator();
        root = VectorSchemaRoot.create(schema, allocator);
        root.allocateNew();
        stream = file.getFileSystem(conf).create(file, false);
        writer = new ArrowFileWriter(root, null, Channels.newChannel(stream));
        writer.start();
      }
    }

    @Override
    public void close(TaskAttemptContext ctx) throws IOException {
      try {
        flush();
        if (writer == null && writeEmpty && schema != null) start();
        if (writer != null) writer.end();
      } finally {
        // vectors, then their allocator (whose close() fails on a leak), then the stream
        try (FSDataOutputStream s = stream; BufferAllocator a = allocator; VectorSchemaRoot r = root; ArrowFileWriter w = writer) {
          // closes w, r, a, s in that order
        }
      }
    }
  }
}
