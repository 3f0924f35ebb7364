package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.*;

import dev.sparkinfer.jobs.embed.EmbedJob;
import dev.sparkinfer.jobs.io.InputFormat;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.TaskConfig;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import dev.sparkinfer.udf.testing.FakeHashEmbedder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each kind of bad input, on real Spark with the fake model: rejected with a stage and reason, or refused up front. */
class BadInputTest {
  static SparkSession spark;
  static final dev.sparkinfer.jobs.JobSpec.Factory JOB = EmbedJob::new;

  @TempDir Path tmp;

  @BeforeAll
  static void start() { spark = TestSpark.session(); }

  JobConfig config(Path in, Path out) {
    return JobConfig.of(in.toString(), out.toString()).withModel(FakeEmbedderProvider.HASH).withDevice(DeviceChoice.JAVA)
        .withPartitions(2);
  }

  /** Runs the job and returns rejects by id as "stage/reason". */
  Map<String, String> rejects(JobConfig cfg) {
    JobSummary s = BatchJob.run(spark, cfg, JOB);
    assertTrue(s.reconciled());
    Map<String, String> out = new HashMap<>();
    for (Row r : Outputs.sparkRows(spark, Path.of(cfg.output()).resolve("_rejects"), "parquet")) {
      out.put(r.getString(0), r.getString(1) + "/" + r.getString(2));
    }
    return out;
  }

  Map<String, Row> written(Path out) {
    Map<String, Row> m = new HashMap<>();
    for (Row r : Outputs.sparkRows(spark, out, "parquet")) m.put(r.getString(0), r);
    return m;
  }

  @Test
  void nullAndEmptyTextsAreRejectedAtValidate() {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("ok", "fine"),
        TestCorpus.jsonLine("null", null), "{\"id\": \"missing\"}", TestCorpus.jsonLine("empty", ""),
        TestCorpus.jsonLine("blank", " \t "), "{\"id\": \"number\", \"text\": 42}", "{\"text\": \"no id here\"}"));
    Map<String, String> r = rejects(config(in, tmp.resolve("out")));
    assertEquals("validate/null text", r.get("null"));
    assertEquals("validate/null text", r.get("missing"));
    assertEquals("validate/empty text", r.get("empty"));
    assertEquals("validate/empty text", r.get("blank"));
    assertEquals("validate/text is not a string", r.get("number"));
    assertEquals("validate/null id", r.get(in + ":7"), "a row without id is rejected under file:line");
    assertEquals(6, r.size());
    assertEquals(List.of("ok"), List.copyOf(written(tmp.resolve("out")).keySet()));
  }

  @Test
  void invalidUtf8IsRejectedAtReadWithItsIdOrFileLine() throws Exception {
    Path jsonl = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("ok", "fine"),
        TestCorpus.invalidUtf8JsonLine("bad"), new byte[] {'{', (byte) 0xFF, '}'}));
    Map<String, String> r = rejects(config(jsonl, tmp.resolve("out1")));
    assertEquals("read/invalid UTF-8", r.get("bad"), "the id is still readable: kept");
    assertEquals("read/invalid UTF-8", r.get(jsonl + ":3"), "no readable id: file:line");

    Path text = TestCorpus.writeLines(tmp.resolve("c.txt"), List.of("a good line", new byte[] {'b', 'a', 'd', (byte) 0xC3},
        "", "another good line"));
    Map<String, String> rt = rejects(config(text, tmp.resolve("out2")));
    assertEquals(Map.of(text + ":2", "read/invalid UTF-8"), rt);
    assertEquals(Map.of(text + ":1", "a good line", text + ":4", "another good line").keySet(),
        written(tmp.resolve("out2")).keySet(), "plain text ids are file:line; blank lines are not documents");

    // Parquet strings are bytes underneath: a binary text column with bad bytes is caught as well
    StructType schema = new StructType().add("id", DataTypes.StringType).add("text", DataTypes.BinaryType);
    Path pq = tmp.resolve("c.parquet");
    spark.createDataFrame(List.of(RowFactory.create("p-ok", "fine".getBytes(StandardCharsets.UTF_8)),
        RowFactory.create("p-bad", new byte[] {'x', (byte) 0x80}), RowFactory.create(null, "no id".getBytes(StandardCharsets.UTF_8))),
        schema).coalesce(1).write().parquet(pq.toString());
    Map<String, String> rp = rejects(config(pq, tmp.resolve("out3")));
    assertEquals("read/invalid UTF-8", rp.get("p-bad"));
    assertTrue(rp.entrySet().stream().anyMatch(e -> e.getKey().endsWith(":row-3") && e.getValue().equals("validate/null id")), rp.toString());
  }

  @Test
  void unparsableJsonIsRejectedAtRead() {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("ok", "fine"), "{not json",
        "[1, 2]", TestCorpus.jsonLine("ok2", "x") + " trailing"));
    Map<String, String> r = rejects(config(in, tmp.resolve("out")));
    assertEquals("read/unparsable JSON", r.get(in + ":2"));
    assertEquals("read/not a JSON object", r.get(in + ":3"));
    assertEquals("read/unparsable JSON", r.get(in + ":4"));
  }

  @Test
  void longTextsAreTruncatedAndFlaggedNotRejected() {
    String longText = "many words ".repeat(200);
    String huge = "x".repeat(5000);
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("long", longText),
        TestCorpus.jsonLine("huge", huge), TestCorpus.jsonLine("short", "short text")));
    Map<String, String> r = rejects(config(in, tmp.resolve("out")).withTask(new TaskConfig(1000, 10)));
    assertTrue(r.isEmpty(), r.toString());
    Map<String, Row> w = written(tmp.resolve("out"));
    assertTrue(w.get("long").getBoolean(3), "over the model's token limit: truncated by the model");
    assertEquals(FakeHashEmbedder.MAX_TOKENS, w.get("long").getInt(2));
    assertTrue(w.get("huge").getBoolean(3), "over --max-text-chars: cut before tokenizing");
    assertFalse(w.get("short").getBoolean(3));
  }

  @Test
  void duplicateIdsAreBothKept() {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("same", "first text"),
        TestCorpus.jsonLine("same", "second text"), TestCorpus.jsonLine("other", "third")));
    assertTrue(rejects(config(in, tmp.resolve("out"))).isEmpty());
    List<Row> rows = Outputs.sparkRows(spark, tmp.resolve("out"), "parquet");
    assertEquals(2, rows.stream().filter(x -> x.getString(0).equals("same")).count());
    assertEquals(3, rows.size());
  }

  @Test
  void aRowTheModelFailsOnIsRejectedAloneAtEmbed() {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("a", "one"),
        TestCorpus.jsonLine("b", "two " + FakeHashEmbedder.FAIL_MARKER), TestCorpus.jsonLine("c", "three")));
    assertEquals(Map.of("b", "embed/model failed on this row"), rejects(config(in, tmp.resolve("out")).withPartitions(1)));
    assertEquals(2, written(tmp.resolve("out")).size());
  }

  @Test
  void missingColumnsFailBeforeTheJobListingTheColumnsThatExist() {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of("{\"doc\": \"1\", \"body\": \"text\", \"lang\": \"en\"}"));
    UsageException e = assertThrows(UsageException.class, () -> BatchJob.run(spark, config(in, tmp.resolve("out")), JOB));
    assertTrue(e.getMessage().contains("no id column 'id' (--id-col) and no text column 'text' (--text-col)"), e.getMessage());
    assertTrue(e.getMessage().contains("[body, doc, lang]"), e.getMessage());
    assertFalse(Files.exists(tmp.resolve("out")), "nothing was written");

    StructType schema = new StructType().add("id", DataTypes.StringType).add("content", DataTypes.StringType);
    Path pq = tmp.resolve("c.parquet");
    spark.createDataFrame(List.of(RowFactory.create("1", "x")), schema).write().parquet(pq.toString());
    UsageException ep = assertThrows(UsageException.class, () -> BatchJob.run(spark, config(pq, tmp.resolve("out")), JOB));
    assertTrue(ep.getMessage().contains("no text column 'text' (--text-col); the columns that exist are [id, content]"), ep.getMessage());
    StructType numeric = new StructType().add("id", DataTypes.StringType).add("text", DataTypes.IntegerType);
    Path pn = tmp.resolve("n.parquet");
    spark.createDataFrame(List.of(RowFactory.create("1", 5)), numeric).write().parquet(pn.toString());
    UsageException type = assertThrows(UsageException.class, () -> BatchJob.run(spark, config(pn, tmp.resolve("out")), JOB));
    assertTrue(type.getMessage().contains("is int, not a string"), type.getMessage());
  }

  @Test
  void nonexistentInputFailsBeforeTheJob() {
    UsageException e = assertThrows(UsageException.class,
        () -> BatchJob.run(spark, config(tmp.resolve("nope.jsonl"), tmp.resolve("out")), JOB));
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    UsageException g = assertThrows(UsageException.class,
        () -> BatchJob.run(spark, config(tmp.resolve("*.parquet"), tmp.resolve("out")), JOB));
    assertTrue(g.getMessage().contains("does not exist"), g.getMessage());
    TestCorpus.writeLines(tmp.resolve("notes.md"), List.of("hello"));
    UsageException f = assertThrows(UsageException.class,
        () -> BatchJob.run(spark, config(tmp.resolve("notes.md"), tmp.resolve("out")), JOB));
    assertTrue(f.getMessage().contains("--input-format"), f.getMessage());
    assertEquals(0, BatchJob.run(spark, config(tmp.resolve("notes.md"), tmp.resolve("out-md"))
        .withInputFormat(InputFormat.TEXT), JOB).rejected(), "with --input-format text it reads");
  }

  @Test
  void existingOutputNeedsOverwrite() throws Exception {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("a", "one")));
    Path out = tmp.resolve("out");
    Files.createDirectories(out);
    Files.writeString(out.resolve("keep.txt"), "old");
    UsageException e = assertThrows(UsageException.class, () -> BatchJob.run(spark, config(in, out), JOB));
    assertTrue(e.getMessage().contains("already exists") && e.getMessage().contains("--overwrite"), e.getMessage());
    assertTrue(Files.exists(out.resolve("keep.txt")), "untouched");
    UsageException notOurs = assertThrows(UsageException.class, () -> BatchJob.run(spark, config(in, out).withOverwrite(true), JOB));
    assertTrue(notOurs.getMessage().contains("did not write (keep.txt)") && notOurs.getMessage().contains("--overwrite-any"),
        notOurs.getMessage());
    assertTrue(Files.exists(out.resolve("keep.txt")), "--overwrite leaves a folder that is not an output of ours alone");
    BatchJob.run(spark, config(in, out).withOverwrite(JobConfig.Overwrite.ANY), JOB);
    assertFalse(Files.exists(out.resolve("keep.txt")), "replaced with --overwrite-any");
    assertEquals(1, written(out).size());
    BatchJob.run(spark, config(in, out).withOverwrite(true), JOB);
    assertEquals(1, written(out).size(), "an earlier output of ours is replaced with --overwrite");
    UsageException self = assertThrows(UsageException.class,
        () -> BatchJob.run(spark, config(out.resolve("_SUMMARY.json"), out).withInputFormat(InputFormat.TEXT).withOverwrite(true), JOB));
    assertTrue(self.getMessage().contains("inside --output"), self.getMessage());
  }

  @Test
  void unknownModelFolderFailsBeforeTheJob() {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("a", "one")));
    UsageException e = assertThrows(UsageException.class,
        () -> BatchJob.run(spark, config(in, tmp.resolve("out")).withModel(tmp.resolve("no-such-model").toString()), JOB));
    assertTrue(e.getMessage().contains("neither 'default' nor an existing folder"), e.getMessage());
    UsageException incomplete = assertThrows(UsageException.class,
        () -> BatchJob.run(spark, config(in, tmp.resolve("out")).withModel(tmp.toString()), JOB));
    assertTrue(incomplete.getMessage().contains("lacks config.json, tokenizer.json"), incomplete.getMessage());
  }

  @Test
  void aBrokenModelFailsTheJobInsteadOfRejectingTheCorpus() {
    List<String> lines = new java.util.ArrayList<>();
    for (int i = 0; i < 40; i++) lines.add(TestCorpus.jsonLine("r" + i, "text " + i));
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), lines);
    Exception e = assertThrows(Exception.class, () -> BatchJob.run(spark, config(in, tmp.resolve("out"))
        .withModel(FakeEmbedderProvider.BROKEN).withTask(new TaskConfig(1000, 5)), JOB));
    StringBuilder chain = new StringBuilder();
    for (Throwable c = e; c != null; c = c.getCause()) chain.append(c).append('\n');
    assertTrue(chain.toString().contains("failed on 5 rows in a row") && chain.toString().contains("not bad input"), chain.toString());
    assertFalse(Files.exists(tmp.resolve("out").resolve("_SUMMARY.json")), "no summary for a failed job");
  }

  @Test
  void csvCorpusIsRead() {
    Path in = TestCorpus.writeLines(tmp.resolve("c.csv"), List.of("id,text,extra", "1,\"hello, world\",x",
        "2,\"a \"\"quoted\"\" word\nover two lines\",y", "3,,z"));
    Map<String, String> r = rejects(config(in, tmp.resolve("out")));
    assertEquals(Map.of("3", "validate/empty text"), r, "CSV has no null: an empty field is the empty string");
    assertEquals(2, written(tmp.resolve("out")).size());
  }
}
