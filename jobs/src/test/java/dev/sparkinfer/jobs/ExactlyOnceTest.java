package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparkinfer.jobs.embed.EmbedJob;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.jobs.write.OutputFormat;
import dev.sparkinfer.jobs.write.ShardWriter;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exactly-once output and {@code --resume}: a task that fails on its first attempt (after writing its files, or
 * halfway through its commit) leaves exactly one committed output per shard; a run whose driver is killed mid-job
 * (a real driver JVM, {@code kill -9}) is finished by {@code --resume} into an output equal to a clean run's, computing
 * only the shards the dead run had not committed; a resume that does not match the earlier run is refused.
 */
class ExactlyOnceTest {
  static SparkSession spark;
  @TempDir static Path tmp;
  static Path corpus;
  static Path clean;
  static final int ROWS = 3_000, SHARDS = 8;

  @BeforeAll
  static void cleanRun() throws IOException {
    spark = TestSpark.session();
    corpus = tmp.resolve("corpus.jsonl");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < ROWS; i++) {
      if (i % 97 == 5) sb.append("{\"id\": \"r").append(i).append("\", \"text\": \"\"}\n"); // rejected: empty text
      else sb.append("{\"id\": \"r").append(i).append("\", \"text\": \"row ").append(i).append(" says ").append("word ".repeat(i % 23)).append("\"}\n");
    }
    Files.writeString(corpus, sb);
    clean = tmp.resolve("clean");
    JobSummary s = BatchJob.run(spark, config(clean), EmbedJob::new);
    assertEquals(ROWS, s.inputRows());
    assertTrue(s.rejected() > 0 && s.reconciled());
  }

  static JobConfig config(Path out) {
    return JobConfig.of(corpus.toString(), out.toString()).withModel(FakeEmbedderProvider.HASH).withDevice(DeviceChoice.JAVA)
        .withPartitions(SHARDS).withFormat(OutputFormat.PARQUET);
  }

  /** Rows of an output (data and rejects) as sorted strings: what "equal to a clean run" means. */
  static List<String> rows(Path out) {
    List<String> all = new ArrayList<>();
    for (Row r : Outputs.sparkRows(spark, out, "parquet")) all.add(r.toString());
    for (Row r : Outputs.sparkRows(spark, out.resolve(BatchJob.REJECTS_DIR), "parquet")) all.add("reject " + r);
    all.sort(null);
    return all;
  }

  /** Data file names of an output and of its rejects, and what else lies in its working folder. */
  static List<String> files(Path out) throws IOException {
    List<String> names = new ArrayList<>();
    for (Path dir : List.of(out, out.resolve(BatchJob.REJECTS_DIR), out.resolve("_manifest"))) {
      try (Stream<Path> s = Files.list(dir)) {
        s.map(p -> (dir.equals(out) ? "" : dir.getFileName() + "/") + p.getFileName())
            .filter(n -> !n.endsWith(".crc") && !n.startsWith("_manifest") || n.startsWith("_manifest/")).forEach(names::add);
      }
    }
    names.sort(null);
    return names;
  }

  @Test
  void eachShardIsOneFileAndTheSummaryIsTheSumOfTheManifests() throws IOException {
    JobSummary s = BatchJob.run(spark, config(tmp.resolve("again")), EmbedJob::new);
    assertEquals(rows(clean), rows(tmp.resolve("again")), "two clean runs write the same rows");
    assertEquals(files(clean), files(tmp.resolve("again")), "and the same files");
    long dataFiles = files(clean).stream().filter(n -> n.startsWith("part-")).count();
    assertTrue(dataFiles > 0 && dataFiles <= SHARDS, files(clean).toString());
    assertFalse(Files.exists(clean.resolve("_temporary")), "no working folder is left");
    assertEquals(SHARDS, s.shards().total());
    assertEquals(SHARDS, s.shards().computed());
  }

  @Test
  void aTaskFailingOnItsFirstAttemptLeavesExactlyOneCommittedOutputPerShard() throws IOException {
    for (String point : List.of(ShardWriter.FAULT_BEFORE_COMMIT, ShardWriter.FAULT_MID_COMMIT)) {
      Path out = tmp.resolve("fault-" + point);
      spark.sparkContext().setLocalProperty(ShardWriter.FAULT, point);
      JobSummary s;
      try {
        s = BatchJob.run(spark, config(out), EmbedJob::new);
      } finally {
        spark.sparkContext().setLocalProperty(ShardWriter.FAULT, null);
      }
      assertEquals(ROWS, s.inputRows(), point);
      assertTrue(s.reconciled(), point);
      assertEquals(rows(clean), rows(out), point + ": every row once, as in a clean run");
      assertEquals(files(clean), files(out), point + ": one data file and one rejects file per shard, as in a clean run");
      assertFalse(Files.exists(out.resolve("_temporary")), point + ": the failed attempts' files are gone");
    }
  }

  @Test
  void resumeAfterTheDriverIsKilledEqualsACleanRun() throws Exception {
    Path out = tmp.resolve("killed");
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("--add-") || a.startsWith("-XX:+IgnoreUnrecognized") || a.startsWith("-Djdk.reflect") || a.startsWith("-Dio.netty")) cmd.add(a);
    }
    cmd.addAll(List.of("-Xmx1g", "-D" + "spark." + ShardWriter.SHARD_DELAY + "=1500", "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "embed", "--input", corpus.toString(), "--output", out.toString(), "--model", FakeEmbedderProvider.HASH,
        "--device", "java", "--partitions", "" + SHARDS, "--master", "local[2]"));
    Path log = tmp.resolve("killed-driver.log");
    Process driver = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    Path manifests = out.resolve("_manifest");
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
    int committed = 0;
    while (System.nanoTime() < deadline && driver.isAlive()) {
      committed = shardManifests(manifests);
      if (committed >= SHARDS / 2) break;
      Thread.sleep(50);
    }
    assertTrue(driver.isAlive(), "the driver ended before half its shards were committed:\n" + Files.readString(log));
    driver.destroyForcibly(); // SIGKILL: no shutdown hook, no cleanup
    assertTrue(driver.waitFor(30, TimeUnit.SECONDS));
    committed = shardManifests(manifests);
    assertTrue(committed < SHARDS && committed >= SHARDS / 2, committed + " shards committed when the driver died");
    assertFalse(Files.exists(out.resolve(JobSummary.FILE)), "a killed run has no summary");

    JobSummary s = BatchJob.run(spark, config(out).withOverwrite(JobConfig.Overwrite.RESUME), EmbedJob::new);
    assertEquals(rows(clean), rows(out), "the resumed output equals a clean run's");
    assertEquals(files(clean), files(out), "file for file");
    assertEquals(ROWS, s.inputRows());
    assertTrue(s.reconciled());
    assertEquals(committed, s.shards().resumed());
    assertEquals(SHARDS - committed, s.shards().computed());
    System.out.printf("driver killed with %d of %d shards committed; --resume recomputed %d shards (%.0f %% of the job)%n",
        committed, SHARDS, s.shards().computed(), 100.0 * s.shards().computed() / SHARDS);
    JobSummary nothingLeft = BatchJob.run(spark, config(out).withOverwrite(JobConfig.Overwrite.RESUME), EmbedJob::new);
    assertEquals(0, nothingLeft.shards().computed(), "resuming a finished run computes nothing");
    assertEquals(rows(clean), rows(out));
  }

  private static int shardManifests(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) return 0;
    try (Stream<Path> s = Files.list(dir)) {
      return (int) s.filter(p -> p.getFileName().toString().matches("shard-\\d+\\.json")).count();
    }
  }

  @Test
  void resumeRecomputesOnlyMissingShardsAndReplacesWhatACrashLeft() throws IOException {
    Path out = tmp.resolve("crashed");
    BatchJob.run(spark, config(out), EmbedJob::new);
    // a crash: two shards uncommitted (one had renamed its data file, one left an attempt folder), no summary
    Map<String, Integer> removed = new TreeMap<>();
    for (int shard : new int[] {1, 6}) {
      Files.delete(out.resolve(String.format("_manifest/shard-%05d.json", shard)));
      removed.put("shard " + shard, shard);
    }
    Path half = out.resolve(files(out).stream().filter(n -> n.startsWith("part-00001")).findFirst().orElseThrow());
    Files.write(half, Arrays.copyOf(Files.readAllBytes(half), 100)); // a torn file
    Files.createDirectories(out.resolve("_temporary/shard-00006-attempt-99"));
    Files.writeString(out.resolve("_temporary/shard-00006-attempt-99/data"), "partial");
    Files.delete(out.resolve(JobSummary.FILE));

    JobSummary s = BatchJob.run(spark, config(out).withOverwrite(JobConfig.Overwrite.RESUME), EmbedJob::new);
    assertEquals(2, s.shards().computed(), removed.toString());
    assertEquals(SHARDS - 2, s.shards().resumed());
    assertEquals(rows(clean), rows(out));
    assertEquals(files(clean), files(out));
    assertFalse(Files.exists(out.resolve("_temporary")));
  }

  @Test
  void aResumeThatDoesNotMatchTheEarlierRunIsRefused() throws IOException {
    Path out = tmp.resolve("other");
    BatchJob.run(spark, config(out), EmbedJob::new);
    UsageException batch = assertThrows(UsageException.class, () -> BatchJob.run(spark,
        config(out).withBatchSize(7).withOverwrite(JobConfig.Overwrite.RESUME), EmbedJob::new));
    assertTrue(batch.getMessage().contains("differs from the run that wrote the output in the settings"), batch.getMessage());
    UsageException parts = assertThrows(UsageException.class, () -> BatchJob.run(spark,
        config(out).withPartitions(3).withOverwrite(JobConfig.Overwrite.RESUME), EmbedJob::new));
    assertTrue(parts.getMessage().contains("--partitions (the run being resumed has 8 shards)"), parts.getMessage());
    UsageException fmt = assertThrows(UsageException.class, () -> BatchJob.run(spark,
        config(out).withFormat(OutputFormat.JSONL).withOverwrite(JobConfig.Overwrite.RESUME), EmbedJob::new));
    assertTrue(fmt.getMessage().contains("the output format (parquet then, jsonl now)"), fmt.getMessage());

    Path foreign = tmp.resolve("not-a-run");
    Files.createDirectories(foreign);
    Files.writeString(foreign.resolve("part-00000.json"), "{}");
    UsageException none = assertThrows(UsageException.class, () -> BatchJob.run(spark,
        config(foreign).withOverwrite(JobConfig.Overwrite.RESUME), EmbedJob::new));
    assertTrue(none.getMessage().contains("holds no _manifest/job.json"), none.getMessage());

    JobSummary fresh = BatchJob.run(spark, config(tmp.resolve("absent")).withOverwrite(JobConfig.Overwrite.RESUME), EmbedJob::new);
    assertEquals(SHARDS, fresh.shards().computed(), "--resume with no earlier output is a clean run");
  }

  static String path(Path p) { return p.toString().replace(File.separatorChar, '/'); }
}
