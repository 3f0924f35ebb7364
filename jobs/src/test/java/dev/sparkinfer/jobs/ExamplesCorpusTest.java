package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.*;

import dev.sparkinfer.jobs.embed.EmbedJob;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shipped example corpus runs through the job; its deliberately bad rows land in rejects. */
class ExamplesCorpusTest {
  static final Path CORPUS = Path.of("..", "examples", "corpus.jsonl").toAbsolutePath().normalize();

  @TempDir Path tmp;

  @Test
  void exampleCorpusEmbedsWithItsBadRowsRejected() {
    Path out = tmp.resolve("out");
    JobSummary s = BatchJob.run(TestSpark.session(), JobConfig.of(CORPUS.toString(), out.toString())
        .withModel(FakeEmbedderProvider.HASH).withDevice(DeviceChoice.JAVA), EmbedJob::new);
    Map<String, String> rejects = new TreeMap<>();
    for (Row r : Outputs.sparkRows(TestSpark.session(), out.resolve("_rejects"), "parquet")) {
      rejects.put(r.getString(0), r.getString(1) + "/" + r.getString(2));
    }
    assertEquals(Map.of("ex-bad-empty", "validate/empty text", "ex-bad-null", "validate/null text",
        "ex-bad-utf8", "read/invalid UTF-8", CORPUS + ":142", "read/unparsable JSON"), rejects);
    assertEquals(214, s.inputRows());
    assertEquals(210, s.written());
    assertTrue(s.reconciled());
  }
}
