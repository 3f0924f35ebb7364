package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparkinfer.jobs.embed.EmbedJob;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.jobs.write.OutputFormat;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ids are data, never paths: no output file is named after a row (the writers name files part-NNNNN after the
 * shard number, and no writer partitions by a column), so ids that look like paths, or like the names of
 * our own files, go through the job and come out unchanged, in the output and in the rejects, and nothing is written
 * outside the output folder.
 */
class IdsAreDataTest {
  static SparkSession spark;

  @TempDir Path tmp;

  @BeforeAll
  static void start() { spark = TestSpark.session(); }

  static final List<String> IDS = List.of("../x", "/etc/passwd", "a/b", "..", ".", "../../../../../../tmp/escaped", "a\\b",
      "C:\\Windows\\win.ini", "~", "%2e%2e%2fx", "_SUMMARY.json", "_SUCCESS", "_rejects", "part-00000", ".hidden",
      "hdfs://namenode/x", "file:///etc/hosts", " leading and trailing ", "line\nbreak", "tab\there", "x".repeat(10_000),
      "é/ü/東京/🙂");

  /** Each id twice: once with a text the model embeds, once (prefixed "rejected:") with an empty text, rejected. */
  static List<String> corpus() {
    List<String> lines = new ArrayList<>();
    for (String id : IDS) {
      lines.add(TestCorpus.jsonLine(id, "a text for an id of " + id.length() + " chars"));
      lines.add(TestCorpus.jsonLine("rejected:" + id, ""));
    }
    return lines;
  }

  @Test
  void pathLikeIdsComeOutUnchangedInEveryFormatAndNothingIsWrittenOutsideTheOutput() throws Exception {
    Path sandbox = Files.createDirectories(tmp.resolve("sandbox/deep/er"));
    Path in = TestCorpus.writeLines(sandbox.resolve("c.jsonl"), corpus());
    TreeSet<String> rejectedIds = new TreeSet<>();
    for (String id : IDS) rejectedIds.add("rejected:" + id);

    for (OutputFormat format : OutputFormat.values()) {
      Path out = sandbox.resolve("out-" + format.name().toLowerCase());
      TreeMap<String, String> before = tree(tmp);
      JobSummary s = BatchJob.run(spark, JobConfig.of(in.toString(), out.toString()).withModel(FakeEmbedderProvider.HASH)
          .withDevice(DeviceChoice.JAVA).withPartitions(3).withFormat(format), EmbedJob::new);
      assertEquals(List.of((long) 2 * IDS.size(), (long) IDS.size(), (long) IDS.size()), List.of(s.inputRows(), s.written(), s.rejected()),
          format.toString());

      List<String> written = ids(out, format);
      List<String> rejected = ids(out.resolve(BatchJob.REJECTS_DIR), format);
      assertEquals(new TreeSet<>(IDS), new TreeSet<>(written), format + ": ids written unchanged");
      assertEquals(IDS.size(), written.size(), format + ": each once");
      assertEquals(rejectedIds, new TreeSet<>(rejected), format + ": rejected ids unchanged");
      assertEquals(IDS.size(), rejected.size());

      // the only new paths are the output folder's, and inside it only the names the writers give
      TreeMap<String, String> after = tree(tmp);
      String prefix = tmp.relativize(out).toString();
      for (Map.Entry<String, String> e : after.entrySet()) {
        if (e.getKey().equals(prefix) || e.getKey().startsWith(prefix + "/")) continue;
        assertEquals(before.get(e.getKey()), e.getValue(), format + ": " + e.getKey() + " is new or changed outside the output");
      }
      assertEquals(before.keySet(), withoutPrefix(after.keySet(), prefix), format + ": nothing outside the output came or went");
      for (String p : after.keySet()) {
        if (!p.startsWith(prefix + "/")) continue;
        String inside = p.substring(prefix.length() + 1);
        assertTrue(inside.matches("(_rejects/)?\\.?(part-(r-)?\\d{5}(-[0-9a-f-]+)?(\\.snappy\\.parquet|\\.json|\\.arrow)|_SUCCESS)(\\.crc)?"
            + "|\\.?_SUMMARY\\.json(\\.crc)?|_rejects|_manifest|_manifest/\\.?(job|shard-\\d{5})\\.json(\\.crc)?"), format + ": a file the writers do not make: " + inside);
      }
    }
  }

  static TreeSet<String> withoutPrefix(java.util.Set<String> paths, String prefix) {
    TreeSet<String> s = new TreeSet<>();
    for (String p : paths) if (!p.equals(prefix) && !p.startsWith(prefix + "/")) s.add(p);
    return s;
  }

  List<String> ids(Path dir, OutputFormat format) {
    if (format == OutputFormat.ARROW) {
      List<String> ids = new ArrayList<>();
      for (Object[] r : Outputs.arrowRows(dir, null)) ids.add((String) r[0]);
      return ids;
    }
    return Outputs.sparkRows(spark, dir, format.name().toLowerCase()).stream().map((Row r) -> r.getString(r.fieldIndex("id"))).toList();
  }

  /** Every path under root (relative, '/'-separated) with its kind and size, symlinks not followed. */
  static TreeMap<String, String> tree(Path root) throws IOException {
    TreeMap<String, String> m = new TreeMap<>();
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.toList()) {
        if (p.equals(root)) continue;
        String kind = Files.isSymbolicLink(p) ? "link" : Files.isDirectory(p) ? "dir" : "file " + Files.size(p);
        m.put(root.relativize(p).toString().replace('\\', '/'), kind);
      }
    }
    return m;
  }
}
