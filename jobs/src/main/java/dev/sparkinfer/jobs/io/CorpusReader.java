package dev.sparkinfer.jobs.io;

import static dev.sparkinfer.schemas.RejectsTable.STAGE_READ;
import static dev.sparkinfer.schemas.RejectsTable.STAGE_VALIDATE;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.UsageException;
import dev.sparkinfer.jobs.run.InputRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Reads a corpus through the Hadoop FileSystem API into {@link InputRecord}s (id, text), after checking, on the
 * driver and before any job, that the input exists and has the id and text columns.
 * <ul>
 *   <li>JSONL and plain text: each file is read as bytes by one task, line by line, each line decoded as strict UTF-8
 *       (ids {@code file:line} need the whole file; rows are spread over the cluster afterwards).</li>
 *   <li>Parquet and CSV: Spark's readers; the text column is taken as bytes and decoded strictly here too.</li>
 * </ul>
 */
public final class CorpusReader {
  private CorpusReader() {}

  /** How many leading lines of a JSONL file the column check looks at. */
  static final int SAMPLE_LINES = 1000;

  /** The checked input: its format, its files and (lazily) its records. */
  public record Corpus(InputFormat format, List<String> files, JavaRDD<InputRecord> records) {}

  public static Corpus open(SparkSession spark, JobConfig cfg) {
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    List<Path> files = listInput(cfg.input(), conf);
    InputFormat format = resolveFormat(cfg.inputFormat(), files, cfg.input());
    List<String> names = files.stream().map(Path::toString).toList();
    JavaRDD<InputRecord> records = switch (format) {
      case JSONL -> {
        checkJsonColumns(cfg, files, conf);
        yield lines(spark, names, cfg, true);
      }
      case TEXT -> lines(spark, names, cfg, false);
      case PARQUET, CSV -> frames(spark, names, cfg, format);
      case AUTO -> throw new IllegalStateException("format not resolved");
    };
    return new Corpus(format, names, records);
  }

  /** The files an input names: a file, a folder (its files, recursively, skipping _ and . names) or a glob. */
  public static List<Path> listInput(String input, Configuration conf) {
    try {
      Path p = new Path(input);
      FileSystem fs = p.getFileSystem(conf);
      FileStatus[] matched = fs.globStatus(p);
      if (matched == null || matched.length == 0) {
        throw new UsageException("input '" + input + "' does not exist: check the path (a file, a folder, or a glob such as "
            + "hdfs:///corpus/*.parquet)");
      }
      List<Path> files = new ArrayList<>();
      for (FileStatus s : matched) {
        if (s.isDirectory()) {
          RemoteIterator<org.apache.hadoop.fs.LocatedFileStatus> it = fs.listFiles(s.getPath(), true);
          while (it.hasNext()) {
            Path f = it.next().getPath();
            if (!hiddenBelow(f, s.getPath())) files.add(f);
          }
        } else if (matched.length == 1 && !isGlob(input) || !hidden(s.getPath().getName())) { // a file named outright is read
          files.add(s.getPath());
        }
      }
      if (files.isEmpty()) {
        throw new UsageException("input '" + input + "' holds no files (names starting with _ or . are skipped): check the path");
      }
      files.sort(null);
      return files;
    } catch (IOException e) {
      throw new UsageException("cannot list input '" + input + "': " + e.getMessage() + " (check the path and its file system"
          + " settings, e.g. spark.hadoop.fs.s3a.* for s3a://)", e);
    }
  }

  private static boolean isGlob(String input) { return input.chars().anyMatch(c -> "*?[{".indexOf(c) >= 0); }

  private static boolean hidden(String name) { return name.startsWith("_") || name.startsWith("."); }

  private static boolean hiddenBelow(Path file, Path root) {
    for (Path p = file; p != null && !p.equals(root); p = p.getParent()) {
      if (hidden(p.getName())) return true;
    }
    return false;
  }

  static InputFormat resolveFormat(InputFormat asked, List<Path> files, String input) {
    if (asked != InputFormat.AUTO) return asked;
    Set<InputFormat> seen = new LinkedHashSet<>();
    for (Path f : files) {
      InputFormat fmt = InputFormat.fromFileName(f.getName());
      if (fmt == null) {
        throw new UsageException("cannot tell the format of input file " + f + " from its name: pass --input-format "
            + "jsonl, parquet, csv or text");
      }
      seen.add(fmt);
    }
    if (seen.size() > 1) {
      throw new UsageException("input '" + input + "' mixes formats " + seen + ": point --input at one kind of file, "
          + "or pass --input-format");
    }
    return seen.iterator().next();
  }

  /** Fails unless some of the first records of the first file(s) have the id and text fields. */
  private static void checkJsonColumns(JobConfig cfg, List<Path> files, Configuration conf) {
    ObjectMapper json = new ObjectMapper();
    Set<String> fields = new TreeSet<>();
    int objects = 0;
    boolean hasId = false;
    boolean hasText = false;
    int looked = 0;
    for (Path f : files) {
      try (Utf8Lines lines = new Utf8Lines(f, conf)) {
        for (Utf8Lines.Line line; looked < SAMPLE_LINES && (line = lines.next()) != null; looked++) {
          if (!line.valid() || line.text().isBlank()) continue;
          try {
            JsonNode n = json.readTree(line.text());
            if (n == null || !n.isObject()) continue;
            objects++;
            n.fieldNames().forEachRemaining(fields::add);
            hasId |= n.has(cfg.idCol());
            hasText |= n.has(cfg.textCol());
          } catch (IOException ignored) {
            // a bad line is the job's business (it becomes a reject), not the check's
          }
        }
      } catch (IOException e) {
        throw new UsageException("cannot read input file " + f + ": " + e.getMessage(), e);
      }
      if (looked >= SAMPLE_LINES || (hasId && hasText)) break;
    }
    if (objects == 0) {
      throw new UsageException("input '" + cfg.input() + "' has no JSON object in its first " + looked + " lines: is it JSONL? "
          + "(one {\"" + cfg.idCol() + "\": ..., \"" + cfg.textCol() + "\": ...} object a line; or pass --input-format text)");
    }
    List<String> missing = new ArrayList<>();
    if (!hasId) missing.add("id column '" + cfg.idCol() + "' (--id-col)");
    if (!hasText) missing.add("text column '" + cfg.textCol() + "' (--text-col)");
    if (!missing.isEmpty()) {
      throw new UsageException("input '" + cfg.input() + "' has no " + String.join(" and no ", missing) + " in its first "
          + objects + " records; the columns that exist are " + fields + ": name them with --id-col / --text-col");
    }
  }

  /** JSONL or text files, one task per file, lines read as bytes and decoded strictly. */
  private static JavaRDD<InputRecord> lines(SparkSession spark, List<String> files, JobConfig cfg, boolean json) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    SerializableConfiguration conf = new SerializableConfiguration(spark.sparkContext().hadoopConfiguration());
    String idCol = cfg.idCol();
    String textCol = cfg.textCol();
    return jsc.parallelize(files, files.size()).flatMap(file -> {
      Path path = new Path(file);
      LineRecords parser = new LineRecords(path.toUri().getPath(), idCol, textCol);
      Utf8Lines lines = new Utf8Lines(path, conf.get());
      TaskContext ctx = TaskContext.get();
      if (ctx != null) ctx.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) c -> closeQuietly(lines));
      return new Iterator<InputRecord>() {
        private InputRecord next;
        private boolean done;

        @Override
        public boolean hasNext() {
          while (next == null && !done) {
            Utf8Lines.Line line = lines.next();
            if (line == null) {
              done = true;
              closeQuietly(lines);
            } else {
              next = json ? parser.json(line) : parser.text(line);
            }
          }
          return next != null;
        }

        @Override
        public InputRecord next() {
          if (!hasNext()) throw new NoSuchElementException();
          InputRecord r = next;
          next = null;
          return r;
        }
      };
    });
  }

  private static void closeQuietly(Utf8Lines lines) {
    try {
      lines.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Parquet or CSV through Spark's readers; the text column is decoded strictly from its bytes. */
  private static JavaRDD<InputRecord> frames(SparkSession spark, List<String> files, JobConfig cfg, InputFormat format) {
    String[] paths = files.toArray(new String[0]);
    Dataset<Row> df = format == InputFormat.PARQUET
        ? spark.read().parquet(paths)
        : spark.read().option("header", "true").option("multiLine", "true").option("escape", "\"")
            .option("mode", "PERMISSIVE").csv(paths);
    StructType schema = df.schema();
    StructField id = field(schema, cfg.idCol(), "id", "--id-col", cfg.input());
    StructField text = field(schema, cfg.textCol(), "text", "--text-col", cfg.input());
    DataType idType = id.dataType();
    if (idType instanceof StructType || idType instanceof ArrayType || idType instanceof MapType || idType instanceof BinaryType) {
      throw new UsageException("id column '" + cfg.idCol() + "' of input '" + cfg.input() + "' is " + idType.simpleString()
          + "; ids must be strings or numbers: pick another column with --id-col");
    }
    if (!(text.dataType() instanceof StringType) && !(text.dataType() instanceof BinaryType)) {
      throw new UsageException("text column '" + cfg.textCol() + "' of input '" + cfg.input() + "' is "
          + text.dataType().simpleString() + ", not a string: pick the text column with --text-col");
    }
    Column position = format == InputFormat.PARQUET
        ? functions.concat(functions.lit("row-"), functions.col("_metadata.row_index").plus(1))
        : functions.concat(functions.lit("record-"), functions.monotonically_increasing_id());
    Dataset<Row> selected = df.select(
        quoted(cfg.idCol()).cast("string"),
        quoted(cfg.textCol()).cast("binary"),
        functions.col("_metadata.file_name"),
        position.cast("string"));
    return selected.javaRDD().mapPartitions(rows -> {
      CharsetDecoder strict = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
      return new Iterator<InputRecord>() {
        @Override
        public boolean hasNext() { return rows.hasNext(); }

        @Override
        public InputRecord next() {
          Row r = rows.next();
          String where = r.getString(2) + ":" + r.getString(3);
          if (r.isNullAt(0)) {
            return InputRecord.rejected(where, STAGE_VALIDATE, "null id", where + ": the id column is null");
          }
          String rowId = r.getString(0);
          if (r.isNullAt(1)) return InputRecord.row(rowId, null);
          byte[] bytes = (byte[]) r.get(1);
          Utf8Lines.Line decoded = Utf8Lines.decode(0, bytes, 0, bytes.length, strict);
          if (!decoded.valid()) {
            return InputRecord.rejected(rowId, STAGE_READ, "invalid UTF-8", where + ": text has " + decoded.utf8Error());
          }
          return InputRecord.row(rowId, decoded.text());
        }
      };
    });
  }

  private static StructField field(StructType schema, String name, String what, String flag, String input) {
    for (StructField f : schema.fields()) {
      if (f.name().equals(name)) return f;
    }
    throw new UsageException("input '" + input + "' has no " + what + " column '" + name + "' (" + flag + "); the columns that "
        + "exist are " + List.of(schema.fieldNames()) + ": name the right one with " + flag);
  }

  private static Column quoted(String name) { return functions.col("`" + name.replace("`", "``") + "`"); }
}
