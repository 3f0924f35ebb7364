package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sparkinfer.jobs.embed.EmbedJob;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.jobs.write.OutputFormat;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.models.Embedding;
import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.udf.model.EmbedderCache;
import java.util.Comparator;
import java.util.TreeSet;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job end to end on Spark local[2] with the real default model (all-MiniLM-L6-v2 on the CPU engine, what
 * {@code --device auto} runs on a machine without an OpenCL GPU; RealModelEmbedJobTest runs the job on OpenCL): a 10,000-row
 * corpus (plus planted bad rows and a few texts over the model's 256 tokens) in JSONL and in Parquet; every id exactly
 * once across output and rejects, every embedding within 1e-5 of the in-process {@link Embedder} (the JVM's cached
 * model, run here on the same texts in other batches), token counts and truncation flags equal, output read back by
 * Spark and by Arrow's file reader.
 *
 * <p>Model: {@code -Dsparkinfer.e2eModel} (default: {@code default}; {@code test:hash} is the deterministic test model)
 * and {@code -Dsparkinfer.e2eDevice} (default: cpu for the real model). A model failing on a row (stage embed) is
 * covered by BadInputTest.
 */
class EmbedJobEndToEndTest {
  static final int ROWS = 10_000;
  static final long SEED = 42;
  static final String MODEL_SPEC = System.getProperty("sparkinfer.e2eModel", "default");
  static final DeviceChoice DEVICE = DeviceChoice.parse(System.getProperty("sparkinfer.e2eDevice",
      MODEL_SPEC.equals("default") ? "cpu" : "java"));
  static final dev.sparkinfer.jobs.JobSpec.Factory JOB = EmbedJob::new;
  static SparkSession spark;
  static Embedder model;
  /** The in-process model's answer for every distinct text of the corpus, computed once for both tests. */
  static Map<String, Embedding> reference;

  @TempDir Path tmp;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    model = EmbedderCache.get(MODEL_SPEC, DEVICE);
    if (DEVICE != DeviceChoice.JAVA && DEVICE != DeviceChoice.AUTO) {
      // the model must say it runs where it was asked to (opencl is strict: no kernel falls back to Java threads)
      assertTrue(model.deviceDescription().startsWith(DEVICE.name().toLowerCase(java.util.Locale.ROOT)),
          "real model not on " + DEVICE + ": " + model.deviceDescription());
    }
    reference = embedInProcess(corpusRows().stream().map(r -> r[1]).toList());
  }

  /** Distinct texts, longest first, in batches of 32: other batches than the job's. */
  static Map<String, Embedding> embedInProcess(List<String> texts) {
    List<String> distinct = new ArrayList<>(new TreeSet<>(texts));
    distinct.sort(Comparator.comparingInt(String::length).reversed());
    Map<String, Embedding> out = new HashMap<>();
    for (int i = 0; i < distinct.size(); i += 32) {
      List<String> batch = new ArrayList<>(distinct.subList(i, Math.min(distinct.size(), i + 32)));
      List<Embedding> e = model.embedDetailed(batch);
      for (int j = 0; j < batch.size(); j++) out.put(batch.get(j), e.get(j));
    }
    return out;
  }

  /** The good rows of both corpora: generated texts, every 1000th one made longer than the model's max length. */
  static List<String[]> corpusRows() {
    List<String[]> rows = TestCorpus.rows(ROWS, SEED);
    for (int i = 500; i < rows.size(); i += 1000) {
      rows.get(i)[1] = (rows.get(i)[1] + " ").repeat(400 / Math.max(1, rows.get(i)[1].split(" ").length) + 1).trim();
    }
    return rows;
  }

  /** The ids a corpus holds, with how often, and what should happen to each. */
  record Expected(Map<String, Integer> idCounts, Map<String, String> texts, Map<String, String> rejectStage) {}

  private static Expected jsonlCorpus(Path file) {
    List<Object> lines = new ArrayList<>();
    Map<String, Integer> ids = new HashMap<>();
    Map<String, String> texts = new HashMap<>();
    Map<String, String> rejects = new HashMap<>();
    for (String[] r : corpusRows()) {
      lines.add(TestCorpus.jsonLine(r[0], r[1]));
      ids.merge(r[0], 1, Integer::sum);
      texts.put(r[0], r[1]);
    }
    // planted bad rows, spread through the file
    lines.add(100, TestCorpus.jsonLine("null-text", null));
    lines.add(200, TestCorpus.jsonLine("empty-text", ""));
    lines.add(300, TestCorpus.invalidUtf8JsonLine("bad-utf8"));
    lines.add(500, TestCorpus.jsonLine("doc-7", texts.get("doc-7"))); // a duplicate id: both rows kept
    lines.add(600, "{\"id\": \"broken-json\", \"text\": ");
    for (String id : List.of("null-text", "empty-text", "bad-utf8")) ids.put(id, 1);
    ids.merge("doc-7", 1, Integer::sum);
    rejects.put("null-text", "validate");
    rejects.put("empty-text", "validate");
    rejects.put("bad-utf8", "read");
    TestCorpus.writeLines(file, lines);
    // the unparsable line is rejected under file:line (line numbers are 1-based)
    String brokenId = file.toString() + ":601";
    ids.put(brokenId, 1);
    rejects.put(brokenId, "read");
    return new Expected(ids, texts, rejects);
  }

  @Test
  void jsonlCorpusToParquet() {
    Path input = tmp.resolve("corpus.jsonl");
    Expected expected = jsonlCorpus(input);
    Path out = tmp.resolve("out");
    JobSummary summary = BatchJob.run(spark, JobConfig.of(input.toString(), out.toString()).withModel(MODEL_SPEC)
        .withDevice(DEVICE), JOB);

    List<Row> data = Outputs.sparkRows(spark, out, "parquet");
    List<Row> rejects = Outputs.sparkRows(spark, out.resolve("_rejects"), "parquet");
    checkEveryIdOnce(expected, data.stream().map(r -> r.getString(0)).toList(), rejects);
    checkEmbeddings(expected, data);
    assertEquals(expected.idCounts.values().stream().mapToInt(i -> i).sum(), summary.inputRows());
    assertEquals(rejects.size(), summary.rejected());
    assertTrue(summary.reconciled());
    assertEquals(Map.of("read", 2L, "validate", 2L), summary.rejectedByStage());

    JsonNode s = Outputs.summary(out);
    assertEquals(summary.inputRows(), s.at("/counts/input").asLong());
    assertEquals(s.at("/counts/input").asLong(), s.at("/counts/written").asLong() + s.at("/counts/rejected").asLong());
    assertEquals(model.modelName(), s.get("model").asText());
    assertEquals(model.deviceDescription(), s.get("device").asText());
    assertEquals(spark.sparkContext().master(), s.get("spark_master").asText());
    assertTrue(s.get("rows_per_s").asDouble() > 0);
  }

  @Test
  void parquetCorpusToArrowIpc() {
    // a Parquet corpus with other column names, ids as numbers, and null / empty texts
    StructType schema = new StructType().add("doc_id", DataTypes.LongType).add("body", DataTypes.StringType)
        .add("lang", DataTypes.StringType);
    List<Row> rows = new ArrayList<>();
    Map<String, Integer> ids = new HashMap<>();
    Map<String, String> texts = new HashMap<>();
    Map<String, String> rejectStage = new HashMap<>();
    int i = 0;
    for (String[] r : corpusRows()) {
      String text = i == 10 ? null : i == 20 ? "  " : r[1];
      rows.add(RowFactory.create((long) i, text, "en"));
      ids.put(String.valueOf(i), 1);
      if (text == null || text.isBlank()) rejectStage.put(String.valueOf(i), "validate");
      else texts.put(String.valueOf(i), text);
      i++;
    }
    Path input = tmp.resolve("corpus.parquet");
    spark.createDataFrame(rows, schema).repartition(3).write().parquet(input.toString());
    Expected expected = new Expected(ids, texts, rejectStage);

    Path out = tmp.resolve("out-arrow");
    JobSummary summary = BatchJob.run(spark, JobConfig.of(input.toString(), out.toString()).withModel(MODEL_SPEC)
        .withDevice(DEVICE).withColumns("doc_id", "body").withFormat(OutputFormat.ARROW).withBatchSize(16), JOB);
    assertTrue(summary.reconciled());
    assertEquals("parquet", summary.inputFormat());

    // Arrow's own reader: FixedSizeList<float32>[dim] embeddings, every id once
    List<Schema> schemas = new ArrayList<>();
    List<Object[]> data = Outputs.arrowRows(out, schemas);
    assertFalse(schemas.isEmpty());
    assertEquals(new ArrowType.FixedSizeList(model.dimension()), schemas.get(0).findField("embedding").getType());
    List<Object[]> rejectRows = Outputs.arrowRows(out.resolve("_rejects"), null);
    List<Row> rejects = rejectRows.stream().map(r -> RowFactory.create(r)).toList();
    checkEveryIdOnce(expected, data.stream().map(r -> (String) r[0]).toList(), rejects);
    double worst = 0;
    int truncated = 0;
    for (Object[] r : data) {
      Embedding e = reference.get(texts.get((String) r[0]));
      worst = Math.max(worst, maxDiff(e.vector(), (float[]) r[1], (String) r[0]));
      assertEquals(e.nTokens(), r[2], "n_tokens of " + r[0]);
      assertEquals(e.truncated(), r[3], "truncated of " + r[0]);
      assertEquals(model.modelName(), r[4]);
      if ((Boolean) r[3]) truncated++;
    }
    assertTrue(worst <= 1e-5, "max |diff| over " + data.size() + " rows: " + worst);
    assertTrue(truncated >= ROWS / 1000, "the long rows are truncated and flagged: " + truncated);
    System.err.printf("EmbedJobEndToEndTest parquet -> arrow: %,d rows written, max |diff| %.2e vs the in-process model %s on %s%n",
        data.size(), worst, model.modelName(), model.deviceDescription());
  }

  @Test
  void jsonlOutputHasTheSameFieldsAndIsReadableBySpark() {
    Path input = TestCorpus.writeLines(tmp.resolve("small.jsonl"),
        List.of(TestCorpus.jsonLine("a", "first text"), TestCorpus.jsonLine("b", ""), TestCorpus.jsonLine("c", "third")));
    Path out = tmp.resolve("out-jsonl");
    JobSummary summary = BatchJob.run(spark, JobConfig.of(input.toString(), out.toString()).withModel(MODEL_SPEC)
        .withDevice(DEVICE).withFormat(OutputFormat.JSONL), JOB);
    assertEquals(2, summary.written());
    List<Row> data = Outputs.sparkRows(spark, out, "jsonl");
    assertEquals(List.of("embedding", "id", "model", "n_tokens", "truncated"), List.of(data.get(0).schema().fieldNames()));
    List<Row> rejects = Outputs.sparkRows(spark, out.resolve("_rejects"), "jsonl");
    assertEquals(1, rejects.size());
    assertEquals("b", rejects.get(0).getAs("id"));
    assertEquals("validate", rejects.get(0).getAs("stage"));
    for (Row r : data) {
      String text = r.getAs("id").equals("a") ? "first text" : "third";
      List<Double> got = r.getList(r.fieldIndex("embedding"));
      float[] want = model.embed(text);
      for (int j = 0; j < want.length; j++) assertEquals(want[j], got.get(j), 1e-6);
    }
  }

  static void checkEveryIdOnce(Expected expected, List<String> dataIds, List<Row> rejects) {
    Map<String, Integer> seen = new HashMap<>();
    dataIds.forEach(id -> seen.merge(id, 1, Integer::sum));
    for (Row r : rejects) {
      String id = r.getString(0);
      seen.merge(id, 1, Integer::sum);
      assertEquals(expected.rejectStage.get(id), r.getString(1), "reject stage of " + id + ": " + r);
      assertNotNull(r.getString(2), "reason of " + id);
    }
    assertEquals(expected.idCounts, seen, "every input row exactly once across output and rejects");
    assertEquals(expected.rejectStage.size(), rejects.size());
  }

  static void checkEmbeddings(Expected expected, List<Row> data) {
    double worst = 0;
    int truncated = 0;
    for (Row r : data) {
      String id = r.getString(0);
      Embedding e = reference.get(expected.texts.get(id));
      List<Float> got = r.getList(1);
      float[] v = new float[got.size()];
      for (int j = 0; j < v.length; j++) v[j] = got.get(j);
      worst = Math.max(worst, maxDiff(e.vector(), v, id));
      assertEquals(e.nTokens(), r.getInt(2), "n_tokens of " + id);
      assertEquals(e.truncated(), r.getBoolean(3), "truncated of " + id);
      if (r.getBoolean(3)) truncated++;
    }
    assertTrue(worst <= 1e-5, "max |diff| over " + data.size() + " rows: " + worst);
    assertTrue(truncated >= ROWS / 1000, "the long rows are truncated and flagged: " + truncated);
    System.err.printf("EmbedJobEndToEndTest jsonl -> parquet: %,d rows written, max |diff| %.2e vs the in-process model %s on %s%n",
        data.size(), worst, model.modelName(), model.deviceDescription());
  }

  static double maxDiff(float[] want, float[] got, String id) {
    assertEquals(want.length, got.length, "width of " + id);
    double max = 0;
    for (int j = 0; j < want.length; j++) max = Math.max(max, Math.abs(want[j] - got[j]));
    return max;
  }
}
