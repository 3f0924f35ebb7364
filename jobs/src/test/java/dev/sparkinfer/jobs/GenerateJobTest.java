package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.models.TestTexts;
import dev.sparkinfer.schemas.GenerationsTable;
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
 * bin/pipeline generate on Spark local[2] with llama-tiny (LLaMA-3 tokenizer, BOS template) on the CPU engine: the
 * fixture's four prompts greedily give the fixture's continuations; sampled runs with one seed give the same rows
 * whatever the partitioning and batching; over-long prompts and empty ones are rejected.
 */
class GenerateJobTest {
  @TempDir Path tmp;

  @Test
  void greedyEqualsTheReferenceAndSamplingIsTheSameWhateverThePartitioning() throws Exception {
    Path model = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures")).resolve("llama-tiny");
    assumeTrue(Files.isDirectory(model), "golden fixtures not found at " + model.toAbsolutePath());
    TestSpark.session();
    var expected = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readAllBytes(model.resolve("expected.json")));
    List<Object> lines = new ArrayList<>();
    for (int p = 0; p < 4; p++) lines.add(TestCorpus.jsonLine("p" + p, expected.path("prompts").get(p).asText()));
    List<String> more = TestTexts.generate(60, 3);
    for (int i = 0; i < more.size(); i++) lines.add(TestCorpus.jsonLine("t" + i, more.get(i)));
    lines.add(TestCorpus.jsonLine("empty", " "));
    Path in = TestCorpus.writeLines(tmp.resolve("prompts.jsonl"), lines);

    Map<String, Row> greedy = run(model, in, tmp.resolve("greedy"), "--max-new-tokens", "24", "--greedy", "--stop-at-eos", "false",
        "--context", "128", "--partitions", "3");
    try (var want = dev.sparkinfer.models.weights.SafeTensors.open(model.resolve("expected.safetensors"))) {
      for (int p = 0; p < 4; p++) {
        long[] g = want.longs("prompt" + p + "_greedy_ids");
        int n = expected.path("input_ids").get(p).size();
        int[] cont = new int[24];
        for (int i = 0; i < 24; i++) cont[i] = (int) g[n + i];
        Row r = greedy.get("p" + p);
        List<Integer> got = r.getList(r.fieldIndex(GenerationsTable.TOKEN_IDS));
        assertArrayEquals(cont, got.stream().mapToInt(Integer::intValue).toArray(), "prompt " + p);
        assertEquals(n, (int) r.getAs(GenerationsTable.N_PROMPT_TOKENS));
        assertEquals("length", r.getAs(GenerationsTable.FINISH_REASON));
      }
    }
    String[] sample = {"--max-new-tokens", "12", "--temperature", "1.3", "--top-p", "0.9", "--seed", "42", "--context", "128"};
    Map<String, Row> a = run(model, in, tmp.resolve("s1"), concat(sample, "--partitions", "2", "--batch-size", "5"));
    Map<String, Row> b = run(model, in, tmp.resolve("s2"), concat(sample, "--partitions", "5", "--batch-size", "16"));
    assertEquals(a.keySet(), b.keySet());
    int differFromGreedy = 0;
    for (String id : a.keySet()) {
      assertEquals(a.get(id).getList(1), b.get(id).getList(1), id + ": the same seed, other partitions");
      assertEquals((String) a.get(id).getAs(GenerationsTable.TEXT), b.get(id).getAs(GenerationsTable.TEXT), id);
      if (!a.get(id).getList(1).equals(greedy.get(id).getList(1).subList(0, Math.min(12, greedy.get(id).getList(1).size())))) differFromGreedy++;
    }
    assertTrue(differFromGreedy > 10, "sampling at T = 1.3 should leave the greedy path for most prompts: " + differFromGreedy);
  }

  private static String[] concat(String[] a, String... b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  private Map<String, Row> run(Path model, Path in, Path out, String... extra) {
    List<String> args = new ArrayList<>(List.of("generate", "--model", model.toString(), "--input", in.toString(), "--output",
        out.toString(), "--device", "cpu", "--master", "local[2]"));
    args.addAll(List.of(extra));
    StringWriter o = new StringWriter(), e = new StringWriter();
    int status = Main.execute(new PrintWriter(o, true), new PrintWriter(e, true), args.toArray(new String[0]));
    assertEquals(0, status, e.toString());
    // the blank prompt and the generated texts too long for the context (or blank) are rejected, never lost
    assertTrue(o.toString().contains("65 rows in") && o.toString().contains("rejected {validate="), o.toString());
    Map<String, Row> rows = new HashMap<>();
    for (Row r : Outputs.sparkRows(TestSpark.session(), out, "parquet")) rows.put(r.getAs(GenerationsTable.ID), r);
    return rows;
  }
}
