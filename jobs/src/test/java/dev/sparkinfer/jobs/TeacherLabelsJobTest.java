package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.jobs.cli.TeacherLabelsCommand;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.TestTexts;
import dev.sparkinfer.models.decoder.TeacherLabeler;
import dev.sparkinfer.schemas.TeacherLabelsTable;
import dev.sparkinfer.schemas.TeacherLabelsTable.LogprobEncoding;
import dev.sparkinfer.udf.model.DecoderCache;
import dev.sparkinfer.udf.teacher.TeacherConfig;
import dev.sparkinfer.udf.teacher.TeacherLabelTask;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The teacher-labels job end to end on Spark local[2] with gpt2-tiny (the fixture's folder: GPT-2's real BPE files) on
 * the CPU engine: 2,000 texts, many longer than the 32-token window (stride 16), plus an empty and a null text. Every
 * text is written once or rejected; every position of every written text is labelled (n_tokens positions, n x k ids and
 * log-probs) and equals the in-process labeler on the same tokens; the config file records the run's settings.
 */
class TeacherLabelsJobTest {
  @TempDir Path tmp;

  @Test
  void everyPositionOfEveryTextIsLabelledOnceAndEqualsTheInProcessTeacher() throws Exception {
    Path model = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures")).resolve("gpt2-tiny");
    assumeTrue(Files.isDirectory(model), "golden fixtures not found at " + model.toAbsolutePath());
    TestSpark.session();
    List<String> texts = TestTexts.generate(2000, 17);
    List<Object> lines = new ArrayList<>();
    Map<String, String> byId = new HashMap<>();
    for (int i = 0; i < texts.size(); i++) {
      lines.add(TestCorpus.jsonLine("t" + i, texts.get(i)));
      byId.put("t" + i, texts.get(i));
    }
    lines.add(TestCorpus.jsonLine("one", "Hello")); // one GPT-2 token: labelled, no next-token target, noted
    byId.put("one", "Hello");
    lines.add(TestCorpus.jsonLine("empty", ""));
    lines.add("{\"id\": \"null\", \"text\": null}");
    Path in = TestCorpus.writeLines(tmp.resolve("texts.jsonl"), lines);
    Path out = tmp.resolve("labels");
    int k = 5, window = 32, stride = 16;
    StringWriter o = new StringWriter(), e = new StringWriter();
    int status = Main.execute(new PrintWriter(o, true), new PrintWriter(e, true), "teacher-labels", "--model", model.toString(),
        "--input", in.toString(), "--output", out.toString(), "--device", "cpu", "--master", "local[2]", "--top-k", "" + k,
        "--temperature", "2.0", "--max-length", "" + window, "--stride", "" + stride, "--logprob-dtype", "float32",
        "--batch-size", "64");
    assertEquals(0, status, e.toString());
    long blank = texts.stream().filter(String::isBlank).count(); // the generator's empty texts are rejected too
    int written = (int) (texts.size() - blank) + 1;
    assertTrue(o.toString().contains(String.format("2,003 rows in, %,d written, %d rejected", written, blank + 2)), o.toString());
    assertTrue(o.toString().contains("stored bytes per token: " + (4 + k * 8 + 4)), o.toString());

    JsonNode config = new ObjectMapper().readTree(Files.readAllBytes(out.resolve(TeacherLabelsCommand.CONFIG_FILE)));
    assertEquals(2.0, config.path("temperature").asDouble());
    assertEquals(k, config.path("top_k").asInt());
    assertEquals(window, config.path("max_length").asInt());
    assertEquals(stride, config.path("stride").asInt());
    assertEquals("float32", config.path("logprob_dtype").asText());
    assertEquals(64, config.path("tokenizer_sha256").asText().length());

    // the in-process teacher (this JVM's, as the job's local executor) on each text's tokens
    TeacherConfig tc = new TeacherConfig(model.toAbsolutePath().normalize().toString(), null, k, 2f, window, stride,
        LogprobEncoding.FLOAT32, 4, 100_000);
    DecoderCache.Teacher teacher = DecoderCache.get(tc.modelDir(), tc.loraDir(), tc.windowsPerPass(), tc.maxLength(), DeviceChoice.CPU, EngineConfig.fromSystemProperties());
    TeacherLabeler labeler = new TeacherLabeler(teacher.model(), tc.settings(), 4 * window);
    List<Row> rows = Outputs.sparkRows(TestSpark.session(), out, "parquet");
    assertEquals(written, rows.size());
    // every text's tokens through the in-process labeler in one call (its own batching of windows)
    List<int[]> allTokens = new ArrayList<>();
    for (Row r : rows) allTokens.add(teacher.tokenizer().encode(byId.get((String) r.getAs(TeacherLabelsTable.ID))));
    List<TeacherLabeler.Labels> inProcess = teacher.runtime().admit(ops -> labeler.label(allTokens));
    int longer = 0;
    long positions = 0;
    double worst = 0;
    for (int ri = 0; ri < rows.size(); ri++) {
      Row r = rows.get(ri);
      String id = r.getAs(TeacherLabelsTable.ID);
      int[] tokens = allTokens.get(ri);
      List<Integer> tokenIds = r.getList(r.fieldIndex(TeacherLabelsTable.TOKEN_IDS));
      int n = r.getAs(TeacherLabelsTable.N_TOKENS);
      assertEquals(tokens.length, n, id);
      assertEquals(n, tokenIds.size(), id);
      for (int i = 0; i < n; i++) assertEquals(tokens[i], tokenIds.get(i), id + " token " + i);
      List<Integer> topIds = r.getList(r.fieldIndex(TeacherLabelsTable.TOPK_IDS));
      float[] lp = TeacherLabelTask.decode((byte[]) r.getAs(TeacherLabelsTable.TOPK_LOGPROBS), LogprobEncoding.FLOAT32);
      assertEquals(n * k, topIds.size(), id);
      assertEquals(n * k, lp.length, id);
      List<Float> target = r.getList(r.fieldIndex(TeacherLabelsTable.TARGET_LOGPROB));
      assertEquals(n, target.size(), id);
      assertNull(target.get(n - 1), id + ": the last position has no next token");
      if (n > window) longer++;
      if (id.equals("one")) {
        assertEquals(1, n);
        assertTrue(String.valueOf((Object) r.getAs(TeacherLabelsTable.NOTE)).contains("one token"), "the one-token row is noted");
      }
      positions += n;
      TeacherLabeler.Labels want = inProcess.get(ri);
      for (int j = 0; j < n * k; j++) {
        double d = Math.abs(want.topkLogprobs()[j] - lp[j]);
        worst = Math.max(worst, d);
        assertTrue(d <= 1e-4 * Math.max(1, Math.abs(lp[j])), id + " value " + j + ": " + lp[j] + " vs in-process " + want.topkLogprobs()[j]);
        assertTrue(topIds.get(j) == want.topkIds()[j] || d <= 1e-4, id + " id " + j);
      }
      for (int p = 0; p + 1 < n; p++) assertEquals(want.targetLogprob()[p], target.get(p), 1e-4, id + " target " + p);
      assertEquals(want.sumLogprob(), (double) r.getAs(TeacherLabelsTable.SUM_LOGPROB), 1e-2, id + " sum_logprob");
    }
    System.out.printf("teacher-labels job: %d texts (%d longer than the %d-token window), %d positions, max |log-prob - in-process| %.3g%n",
        rows.size(), longer, window, positions, worst);
    assertTrue(longer >= 50, "the corpus must exercise windows: only " + longer + " texts exceed " + window + " tokens");
    List<Row> rejects = Outputs.sparkRows(TestSpark.session(), out.resolve("_rejects"), "parquet");
    assertEquals(blank + 2, rejects.size());
  }

  @Test
  void badArgumentsFailBeforeTheJobSayingWhatToFix() throws Exception {
    Path model = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures")).resolve("gpt2-tiny");
    assumeTrue(Files.isDirectory(model), "golden fixtures not found");
    Path in = TestCorpus.writeLines(tmp.resolve("t.jsonl"), List.of(TestCorpus.jsonLine("1", "hello there")));
    String[][] cases = {
        {"--model", model.toString(), "--top-k", "60000"}, // beyond the vocabulary
        {"--model", model.toString(), "--max-length", "16", "--stride", "17"}, // a window shorter than the stride
        {"--model", model.toString(), "--max-length", "4096"}, // beyond the model's positions
        {"--model", tmp.resolve("nope").toString()},
        {"--model", model.getParent().resolve("clip-tiny-hf").toString()}, // not a decoder
        {"--model", model.toString(), "--logprob-dtype", "int4"}};
    String[] says = {"larger than the model's vocabulary of 50257", "--stride", "exceeds the model's 128 positions", "config.json",
        "not a decoder", "--logprob-dtype"};
    for (int c = 0; c < cases.length; c++) {
      List<String> args = new ArrayList<>(List.of("teacher-labels", "--input", in.toString(), "--output", tmp.resolve("o" + c).toString()));
      args.addAll(List.of(cases[c]));
      StringWriter o = new StringWriter(), e = new StringWriter();
      int status = Main.execute(new PrintWriter(o, true), new PrintWriter(e, true), args.toArray(new String[0]));
      assertEquals(2, status, String.join(" ", cases[c]) + ": " + e);
      assertTrue(e.toString().contains(says[c]), String.join(" ", cases[c]) + ": " + e);
      assertTrue(!Files.exists(tmp.resolve("o" + c)), "nothing written for " + String.join(" ", cases[c]));
    }
  }
}
