package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.*;

import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line: help on every command, usage errors (exit 2, nothing run), and a real run (exit 0). */
class MainTest {
  @TempDir Path tmp;

  record Result(int status, String out, String err) {}

  static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Result(status, out.toString(), err.toString());
  }

  @Test
  void helpOnEveryCommand() {
    Result top = run("--help");
    assertEquals(0, top.status);
    assertTrue(top.out.contains("bin/pipeline <job>") && top.out.contains("embed"), top.out);
    Result embed = run("embed", "--help");
    assertEquals(0, embed.status);
    for (String flag : List.of("--input", "--output", "--model", "--format", "--device", "--master", "--batch-size",
        "--id-col", "--text-col", "--overwrite", "--help", "bin/pipeline embed --input PATH --output DIR")) {
      assertTrue(embed.out.contains(flag), flag + " missing from:\n" + embed.out);
    }
    assertEquals(0, run("help", "embed").status);
  }

  @Test
  void usageErrorsExitWithTwoAndSayWhatToFix() {
    Result none = run();
    assertEquals(2, none.status);
    assertTrue(none.err.contains("name a job"), none.err);
    Result missing = run("embed", "--output", "x");
    assertEquals(2, missing.status);
    assertTrue(missing.err.contains("Missing required option: '--input=PATH'"), missing.err);
    Result format = run("embed", "--input", "a.jsonl", "--output", "x", "--format", "xml");
    assertEquals(2, format.status);
    assertTrue(format.err.contains("unknown output format 'xml': use parquet, arrow or jsonl"), format.err);
    assertTrue(format.err.contains("usage: bin/pipeline embed"), format.err);
    Result device = run("embed", "--input", "a.jsonl", "--output", "x", "--device", "gpu");
    assertEquals(2, device.status);
    assertTrue(device.err.contains("unknown device 'gpu': use auto, cpu, opencl or java"), device.err);
    Result batch = run("embed", "--input", "a.jsonl", "--output", "x", "--batch-size", "0");
    assertEquals(2, batch.status);
    assertTrue(batch.err.contains("--batch-size must be between 1 and"), batch.err);
    Result model = run("embed", "--input", "a.jsonl", "--output", "x", "--model", tmp.resolve("nope").toString());
    assertEquals(2, model.status);
    assertTrue(model.err.contains("is neither 'default' nor an existing folder"), model.err);
  }

  @Test
  void aRunThroughTheCommandLine() throws Exception {
    TestSpark.session(); // shared with the other tests: the command must leave it running
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"),
        List.of(TestCorpus.jsonLine("1", "hello there"), TestCorpus.jsonLine("2", ""), TestCorpus.jsonLine("3", "bye")));
    Path out = tmp.resolve("out");
    Result ok = run("embed", "--input", in.toString(), "--output", out.toString(), "--model", FakeEmbedderProvider.HASH,
        "--device", "java", "--master", "local[2]", "--format", "jsonl", "--batch-size", "2");
    assertEquals(0, ok.status, ok.err);
    assertTrue(ok.out.contains("3 rows in, 2 written, 1 rejected"), ok.out);
    assertTrue(Files.exists(out.resolve("_SUMMARY.json")));
    assertEquals("jsonl", Outputs.summary(out).get("format").asText());
    assertFalse(TestSpark.session().sparkContext().isStopped());

    Result again = run("embed", "--input", in.toString(), "--output", out.toString(), "--model", FakeEmbedderProvider.HASH);
    assertEquals(2, again.status);
    assertTrue(again.err.contains("already exists") && again.err.contains("--overwrite"), again.err);
    Result noInput = run("embed", "--input", tmp.resolve("missing.jsonl").toString(), "--output", tmp.resolve("o2").toString(),
        "--model", FakeEmbedderProvider.HASH);
    assertEquals(2, noInput.status);
    assertTrue(noInput.err.contains("does not exist"), noInput.err);
  }
}
