package dev.sparkinfer.jobs.io;

import static dev.sparkinfer.schemas.RejectsTable.STAGE_READ;

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
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;
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
 *   <li>JSONL, CSV and plain text: each file is read as bytes by one task, line by line, each line decoded as strict UTF-8
 *       (ids {@code file:line} need the whole file; rows are spread over the cluster afterwards).</li>
 *   <li>CSV: the same, records parsed by {@link CsvRecords} (line numbers, ragged rows rejected).</li>
 *   <li>Parquet: Spark's reader, after every file's footer is checked; id and text are taken as bytes and decoded
 *       strictly here too.</li>
 * </ul>
 */
public final class CorpusReader {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CorpusReader.class);

  private CorpusReader() {}

  /** How many leading lines of a JSONL file the column check looks at. */
  static final int SAMPLE_LINES = 1000;

  /**
   * The checked input: its format, its files, the folders skipped because they are outputs of ours, and (lazily) its
   * records.
   */
  public record Corpus(InputFormat format, List<String> files, List<String> skipped, JavaRDD<InputRecord> records, StructType carried) {}

  /** The files an input names, and the folders left out because they hold an earlier output of ours. */
  public record Listing(List<Path> files, List<String> skipped) {}

  public static Corpus open(SparkSession spark, JobConfig cfg) {
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    Listing listing = list(cfg.input(), conf);
    List<Path> files = listing.files();
    for (String s : listing.skipped()) {
      LOG.warn("input: skipping folder {}: it holds an earlier output of this job (_SUMMARY.json or _rejects/), not corpus", s);
    }
    InputFormat format = resolveFormat(cfg.inputFormat(), files, cfg.input());
    ImageInput images = cfg.images();
    if (images != null && format == InputFormat.TEXT) {
      throw new UsageException("input '" + cfg.input() + "' is plain text, which has no image column: image jobs read JSONL, CSV or "
          + "Parquet (an id, an image path or bytes, a caption) or WebDataset tar shards (pass --input-format if the names mislead)");
    }
    if (images == null && format == InputFormat.WEBDATASET) {
      throw new UsageException("input '" + cfg.input() + "' is WebDataset tar shards, which only the image jobs (clip-score, "
          + "clip-classify, clip-filter) read");
    }
    List<String> names = files.stream().map(Path::toString).toList();
    StructType carried = new StructType();
    if (images != null) for (String k : images.keepCols()) carried = carried.add(k, org.apache.spark.sql.types.DataTypes.StringType, true);
    JavaRDD<InputRecord> records = switch (format) {
      case JSONL -> {
        checkJsonColumns(cfg, files, conf);
        yield lines(spark, names, cfg, format);
      }
      case CSV -> {
        checkCsvHeaders(cfg, files, conf);
        yield lines(spark, names, cfg, format);
      }
      case TEXT -> lines(spark, names, cfg, format);
      case PARQUET -> {
        Parquet p = parquet(spark, files, cfg);
        carried = p.carried();
        yield p.records();
      }
      case WEBDATASET -> WebDatasetInput.records(spark, names, cfg);
      case AUTO -> throw new IllegalStateException("format not resolved");
    };
    return new Corpus(format, names, listing.skipped(), records, carried);
  }

  /** The columns read after the id and text (image jobs: the image, then the carried ones). */
  static List<String> extraCols(JobConfig cfg) { return cfg.images() == null ? List.of() : cfg.images().extraCols(); }

  /** Whether the text (caption) column must exist: always, but for an image job without captions. */
  static boolean textRequired(JobConfig cfg) { return cfg.images() == null || cfg.images().captions(); }

  /**
   * An image path as the fetch step opens it: a URI or absolute path as it is, a relative one against
   * {@code --image-root}, else against the folder of the input file that names it.
   */
  static String resolveImage(String image, String imageRoot, String inputFile) {
    if (image == null || image.isBlank()) return image;
    try {
      Path p = new Path(image);
      if (p.isAbsolute() || p.toUri().getScheme() != null) return p.toString();
      return new Path(imageRoot != null ? new Path(imageRoot) : new Path(inputFile).getParent(), p).toString();
    } catch (IllegalArgumentException e) {
      return image; // not a path Hadoop can parse: the fetch step rejects it with the reason
    }
  }

  /** Resolves the image path (values[2]) of a read row. */
  static InputRecord withImagePath(InputRecord r, JobConfig cfg, String inputFile) {
    if (cfg.images() == null || r.isRejected() || !(r.values[2] instanceof String path)) return r;
    Object[] v = r.values.clone();
    v[2] = resolveImage(path, cfg.images().imageRoot(), inputFile);
    return InputRecord.row(v);
  }

  /** The files an input names (see {@link #list}). */
  public static List<Path> listInput(String input, Configuration conf) { return list(input, conf).files(); }

  /**
   * The files an input names: a file, a folder (its files, recursively, skipping _ and . names, and skipping
   * sub-folders that hold an output of ours: {@code _SUMMARY.json} or {@code _rejects/}) or a glob. A file name with
   * ':' is refused here: Hadoop's file systems cannot open it.
   */
  public static Listing list(String input, Configuration conf) {
    try {
      Path p = new Path(input);
      FileSystem fs = p.getFileSystem(conf);
      FileStatus[] matched = fs.globStatus(p);
      if (matched == null || matched.length == 0) {
        throw new UsageException("input '" + input + "' does not exist: check the path (a file, a folder, or a glob such as "
            + "hdfs:///corpus/*.parquet)");
      }
      List<Path> files = new ArrayList<>();
      List<String> skipped = new ArrayList<>();
      for (FileStatus s : matched) {
        if (s.isDirectory()) {
          // a folder named outright is read even if it is an output of ours; folders a glob matched are checked too
          walk(fs, s.getPath(), files, skipped, matched.length == 1 && !isGlob(input));
        } else if (matched.length == 1 && !isGlob(input) || !hidden(s.getPath().getName())) { // a file named outright is read
          files.add(s.getPath());
        }
      }
      if (files.isEmpty()) {
        throw new UsageException("input '" + input + "' holds no files (names starting with _ or . are skipped"
            + (skipped.isEmpty() ? "" : "; so are folders holding an earlier output of this job: " + skipped) + "): check the path");
      }
      for (Path f : files) {
        if (f.getName().contains(":")) {
          throw new UsageException("input file " + f.toUri().getPath() + " has ':' in its name, which Hadoop's file systems "
              + "cannot open: rename it (e.g. replace ':' with '_') or move it out of --input");
        }
      }
      files.sort(null);
      return new Listing(files, skipped);
    } catch (IOException e) {
      throw new UsageException("cannot list input '" + input + "': " + e.getMessage() + " (check the path and its file system"
          + " settings, e.g. spark.hadoop.fs.s3a.* for s3a://)", e);
    } catch (IllegalArgumentException e) {
      if (String.valueOf(e.getMessage()).contains("URISyntaxException")) {
        throw new UsageException("input '" + input + "' names a file with ':' in its name, which Hadoop's file systems cannot "
            + "open: rename it (e.g. replace ':' with '_')", e);
      }
      throw new UsageException("cannot list input '" + input + "': " + e.getMessage(), e);
    }
  }

  private static void walk(FileSystem fs, Path dir, List<Path> files, List<String> skipped, boolean top) throws IOException {
    FileStatus[] inside = fs.listStatus(dir);
    if (!top) {
      for (FileStatus s : inside) {
        String n = s.getPath().getName();
        if (n.equals(dev.sparkinfer.jobs.JobSummary.FILE) && s.isFile() || n.equals("_rejects") && s.isDirectory()) {
          skipped.add(dir.toString());
          return;
        }
      }
    }
    for (FileStatus s : inside) {
      if (hidden(s.getPath().getName())) continue;
      if (s.isDirectory()) walk(fs, s.getPath(), files, skipped, false);
      else files.add(s.getPath());
    }
  }

  private static boolean isGlob(String input) { return input.chars().anyMatch(c -> "*?[{".indexOf(c) >= 0); }

  private static boolean hidden(String name) { return name.startsWith("_") || name.startsWith("."); }

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
    ObjectMapper json = new ObjectMapper(LineRecords.JSON); // the job's own limits: a 30 MB text is a record
    Set<String> fields = new TreeSet<>();
    int objects = 0;
    boolean hasId = false;
    boolean hasText = !textRequired(cfg);
    List<String> extras = extraCols(cfg);
    Set<String> extrasSeen = new TreeSet<>();
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
            for (String e : extras) if (n.has(e)) extrasSeen.add(e);
          } catch (IOException ignored) {
            // a bad line is the job's business (it becomes a reject), not the check's
          }
        }
      } catch (IOException e) {
        throw new UsageException("cannot read input file " + f + ": " + e.getMessage(), e);
      }
      if (looked >= SAMPLE_LINES || (hasId && hasText && extrasSeen.size() == extras.size())) break;
    }
    if (objects == 0) {
      throw new UsageException("input '" + cfg.input() + "' has no JSON object in its first " + looked + " lines: is it JSONL? "
          + "(one {\"" + cfg.idCol() + "\": ..., \"" + cfg.textCol() + "\": ...} object a line; or pass --input-format text)");
    }
    List<String> missing = new ArrayList<>();
    if (!hasId) missing.add("id column '" + cfg.idCol() + "' (--id-col)");
    if (!hasText) missing.add(textColumn(cfg));
    for (String e : extras) if (!extrasSeen.contains(e)) missing.add(extraColumn(cfg, e));
    if (!missing.isEmpty()) {
      throw new UsageException("input '" + cfg.input() + "' has no " + String.join(" and no ", missing) + " in its first "
          + objects + " records; the columns that exist are " + fields + ": name them with " + flags(cfg));
    }
  }

  /** Fails unless every CSV file's header has the id and text columns (one record a file is read). */
  private static void checkCsvHeaders(JobConfig cfg, List<Path> files, Configuration conf) {
    for (Path f : files) {
      List<String> header;
      try (Utf8Lines lines = new Utf8Lines(f, conf)) {
        header = new CsvRecords(lines, f.toUri().getPath(), cfg.idCol(), cfg.textCol(), extraCols(cfg), textRequired(cfg)).header();
      } catch (IOException | IllegalStateException e) {
        throw new UsageException("cannot read input file " + f + ": " + e.getMessage(), e);
      }
      if (header == null) continue; // an empty file holds no rows
      List<String> missing = new ArrayList<>();
      if (!header.contains(cfg.idCol())) missing.add("id column '" + cfg.idCol() + "' (--id-col)");
      if (textRequired(cfg) && !header.contains(cfg.textCol())) missing.add(textColumn(cfg));
      for (String e : extraCols(cfg)) if (!header.contains(e)) missing.add(extraColumn(cfg, e));
      if (!missing.isEmpty()) {
        throw new UsageException("input file " + f + " has no " + String.join(" and no ", missing) + " in its header; the columns "
            + "that exist are " + header + ": name them with " + flags(cfg));
      }
    }
  }

  private static String textColumn(JobConfig cfg) {
    return cfg.images() != null ? "caption column '" + cfg.textCol() + "' (--caption-col)" : "text column '" + cfg.textCol() + "' (--text-col)";
  }

  private static String extraColumn(JobConfig cfg, String col) {
    return col.equals(cfg.images().imageCol()) ? "image column '" + col + "' (--image-col)" : "column '" + col + "' (--keep-cols)";
  }

  private static String flags(JobConfig cfg) {
    return cfg.images() == null ? "--id-col / --text-col" : "--id-col / --image-col / --caption-col / --keep-cols";
  }

  /** JSONL, CSV or text files, one task per file, lines read as bytes and decoded strictly. */
  private static JavaRDD<InputRecord> lines(SparkSession spark, List<String> files, JobConfig cfg, InputFormat format) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    SerializableConfiguration conf = new SerializableConfiguration(spark.sparkContext().hadoopConfiguration());
    String idCol = cfg.idCol();
    String textCol = cfg.textCol();
    List<String> extras = extraCols(cfg);
    boolean textRequired = textRequired(cfg);
    return jsc.parallelize(files, Math.max(1, files.size())).flatMap(file -> {
      Path path = new Path(file);
      String shown = path.toUri().getPath();
      LineRecords parser = new LineRecords(shown, idCol, textCol, extras);
      Utf8Lines lines;
      try {
        lines = new Utf8Lines(path, conf.get());
      } catch (IOException e) {
        // gone or unreadable since the checks: the file is a bad input, not a reason to fail the job
        return List.of(InputRecord.rejected(shown + ":1", STAGE_READ, "damaged file", shown + " cannot be opened: " + e)).iterator();
      }
      CsvRecords csv = format == InputFormat.CSV ? new CsvRecords(lines, shown, idCol, textCol, extras, textRequired) : null;
      TaskContext ctx = TaskContext.get();
      if (ctx != null) ctx.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) c -> closeQuietly(lines));
      return new Iterator<InputRecord>() {
        private InputRecord next;
        private boolean done;

        @Override
        public boolean hasNext() {
          while (next == null && !done) {
            if (csv != null) {
              next = csv.next();
              if (next == null) done = true;
              continue;
            }
            Utf8Lines.Line line = lines.next();
            if (line == null) {
              done = true;
              closeQuietly(lines);
            } else {
              next = format == InputFormat.JSONL ? parser.json(line) : parser.text(line);
            }
          }
          return next != null;
        }

        @Override
        public InputRecord next() {
          if (!hasNext()) throw new NoSuchElementException();
          InputRecord r = next;
          next = null;
          return withImagePath(r, cfg, file);
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

  /**
   * Parquet through Spark's reader, after every file's footer was checked ({@link #checkParquetFooters}); the id
   * (when a string) and the text are taken as bytes and decoded strictly here, so they round-trip or are rejected.
   * Rejected rows are named {@code file:row-N}.
   */
  /** A Parquet corpus: its records and the Spark types of the carried columns. */
  record Parquet(JavaRDD<InputRecord> records, StructType carried) {}

  private static Parquet parquet(SparkSession spark, List<Path> files, JobConfig cfg) {
    checkParquetFooters(cfg, files, spark.sparkContext().hadoopConfiguration());
    String[] paths = files.stream().map(Path::toString).toArray(String[]::new);
    Dataset<Row> df = spark.read().parquet(paths);
    StructType schema = df.schema();
    boolean textRequired = textRequired(cfg);
    StructField id = field(schema, cfg.idCol(), "id", "--id-col", cfg.input());
    StructField text = textRequired ? field(schema, cfg.textCol(), cfg.images() != null ? "caption" : "text",
        cfg.images() != null ? "--caption-col" : "--text-col", cfg.input()) : find(schema, cfg.textCol());
    DataType idType = id.dataType();
    if (idType instanceof StructType || idType instanceof ArrayType || idType instanceof MapType || idType instanceof BinaryType) {
      throw new UsageException("id column '" + cfg.idCol() + "' of input '" + cfg.input() + "' is " + idType.simpleString()
          + "; ids must be strings or numbers: pick another column with --id-col");
    }
    if (text != null && !(text.dataType() instanceof StringType) && !(text.dataType() instanceof BinaryType)) {
      throw new UsageException((cfg.images() != null ? "caption" : "text") + " column '" + cfg.textCol() + "' of input '" + cfg.input()
          + "' is " + text.dataType().simpleString() + ", not a string: pick the right column with " + (cfg.images() != null ? "--caption-col" : "--text-col"));
    }
    boolean idBytes = idType instanceof StringType;
    String idCol = cfg.idCol();
    List<Column> cols = new ArrayList<>(List.of(
        idBytes ? quoted(cfg.idCol()).cast("binary") : quoted(cfg.idCol()).cast("string"),
        text == null ? functions.lit(null).cast("binary") : quoted(cfg.textCol()).cast("binary"),
        functions.col("_metadata.file_path"),
        functions.col("_metadata.row_index").plus(1).cast("string")));
    // image jobs: the image (a path string, or bytes), then the carried columns (atomic types kept, others as strings)
    boolean imageIsPath = false;
    StructType carried = new StructType();
    if (cfg.images() != null) {
      StructField image = field(schema, cfg.images().imageCol(), "image", "--image-col", cfg.input());
      if (!(image.dataType() instanceof StringType) && !(image.dataType() instanceof BinaryType)) {
        throw new UsageException("image column '" + image.name() + "' of input '" + cfg.input() + "' is " + image.dataType().simpleString()
            + ": it must hold a path (string) or the image bytes (binary); pick it with --image-col");
      }
      imageIsPath = image.dataType() instanceof StringType;
      cols.add(quoted(image.name()));
      for (String k : cfg.images().keepCols()) {
        StructField f = field(schema, k, "carried", "--keep-cols", cfg.input());
        boolean atomic = f.dataType() instanceof StringType || f.dataType() instanceof org.apache.spark.sql.types.IntegerType
            || f.dataType() instanceof org.apache.spark.sql.types.LongType || f.dataType() instanceof org.apache.spark.sql.types.DoubleType
            || f.dataType() instanceof org.apache.spark.sql.types.FloatType || f.dataType() instanceof org.apache.spark.sql.types.BooleanType;
        cols.add(atomic ? quoted(k) : quoted(k).cast("string"));
        carried = carried.add(k, atomic ? f.dataType() : org.apache.spark.sql.types.DataTypes.StringType, true);
      }
    }
    int extras = cols.size() - 4;
    boolean pathImages = imageIsPath;
    String imageRoot = cfg.images() == null ? null : cfg.images().imageRoot();
    Dataset<Row> selected = df.select(cols.toArray(new Column[0]));
    JavaRDD<InputRecord> records = selected.javaRDD().mapPartitions(rows -> {
      CharsetDecoder strict = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
      return new Iterator<InputRecord>() {
        @Override
        public boolean hasNext() { return rows.hasNext(); }

        @Override
        public InputRecord next() {
          Row r = rows.next();
          String file = new Path(r.getString(2)).toUri().getPath();
          String where = file + ":row-" + r.getString(3);
          String what = "row " + r.getString(3) + " of " + file;
          String rowId;
          if (r.isNullAt(0)) {
            rowId = null;
          } else if (idBytes) {
            byte[] b = (byte[]) r.get(0);
            Utf8Lines.Line decoded = Utf8Lines.decode(0, b, 0, b.length, strict);
            if (!decoded.valid()) {
              return InputRecord.rejected(where, STAGE_READ, "invalid UTF-8", what + ": the id has " + decoded.utf8Error());
            }
            rowId = decoded.text();
          } else {
            rowId = r.getString(0);
          }
          InputRecord badId = IdRule.check(rowId, where, what + ", column '" + idCol + "'");
          if (badId != null) return badId;
          Object[] extra = new Object[extras];
          for (int k = 0; k < extras; k++) extra[k] = r.get(4 + k);
          if (extras > 0 && pathImages && extra[0] instanceof String path) extra[0] = resolveImage(path, imageRoot, r.getString(2));
          if (r.isNullAt(1)) return LineRecords.row(rowId, null, extra);
          byte[] bytes = (byte[]) r.get(1);
          Utf8Lines.Line decoded = Utf8Lines.decode(0, bytes, 0, bytes.length, strict);
          if (!decoded.valid()) {
            return InputRecord.rejected(rowId, STAGE_READ, "invalid UTF-8", what + ": text has " + decoded.utf8Error());
          }
          return LineRecords.row(rowId, decoded.text(), extra);
        }
      };
    });
    return new Parquet(records, carried);
  }

  /**
   * Reads every Parquet file's footer (cheap: the end of each file) before the job: each must be readable and have
   * the id column as a scalar and the text column as a string (or bytes), with the id of one type in all files, so
   * no file fails half-way through the job.
   */
  static void checkParquetFooters(JobConfig cfg, List<Path> files, Configuration conf) {
    String idType = null;
    Path idTypeFile = null;
    for (Path f : files) {
      MessageType schema;
      try (ParquetFileReader r = ParquetFileReader.open(HadoopInputFile.fromPath(f, conf))) {
        schema = r.getFooter().getFileMetaData().getSchema();
      } catch (IOException | RuntimeException e) {
        throw new UsageException("input file " + f + " is not a readable Parquet file (" + e.getMessage() + "): remove it "
            + "from --input or replace it", e);
      }
      List<String> missing = new ArrayList<>();
      if (!schema.containsField(cfg.idCol())) missing.add("id column '" + cfg.idCol() + "' (--id-col)");
      if (textRequired(cfg) && !schema.containsField(cfg.textCol())) missing.add(textColumn(cfg));
      for (String e : extraCols(cfg)) if (!schema.containsField(e)) missing.add(extraColumn(cfg, e));
      if (!missing.isEmpty()) {
        throw new UsageException("input file " + f + " has no " + String.join(" and no ", missing) + "; the columns that exist are "
            + schema.getFields().stream().map(Type::getName).toList() + ": every file needs them; name them with " + flags(cfg));
      }
      Type id = schema.getType(cfg.idCol());
      Type text = schema.containsField(cfg.textCol()) ? schema.getType(cfg.textCol()) : null;
      if (text != null && (textRequired(cfg) || cfg.images() == null)
          && (!text.isPrimitive() || text.asPrimitiveType().getPrimitiveTypeName() != PrimitiveType.PrimitiveTypeName.BINARY)) {
        throw new UsageException(textColumn(cfg) + " of input file " + f + " is " + simple(text)
            + ", not a string: every file needs a string column there");
      }
      if (cfg.images() != null) {
        Type image = schema.getType(cfg.images().imageCol());
        if (!image.isPrimitive() || image.isRepetition(Type.Repetition.REPEATED)
            || image.asPrimitiveType().getPrimitiveTypeName() != PrimitiveType.PrimitiveTypeName.BINARY) {
          throw new UsageException("image column '" + cfg.images().imageCol() + "' of input file " + f + " is " + simple(image)
              + ": it must hold a path (string) or the image bytes (binary); pick it with --image-col");
        }
      }
      if (!id.isPrimitive() || id.isRepetition(Type.Repetition.REPEATED)) {
        throw new UsageException("id column '" + cfg.idCol() + "' of input file " + f + " is " + simple(id)
            + "; ids must be strings or numbers: pick another column with --id-col");
      }
      String t = id.asPrimitiveType().getPrimitiveTypeName() + " " + id.getLogicalTypeAnnotation();
      if (idType == null) {
        idType = t;
        idTypeFile = f;
      } else if (!idType.equals(t)) {
        throw new UsageException("id column '" + cfg.idCol() + "' is " + idType + " in " + idTypeFile + " but " + t + " in " + f
            + ": every file needs the same id type");
      }
    }
  }

  /** A Parquet type as Spark would name it (int, bigint, double, ...), for messages. */
  private static String simple(Type t) {
    if (!t.isPrimitive()) return t.isRepetition(Type.Repetition.REPEATED) ? "a list" : "a struct";
    if (t.isRepetition(Type.Repetition.REPEATED)) return "a list";
    return switch (t.asPrimitiveType().getPrimitiveTypeName()) {
      case INT32 -> "int";
      case INT64 -> "bigint";
      case INT96 -> "timestamp";
      case FLOAT -> "float";
      case DOUBLE -> "double";
      case BOOLEAN -> "boolean";
      case BINARY, FIXED_LEN_BYTE_ARRAY -> "binary";
    };
  }

  private static StructField field(StructType schema, String name, String what, String flag, String input) {
    for (StructField f : schema.fields()) {
      if (f.name().equals(name)) return f;
    }
    throw new UsageException("input '" + input + "' has no " + what + " column '" + name + "' (" + flag + "); the columns that "
        + "exist are " + List.of(schema.fieldNames()) + ": name the right one with " + flag);
  }

  private static StructField find(StructType schema, String name) {
    for (StructField f : schema.fields()) if (f.name().equals(name)) return f;
    return null;
  }

  private static Column quoted(String name) { return functions.col("`" + name.replace("`", "``") + "`"); }
}
