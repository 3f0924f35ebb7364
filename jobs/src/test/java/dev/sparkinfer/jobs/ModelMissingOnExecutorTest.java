package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparkinfer.jobs.embed.EmbedJob;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.BatchTaskFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code --model} folder that the driver sees but an executor does not (not mounted there, another path, not
 * readable): the driver's check passes, the executor's load fails, and the job fails with a message naming the folder,
 * the executor's host and the fix; no row is rejected for it and no summary is written. On local[2] the driver is the
 * executor, so the folder is removed between the driver's check and the tasks' load, and the driver does not load the
 * model first (as on a cluster master, where it never does).
 */
class ModelMissingOnExecutorTest {
  static SparkSession spark;

  @TempDir Path tmp;

  @BeforeAll
  static void start() { spark = TestSpark.session(); }

  /** The embed job, but its model folder goes once the driver has checked it, and the driver loads nothing. */
  record FolderGoesAfterTheCheck(EmbedJob job, Path folder) implements JobSpec {
    @Override public String name() { return job.name(); }

    @Override public BatchTaskFactory tasks() { return job.tasks(); }

    @Override public StructType outputSparkSchema() { return job.outputSparkSchema(); }

    @Override
    public String checkModel() {
      String name = job.checkModel();
      try (Stream<Path> files = Files.walk(folder)) {
        for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return name;
    }

    @Override public String warmUp() { return null; }
  }

  /** Executors resolve a relative path against their own working directory: the driver sends an absolute one. */
  @Test
  void aRelativeModelFolderTravelsAsAnAbsolutePath() {
    String abs = Path.of("models/bge-small-en").toAbsolutePath().toString();
    assertEquals(abs, new EmbedJob(JobConfig.of("in", "out").withModel("models/bge-small-en")).modelSpec());
    assertEquals(abs, new EmbedJob(JobConfig.of("in", "out").withModel("models/../models/bge-small-en")).modelSpec());
    for (String kept : List.of("default", "all-MiniLM-L6-v2", "test:hash", "/models/bge", "file:/models/bge")) {
      assertEquals(kept, new EmbedJob(JobConfig.of("in", "out").withModel(kept)).modelSpec(), kept);
    }
  }

  @Test
  void aModelFolderMissingWhereTheTaskRunsFailsTheJobWithTheFolderTheHostAndTheFix() throws Exception {
    // enough of a model folder for the driver's check (which reads no weights)
    Path model = Files.createDirectories(tmp.resolve("models/bge-small-en"));
    for (String f : List.of("config.json", "tokenizer.json", "model.safetensors")) Files.writeString(model.resolve(f), "{}");
    List<String> lines = new ArrayList<>();
    for (String[] row : TestCorpus.rows(200, 3)) lines.add(TestCorpus.jsonLine(row[0], row[1]));
    Path in = TestCorpus.writeLines(tmp.resolve("c.jsonl"), lines);
    Path out = tmp.resolve("out");
    JobConfig cfg = JobConfig.of(in.toString(), out.toString()).withModel(model.toString()).withDevice(DeviceChoice.JAVA).withPartitions(2);

    Exception e = assertThrows(Exception.class, () -> BatchJob.run(spark, cfg, c -> new FolderGoesAfterTheCheck(new EmbedJob(c), model)));
    StringBuilder chain = new StringBuilder();
    for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) chain.append(c).append('\n');
    String all = chain.toString();
    System.out.println("the job failed with:\n" + all);
    assertTrue(all.contains("ModelFolders$NotOnThisMachineException"), all);
    assertTrue(all.contains("embedder model folder " + model + " does not exist on the local executor on host "), all);
    assertTrue(all.contains("though the driver found it") && all.contains("same path on every node"), all);
    assertFalse(Files.exists(out.resolve("_SUMMARY.json")), "no summary for a failed job");
    assertFalse(Files.exists(out.resolve(BatchJob.REJECTS_DIR)), "the rows are not rejected for it");
  }
}
