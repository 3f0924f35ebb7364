package dev.sparkinfer.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.jobs.Main;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Pruning;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.schemas.EmbeddingsTable;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --quantize} and {@code --prune}: bad values fail before any job with what to fix; the settings reach the model
 * inside the job's serialized {@link EngineConfig} (no JVM-wide property is set), and the recorded model name says what
 * was applied.
 */
class WeightOptionsTest {
  @TempDir Path tmp;

  record Result(int status, String out, String err) {}

  static Result run(String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int status = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Result(status, out.toString(), err.toString());
  }

  static Path fixture(String name) {
    Path p = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures")).resolve(name);
    assumeTrue(Files.isDirectory(p), "golden fixtures not found at " + p.toAbsolutePath());
    return p;
  }

  @Test
  void badValuesFailBeforeTheJobSayingWhatToFix() throws Exception {
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), List.of(TestCorpus.jsonLine("1", "hello")));
    Result q = run("embed", "--input", in.toString(), "--output", tmp.resolve("o1").toString(), "--quantize", "int3");
    assertEquals(2, q.status);
    assertTrue(q.err.contains("--quantize) must be none, int8 or int4, got 'int3'"), q.err);
    Result p = run("embed", "--input", in.toString(), "--output", tmp.resolve("o2").toString(), "--prune", "3:4");
    assertEquals(2, p.status);
    assertTrue(p.err.contains("--prune (sparkinfer.prune) must be none, unstructured:F"), p.err);
    Result f = run("embed", "--input", in.toString(), "--output", tmp.resolve("o3").toString(), "--prune", "unstructured:1.5");
    assertEquals(2, f.status);
    assertTrue(f.err.contains("needs 0 <= F < 1"), f.err);
    Path llama = fixture("llama-tiny");
    Result g = run("generate", "--model", llama.toString(), "--input", in.toString(), "--output", tmp.resolve("o4").toString(),
        "--prune", "unstructured:half");
    assertEquals(2, g.status);
    assertTrue(g.err.contains("needs a fraction F such as 0.5, got 'half'"), g.err);
    Result clip = run("clip-score", "--model", fixture("clip-tiny-hf").toString(), "--input", in.toString(), "--output",
        tmp.resolve("o5").toString(), "--prune", "1:2");
    assertEquals(2, clip.status);
    assertTrue(clip.err.contains("--prune (sparkinfer.prune) must be none, unstructured:F"), clip.err);
    for (String o : List.of("o1", "o2", "o3", "o4", "o5")) assertTrue(!Files.exists(tmp.resolve(o)), o + ": nothing may be written");
    for (String cmd : List.of("embed", "teacher-labels", "generate", "caption", "clip-score", "clip-filter", "clip-classify")) {
      Result h = run(cmd, "--help");
      assertTrue(h.out.contains("--quantize") && h.out.contains("--prune"), cmd + " --help lacks the flags:\n" + h.out);
    }
  }

  @Test
  void theFlagsTravelInTheSerializedEngineConfig() throws Exception {
    WeightOptions w = new WeightOptions();
    w.quantize = "int4";
    w.prune = "unstructured:0.5";
    EngineConfig e = w.engine();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream o = new ObjectOutputStream(bytes)) { o.writeObject(e); }
    EngineConfig back;
    try (ObjectInputStream i = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) { back = (EngineConfig) i.readObject(); }
    assertEquals(Quantization.INT4, back.quantize());
    assertEquals(Pruning.unstructured(0.5), back.prune());
    assertEquals("+prune0.5+int4", back.weightsSuffix());
    assertNull(System.getProperty("sparkinfer.quantize"));
    assertNull(System.getProperty("sparkinfer.prune"));
  }

  @Test
  void embedRecordsWhatWasApplied() throws Exception {
    TestSpark.session();
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"),
        List.of(TestCorpus.jsonLine("1", "a pruned and quantized model"), TestCorpus.jsonLine("2", "says so in its name")));
    Path out = tmp.resolve("out");
    Result ok = run("embed", "--input", in.toString(), "--output", out.toString(), "--device", "java", "--master", "local[2]",
        "--format", "parquet", "--quantize", "int8", "--prune", "2:4");
    assertEquals(0, ok.status, ok.err);
    assertNull(System.getProperty("sparkinfer.quantize"), "the flags set no JVM-wide property");
    List<Row> rows = Outputs.sparkRows(TestSpark.session(), out, "parquet");
    assertEquals(2, rows.size());
    for (Row r : rows) assertEquals("all-MiniLM-L6-v2+prune2:4+int8", r.getAs(EmbeddingsTable.MODEL));
    assertEquals("all-MiniLM-L6-v2+prune2:4+int8", Outputs.summary(out).path("model").asText());
  }

  @Test
  void teacherLabelsRecordWhatWasApplied() throws Exception {
    Path model = fixture("gpt2-tiny");
    TestSpark.session();
    Path in = TestCorpus.writeLines(tmp.resolve("t.jsonl"), List.of(TestCorpus.jsonLine("1", "hello world, once more")));
    Path out = tmp.resolve("labels");
    Result ok = run("teacher-labels", "--model", model.toString(), "--input", in.toString(), "--output", out.toString(),
        "--device", "java", "--master", "local[2]", "--top-k", "3", "--max-length", "16", "--quantize", "int4");
    assertEquals(0, ok.status, ok.err);
    JsonNode config = new ObjectMapper().readTree(Files.readAllBytes(out.resolve(TeacherLabelsCommand.CONFIG_FILE)));
    assertEquals("gpt2-tiny+int4", config.path("model").asText());
    Row r = Outputs.sparkRows(TestSpark.session(), out, "parquet").get(0);
    assertEquals("gpt2-tiny+int4", r.getAs("model"));
  }
}
