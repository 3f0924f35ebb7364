package dev.sparkinfer.jobs.caption;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.jobs.Main;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.models.weights.SafeTensors;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The caption job on Spark local[2] with the llava-tiny fixture on the CPU engine: the fixture's four images through
 * the job give transformers' greedy ids exactly; 500 images (450 good, 50 bad) reconcile, every good one captioned as
 * the reference captions that image; sampling with a seed gives the same captions whatever the batching.
 */
class CaptionJobTest {
  static Path fixture, images;
  static JsonNode meta;
  static int[][] greedy; // the reference's 24 greedy ids per fixture image
  @TempDir Path tmp;

  @BeforeAll
  static void fixture() throws Exception {
    fixture = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures")).resolve("llava-tiny");
    assumeTrue(Files.isDirectory(fixture), "golden fixtures not found at " + fixture.toAbsolutePath());
    meta = new ObjectMapper().readTree(fixture.resolve("expected.json").toFile());
    images = fixture.resolve(meta.path("image_dir").asText()).normalize();
    int n = meta.path("images").size();
    greedy = new int[n][];
    try (SafeTensors want = SafeTensors.open(fixture.resolve("expected.safetensors"))) {
      for (int i = 0; i < n; i++) greedy[i] = Arrays.stream(want.longs("image" + i + "_greedy_ids")).mapToInt(v -> (int) v).toArray();
    }
    TestSpark.session();
  }

  static String image(int i) { return meta.path("images").get(i).asText(); }

  static int run(StringWriter o, StringWriter e, String... args) {
    return Main.execute(new PrintWriter(o, true), new PrintWriter(e, true), args);
  }

  static Map<String, Row> byId(List<Row> rows) {
    Map<String, Row> m = new HashMap<>();
    for (Row r : rows) m.put(r.getString(r.fieldIndex("id")), r);
    return m;
  }

  static int[] ints(Row r, String col) { return r.<Integer>getList(r.fieldIndex(col)).stream().mapToInt(Integer::intValue).toArray(); }

  @Test
  void theFixtureImagesGetTheReferenceGreedyCaptions() throws Exception {
    List<Object> lines = new ArrayList<>();
    for (int i = 0; i < greedy.length; i++) lines.add("{\"id\": \"img" + i + "\", \"image\": " + TestCorpus.quote(image(i)) + "}");
    Path in = TestCorpus.writeLines(tmp.resolve("images.jsonl"), lines);
    Path out = tmp.resolve("captions");
    StringWriter o = new StringWriter(), e = new StringWriter();
    assertEquals(0, run(o, e, "caption", "--model", fixture.toString(), "--input", in.toString(), "--output", out.toString(),
        "--image-root", images.toString(), "--max-new-tokens", "24", "--greedy", "--stop-at-eos", "false", "--device", "cpu",
        "--master", "local[2]", "--captions-per-pass", "3"), e.toString());
    Map<String, Row> rows = byId(Outputs.sparkRows(TestSpark.session(), out, "parquet"));
    for (int i = 0; i < greedy.length; i++) {
      Row r = rows.get("img" + i);
      assertArrayEquals(greedy[i], ints(r, "token_ids"), "image " + i + " greedy ids");
      assertEquals("length", r.getString(r.fieldIndex("finish_reason")));
      assertTrue(!r.getString(r.fieldIndex("caption")).isEmpty());
      assertTrue(r.getDouble(r.fieldIndex("mean_logprob")) < 0);
    }
  }

  @Test
  void fiveHundredImagesWithBadOnesReconcileAndEveryGoodOneIsCaptionedAsTheReference() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("imgs"));
    List<Object> lines = new ArrayList<>();
    Map<String, Integer> which = new HashMap<>();
    for (int k = 0; k < 450; k++) {
      int i = k % greedy.length;
      lines.add("{\"id\": \"g" + k + "\", \"image\": " + TestCorpus.quote(images.resolve(image(i)).toString()) + ", \"src\": \"s" + k + "\"}");
      which.put("g" + k, i);
    }
    for (int k = 0; k < 50; k++) {
      Path f = dir.resolve("bad" + k + ".jpg");
      switch (k % 3) {
        case 0 -> Files.write(f, new byte[0]);
        case 1 -> Files.write(f, "<html>not found</html>".getBytes(StandardCharsets.UTF_8));
        default -> { } // missing
      }
      lines.add("{\"id\": \"b" + k + "\", \"image\": " + TestCorpus.quote(f.toString()) + ", \"src\": \"t" + k + "\"}");
    }
    java.util.Collections.shuffle(lines, new java.util.Random(3));
    Path in = TestCorpus.writeLines(tmp.resolve("many.jsonl"), lines);
    Path out = tmp.resolve("many-captions");
    StringWriter o = new StringWriter(), e = new StringWriter();
    int steps = 6;
    assertEquals(0, run(o, e, "caption", "--model", fixture.toString(), "--input", in.toString(), "--output", out.toString(),
        "--max-new-tokens", "" + steps, "--stop-at-eos", "false", "--keep-cols", "src", "--device", "cpu", "--master", "local[2]",
        "--batch-size", "16", "--captions-per-pass", "8"), e.toString());
    JsonNode counts = Outputs.summary(out).path("counts");
    assertEquals(500, counts.path("input").asLong());
    assertEquals(450, counts.path("written").asLong(), counts.toString());
    assertEquals(50, counts.path("rejected").asLong(), counts.toString());
    assertTrue(counts.path("reconciled").asBoolean());
    Map<String, Row> rows = byId(Outputs.sparkRows(TestSpark.session(), out, "parquet"));
    assertEquals(450, rows.size());
    for (var en : which.entrySet()) {
      Row r = rows.get(en.getKey());
      assertArrayEquals(Arrays.copyOf(greedy[en.getValue()], steps), ints(r, "token_ids"), en.getKey());
      assertEquals("s" + en.getKey().substring(1), r.getString(r.fieldIndex("src")));
    }
    for (Row r : Outputs.sparkRows(TestSpark.session(), out.resolve("_rejects"), "parquet")) {
      assertEquals("image", r.getString(1), r.toString());
      assertTrue(r.getString(0).startsWith("b"), r.toString());
    }
  }

  @Test
  void sampledCaptionsDependOnTheSeedAndTheIdNotOnTheBatching() throws Exception {
    List<Object> lines = new ArrayList<>();
    for (int k = 0; k < 12; k++) lines.add("{\"id\": \"s" + k + "\", \"image\": " + TestCorpus.quote(images.resolve(image(k % greedy.length)).toString()) + "}");
    Path in = TestCorpus.writeLines(tmp.resolve("sample.jsonl"), lines);
    Map<String, List<Integer>> first = null;
    for (String perPass : new String[] {"1", "5"}) {
      Path out = tmp.resolve("sampled-" + perPass);
      StringWriter o = new StringWriter(), e = new StringWriter();
      assertEquals(0, run(o, e, "caption", "--model", fixture.toString(), "--input", in.toString(), "--output", out.toString(),
          "--max-new-tokens", "8", "--temperature", "0.9", "--top-p", "0.95", "--seed", "7", "--device", "cpu", "--master", "local[2]",
          "--captions-per-pass", perPass, "--batch-size", perPass.equals("1") ? "3" : "12"), e.toString());
      Map<String, List<Integer>> got = new HashMap<>();
      for (Row r : Outputs.sparkRows(TestSpark.session(), out, "parquet")) got.put(r.getString(0), r.getList(r.fieldIndex("token_ids")));
      assertEquals(12, got.size());
      if (first == null) first = got;
      else assertEquals(first, got, "the same seed, other batching");
    }
  }

  @Test
  void beamSearchCaptionsEqualTheInProcessModels() throws Exception {
    List<Object> lines = new ArrayList<>();
    for (int i = 0; i < greedy.length; i++) lines.add("{\"id\": \"img" + i + "\", \"image\": " + TestCorpus.quote(images.resolve(image(i)).toString()) + "}");
    Path in = TestCorpus.writeLines(tmp.resolve("beam.jsonl"), lines);
    Path out = tmp.resolve("beam-captions");
    StringWriter o = new StringWriter(), e = new StringWriter();
    int beams = 3, steps = 8;
    assertEquals(0, run(o, e, "caption", "--model", fixture.toString(), "--input", in.toString(), "--output", out.toString(),
        "--max-new-tokens", "" + steps, "--beams", "" + beams, "--device", "cpu", "--master", "local[2]"), e.toString());
    Map<String, Row> rows = byId(Outputs.sparkRows(TestSpark.session(), out, "parquet"));
    String prompt = dev.sparkinfer.jobs.cli.CaptionCommand.DEFAULT_PROMPT;
    try (var ops = dev.sparkinfer.kernels.Devices.open(dev.sparkinfer.kernels.DeviceChoice.CPU, dev.sparkinfer.kernels.EngineConfig.defaults().withCpuThreads(2))) {
      var c = dev.sparkinfer.models.llava.LlavaConfig.read(fixture);
      var encoder = dev.sparkinfer.models.llava.LlavaPrompt.load(fixture, c);
      int[] ids = encoder.encode(prompt);
      var llava = dev.sparkinfer.models.llava.LlavaModel.load(fixture, ops, beams, ids.length + steps);
      var pre = dev.sparkinfer.models.image.ClipImagePreprocessor.fromModelDir(fixture);
      int[] eos = {((dev.sparkinfer.models.decoder.ByteLevelBpe) encoder.tokenizer()).id("<|end_of_text|>"),
          ((dev.sparkinfer.models.decoder.ByteLevelBpe) encoder.tokenizer()).id("<|eot_id|>")};
      eos = Arrays.stream(eos).filter(x -> x >= 0).toArray();
      var gen = new dev.sparkinfer.models.decoder.Generator(llava.languageModel(),
          new dev.sparkinfer.models.decoder.Generator.Settings(steps, 0f, 1f, 0, true, eos, beams, 1f));
      for (int i = 0; i < greedy.length; i++) {
        float[] px = pre.preprocess(Files.readAllBytes(images.resolve(image(i))));
        var want = gen.generate(List.of(ids), new long[] {0}, (first, which, ps) -> llava.prefill(first, ps, new float[][][] {{px}})).get(0);
        assertArrayEquals(want.tokens(), ints(rows.get("img" + i), "token_ids"), "image " + i + " beam search");
      }
    }
  }
}
