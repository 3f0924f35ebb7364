package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.*;

import dev.sparkinfer.jobs.embed.EmbedJob;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.jobs.write.OutputFormat;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8: the job never destroys a user's data and never loses a row. One test per case of the issue (numbered as
 * there), each the repro or a smaller one, on real Spark with the fake model.
 */
class DataSafetyTest {
  static SparkSession spark;
  static final JobSpec.Factory JOB = EmbedJob::new;

  @TempDir Path tmp;

  @BeforeAll
  static void start() { spark = TestSpark.session(); }

  JobConfig config(Path in, Path out) {
    return JobConfig.of(in.toString(), out.toString()).withModel(FakeEmbedderProvider.HASH).withDevice(DeviceChoice.JAVA)
        .withPartitions(2);
  }

  record Cli(int status, String out, String err) {}

  static Cli cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Cli(status, out.toString(), err.toString());
  }

  /** An earlier output of ours, as a job leaves it (enough for the --overwrite checks). */
  static Path earlierOutput(Path dir) throws Exception {
    Files.createDirectories(dir.resolve("_rejects"));
    Files.writeString(dir.resolve("_SUMMARY.json"), "{}");
    Files.writeString(dir.resolve("_SUCCESS"), "");
    Files.writeString(dir.resolve("part-00000-x.snappy.parquet"), "old");
    Files.writeString(dir.resolve("_rejects").resolve("part-00000-y.snappy.parquet"), "old");
    return dir;
  }

  /** Rejects by id as "stage/reason" (parquet output). */
  Map<String, String> rejects(Path out) {
    Map<String, String> m = new HashMap<>();
    for (Row r : Outputs.sparkRows(spark, out.resolve("_rejects"), "parquet")) m.put(r.getString(0), r.getString(1) + "/" + r.getString(2));
    return m;
  }

  Map<String, String> rejectDetails(Path out) {
    Map<String, String> m = new HashMap<>();
    for (Row r : Outputs.sparkRows(spark, out.resolve("_rejects"), "parquet")) m.put(r.getString(0), r.getString(3));
    return m;
  }

  List<String> writtenIds(Path out) {
    return Outputs.sparkRows(spark, out, "parquet").stream().map(r -> r.getString(0)).sorted().toList();
  }

  @Test
  void case01_anInputReachedThroughASymlinkIsNeverInsideTheOutput() throws Exception {
    Path o = tmp.resolve("p/o");
    Path data = TestCorpus.writeLines(o.resolve("data.jsonl"), List.of(TestCorpus.jsonLine("a", "one")));
    Path lnk = Files.createSymbolicLink(tmp.resolve("p/lnk"), o);
    UsageException e = assertThrows(UsageException.class,
        () -> BatchJob.run(spark, config(lnk.resolve("data.jsonl"), o).withOverwrite(true), JOB));
    assertTrue(e.getMessage().contains("inside --output") && e.getMessage().contains("really"), e.getMessage());
    assertTrue(Files.exists(data), "the input survives");
    // and the other way round: the output named through the link
    assertThrows(UsageException.class, () -> BatchJob.run(spark, config(data, lnk).withOverwrite(true), JOB));
    assertTrue(Files.exists(data));
  }

  @Test
  void case02_everyArgumentIsCheckedBeforeAnythingIsDeleted() throws Exception {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("a", "one")));
    Path out = earlierOutput(tmp.resolve("out"));
    Cli r = cli("embed", "--input", in.toString(), "--output", out.toString(), "--model", FakeEmbedderProvider.HASH,
        "--batch-size", "200000000", "--overwrite");
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("--batch-size"), r.err());
    assertTrue(Files.exists(out.resolve("_SUMMARY.json")), "the old output is still there");
    // the overflow itself is caught too, whatever the window: no wrapped negative window ever reaches the runner
    IllegalArgumentException overflow = assertThrows(IllegalArgumentException.class, () -> new JobConfig(in.toString(),
        out.toString(), "test:hash", null, null, null, null, 1 << 20, "id", "text", null, 0, 1 << 12, 1, 1, null, null));
    assertTrue(overflow.getMessage().contains("--batch-size") && overflow.getMessage().contains("too large"), overflow.getMessage());
  }

  @Test
  void case03_everyOutputFormatHandlesZeroRowsReachingTheModel() throws Exception {
    Path nullId = TestCorpus.writeLines(tmp.resolve("n.jsonl"), List.of("{\"id\":null,\"text\":\"a\"}"));
    Path empty = tmp.resolve("e.txt");
    Files.writeString(empty, "");
    for (OutputFormat f : OutputFormat.values()) {
      Path out1 = tmp.resolve("out-null-" + f);
      JobSummary s = BatchJob.run(spark, config(nullId, out1).withFormat(f), JOB);
      assertEquals(List.of(1L, 0L, 1L), List.of(s.inputRows(), s.written(), s.rejected()), f.toString());
      Path out2 = tmp.resolve("out-empty-" + f);
      JobSummary e = BatchJob.run(spark, config(empty, out2).withFormat(f), JOB);
      assertEquals(0, e.inputRows());
      assertTrue(Files.exists(out2.resolve("_SUMMARY.json")));
      if (f == OutputFormat.ARROW) {
        List<Schema> schemas = new ArrayList<>();
        assertEquals(0, Outputs.arrowRows(out1, schemas).size());
        assertEquals(1, schemas.size(), "one empty file that still carries the schema");
        assertEquals("embedding", schemas.get(0).getFields().get(1).getName());
        List<Object[]> rejected = Outputs.arrowRows(out1.resolve("_rejects"), null);
        assertEquals(1, rejected.size(), "the reject is not lost");
        assertEquals("null id", rejected.get(0)[2]);
      }
    }
  }

  @Test
  void case04_idsRoundTripExactlyOrAreRejectedWithAReason() throws Exception {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(
        "{\"id\":\"surr-id-\\ud800\",\"text\":\"a\"}", "{\"id\":\"surr-id-?\",\"text\":\"b\"}",
        "{\"id\":1.10,\"text\":\"c\"}", "{\"id\":12345678901234567890123,\"text\":\"d\"}", "{\"id\":\"ok \\ud83d\\ude42\",\"text\":\"e\"}",
        "{\"id\":\"t\",\"text\":\"lone \\udc00 surrogate\"}"));
    BatchJob.run(spark, config(in, tmp.resolve("out")), JOB);
    assertEquals(List.of("1.10", "12345678901234567890123", "ok \uD83D\uDE42", "surr-id-?"), writtenIds(tmp.resolve("out")),
        "numbers keep their literal text; a pair of surrogates is a good id");
    Map<String, String> r = rejects(tmp.resolve("out"));
    assertEquals("validate/id is not valid Unicode", r.get(in + ":1"));
    assertTrue(rejectDetails(tmp.resolve("out")).get(in + ":1").contains("surr-id-\\ud800"), "the detail shows the id escaped");
    assertEquals("validate/text is not valid Unicode", r.get("t"));
  }

  @Test
  void case05_aHugeJsonTextIsTruncatedAndFlaggedAndDeepIgnoredFieldsAreSkipped() {
    String huge = "word ".repeat(4_200_000); // 21 MB: over Jackson's default 20 MB string cap
    String deep = "[".repeat(3000) + "]".repeat(3000); // over Jackson's default nesting depth of 1000
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("huge", huge),
        "{\"id\": \"deep\", \"meta\": " + deep + ", \"text\": \"hello\"}"));
    JobSummary s = BatchJob.run(spark, config(in, tmp.resolve("out")), JOB);
    assertEquals(0, s.rejected(), rejects(tmp.resolve("out")).toString());
    Map<String, Row> w = new HashMap<>();
    for (Row r : Outputs.sparkRows(spark, tmp.resolve("out"), "parquet")) w.put(r.getString(0), r);
    assertTrue(w.get("huge").getBoolean(3), "cut and flagged truncated, as in .txt");
    assertFalse(w.get("deep").getBoolean(3));
  }

  @Test
  void case06_anOutputThatCannotBeWrittenFailsBeforeTheJob() throws Exception {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("a", "one")));
    Path f = tmp.resolve("f");
    Files.writeString(f, "a file");
    Cli r = cli("embed", "--input", in.toString(), "--output", f.resolve("sub").toString(), "--model", FakeEmbedderProvider.HASH);
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("is a file, not a folder"), r.err());
    assertFalse(r.err().contains("100%"), "found before any work");
  }

  @Test
  void case06_aFolderTheUserCannotWriteIsFoundUpFront() throws Exception {
    Assumptions.assumeFalse("root".equals(System.getProperty("user.name")), "root can write anywhere");
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("a", "one")));
    Path ro = Files.createDirectories(tmp.resolve("ro"));
    assertTrue(ro.toFile().setWritable(false));
    try {
      UsageException e = assertThrows(UsageException.class, () -> BatchJob.run(spark, config(in, ro.resolve("out")), JOB));
      assertTrue(e.getMessage().contains("not writable"), e.getMessage());
    } finally {
      ro.toFile().setWritable(true);
    }
  }

  @Test
  void case07_aTruncatedGzipIsReadAsFarAsItGoesAndTheRestIsRejectedByName() throws Exception {
    Path dir = tmp.resolve("in");
    TestCorpus.writeLines(dir.resolve("a.jsonl"), List.of(TestCorpus.jsonLine("good-1", "one"), TestCorpus.jsonLine("good-2", "two")));
    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    try (GZIPOutputStream z = new GZIPOutputStream(gz)) {
      for (int i = 0; i < 3000; i++) {
        z.write((TestCorpus.jsonLine("gz-" + i, "text " + i + " " + Integer.toHexString(i * 7919)) + "\n").getBytes(StandardCharsets.UTF_8));
      }
    }
    byte[] all = gz.toByteArray();
    Path bad = dir.resolve("b.jsonl.gz");
    Files.write(bad, java.util.Arrays.copyOf(all, all.length / 2));
    JobSummary s = BatchJob.run(spark, config(dir, tmp.resolve("out")), JOB);
    assertTrue(s.reconciled());
    List<String> ids = writtenIds(tmp.resolve("out"));
    assertTrue(ids.contains("good-1") && ids.contains("good-2"));
    long fromGz = ids.stream().filter(i -> i.startsWith("gz-")).count();
    assertTrue(fromGz > 100 && fromGz < 3000, "the readable part is processed: " + fromGz);
    Map<String, String> r = rejects(tmp.resolve("out"));
    assertEquals(1, r.size(), r.toString());
    Map.Entry<String, String> only = r.entrySet().iterator().next();
    assertTrue(only.getKey().startsWith(bad + ":"), only.getKey());
    assertEquals("read/damaged file", only.getValue());
    assertTrue(rejectDetails(tmp.resolve("out")).get(only.getKey()).contains("b.jsonl.gz"));
  }

  @Test
  void case08_everyParquetFilesSchemaIsCheckedBeforeAnythingIsDeleted() throws Exception {
    Path dir = tmp.resolve("in");
    spark.createDataFrame(List.of(RowFactory.create("1", "x")),
        new StructType().add("id", DataTypes.StringType).add("text", DataTypes.StringType)).write().parquet(dir.resolve("a").toString());
    spark.createDataFrame(List.of(RowFactory.create("2", 5)),
        new StructType().add("id", DataTypes.StringType).add("text", DataTypes.IntegerType)).write().parquet(dir.resolve("b").toString());
    Path out = earlierOutput(tmp.resolve("out"));
    UsageException e = assertThrows(UsageException.class, () -> BatchJob.run(spark, config(dir, out).withOverwrite(true), JOB));
    assertTrue(e.getMessage().contains("/in/b/part-") && e.getMessage().contains("is int, not a string"), e.getMessage());
    assertTrue(Files.exists(out.resolve("_SUMMARY.json")), "the old output is untouched");
  }

  @Test
  void case09_overwriteDeletesOnlyAnOutputOfOurs() throws Exception {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("a", "one")));
    Path notes = Files.createDirectories(tmp.resolve("notes"));
    Files.writeString(notes.resolve("todo.md"), "my notes");
    Cli r = cli("embed", "--input", in.toString(), "--output", notes.toString(), "--model", FakeEmbedderProvider.HASH, "--overwrite");
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("todo.md") && r.err().contains("--overwrite-any"), r.err());
    assertTrue(Files.exists(notes.resolve("todo.md")));
    Path earlier = earlierOutput(tmp.resolve("out"));
    Files.writeString(earlier.resolve("_rejects").resolve("mine.txt"), "x");
    assertThrows(UsageException.class, () -> BatchJob.run(spark, config(in, earlier).withOverwrite(true), JOB),
        "a stranger inside _rejects/ is not ours either");
    Files.delete(earlier.resolve("_rejects").resolve("mine.txt"));
    assertEquals(1, BatchJob.run(spark, config(in, earlier).withOverwrite(true), JOB).written());
  }

  @Test
  void case10_anEarlierOutputInsideTheInputFolderIsSkippedAndSaidSo() {
    Path dir = tmp.resolve("in");
    TestCorpus.writeLines(dir.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("a", "one"), TestCorpus.jsonLine("b", "two")));
    BatchJob.run(spark, config(dir, dir.resolve("emb")).withFormat(OutputFormat.JSONL), JOB);
    JobSummary again = BatchJob.run(spark, config(dir, tmp.resolve("out")), JOB);
    assertEquals(2, again.inputRows(), "the earlier output (part-*.json) is not read as corpus");
    assertEquals(0, again.rejected());
    assertEquals(1, again.inputSkipped().size());
    assertTrue(again.inputSkipped().get(0).endsWith("/in/emb"), again.inputSkipped().toString());
    assertTrue(Outputs.summary(tmp.resolve("out")).get("input_skipped").toString().contains("emb"));
    JobSummary glob = BatchJob.run(spark, config(dir.resolve("*"), tmp.resolve("out-glob")), JOB);
    assertEquals(2, glob.inputRows(), "also when a glob matches the earlier output's folder");
    assertEquals(1, glob.inputSkipped().size());
  }

  @Test
  void case11_textsThatTokenizeToNothingAreRejectedAsEmpty() {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("zw", "\u200b\u200b"),
        TestCorpus.jsonLine("ctl", "\u0001\u0002"), TestCorpus.jsonLine("ok", "fine")));
    BatchJob.run(spark, config(in, tmp.resolve("out")), JOB);
    assertEquals(Map.of("zw", "validate/empty text", "ctl", "validate/empty text"), rejects(tmp.resolve("out")));
    assertEquals(List.of("ok"), writtenIds(tmp.resolve("out")));
  }

  @Test
  void case12_csvRaggedRowsAndEmptyIdsAreRejectedWithLineNumbersLikeEveryFormat() {
    Path csv = TestCorpus.writeLines(tmp.resolve("a.csv"), List.of("id,text", "c1,hello", "c7,too,many,fields,here",
        ",no id", "c9,\"two\nlines, quoted\"", "c10", "c11,\"say \"\"hi\"\"\""));
    BatchJob.run(spark, config(csv, tmp.resolve("out")), JOB);
    assertEquals(Map.of(csv + ":3", "read/ragged CSV row", csv + ":4", "validate/empty id", csv + ":7", "read/ragged CSV row"),
        rejects(tmp.resolve("out")));
    assertEquals(List.of("c1", "c11", "c9"), writtenIds(tmp.resolve("out")));
    Path jsonl = TestCorpus.writeLines(tmp.resolve("a.jsonl"), List.of("{\"id\":\"\",\"text\":\"x\"}", TestCorpus.jsonLine("j", "y")));
    BatchJob.run(spark, config(jsonl, tmp.resolve("out2")), JOB);
    assertEquals(Map.of(jsonl + ":1", "validate/empty id"), rejects(tmp.resolve("out2")), "the same id rule in JSONL");
  }

  @Test
  void case13_messagesAndExitCodesSayWhatToFix() throws Exception {
    Path colon = TestCorpus.writeLines(tmp.resolve("in").resolve("a:b.jsonl"), List.of(TestCorpus.jsonLine("a", "one")));
    Cli c = cli("embed", "--input", colon.toString(), "--output", tmp.resolve("o1").toString(), "--model", FakeEmbedderProvider.HASH);
    assertEquals(2, c.status(), c.err());
    assertTrue(c.err().contains("':' in its name") && !c.err().contains("URISyntaxException"), c.err());
    Cli folder = cli("embed", "--input", tmp.resolve("in").toString(), "--output", tmp.resolve("o1").toString(), "--model", FakeEmbedderProvider.HASH);
    assertEquals(2, folder.status(), folder.err());
    assertTrue(folder.err().contains("a:b.jsonl") && folder.err().contains("rename"), folder.err());

    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("a", "one")));
    Cli master = cli("embed", "--input", in.toString(), "--output", tmp.resolve("o2").toString(), "--master", "bogus://x");
    assertEquals(2, master.status(), master.err());
    assertTrue(master.err().contains("--master 'bogus://x'"), master.err());
    Cli chars = cli("embed", "--input", in.toString(), "--output", tmp.resolve("o3").toString(), "--max-text-chars", "0");
    assertEquals(2, chars.status(), chars.err());
    assertTrue(chars.err().contains("--max-text-chars must be at least 1"), chars.err());
    assertTrue(chars.err().contains("--input-format") && chars.err().contains("--partitions")
        && chars.err().contains("--max-text-chars N"), "the usage line lists every flag: " + chars.err());

    Path model = Files.createDirectories(tmp.resolve("corrupt-model"));
    Files.writeString(model.resolve("config.json"), "{\"hidden_size\": ");
    Files.writeString(model.resolve("tokenizer.json"), "{}");
    Files.writeString(model.resolve("model.safetensors"), "not safetensors");
    UsageException m = assertThrows(UsageException.class,
        () -> BatchJob.run(spark, config(in, tmp.resolve("o4")).withModel(model.toString()).withDevice(DeviceChoice.AUTO), JOB));
    assertFalse(m.getMessage().contains("--device java"), "a corrupt model is not a device problem: " + m.getMessage());
    assertFalse(Files.exists(tmp.resolve("o4")));
  }
}
