package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.*;

import dev.sparkinfer.jobs.embed.EmbedJob;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.jobs.write.OutputFormat;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import dev.sparkinfer.udf.testing.FakeHashEmbedder;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property: whatever mix of good and bad rows a corpus holds, in every input format and every output format, the job
 * succeeds, {@code input = written + rejected}, every good id is written exactly once and exactly as it was, and
 * every bad row is rejected. Rows are drawn at random (seeded; the seed is in the failure message).
 */
class RandomBadRowsTest {
  static SparkSession spark;
  @TempDir Path tmp;

  @BeforeAll
  static void start() { spark = TestSpark.session(); }

  /** Ids that are tricky but good: numbers, quotes, commas, non-ASCII, surrogate pairs, spaces inside. */
  static String goodId(Random rnd, int i) {
    return switch (rnd.nextInt(6)) {
      case 0 -> "doc-" + i;
      case 1 -> "q\"uo,te " + i;
      case 2 -> "東京-" + i + "-\uD83D\uDE42";
      case 3 -> " sp " + i;
      case 4 -> "new\\line-" + i;
      default -> "x" + i;
    };
  }

  static String goodText(Random rnd) {
    String t = TestCorpus.text(rnd);
    return rnd.nextInt(8) == 0 ? t + ", with \"quotes\"\nand a line break" : t;
  }

  /** What the corpus should give: good ids (in any order) and the number of bad rows. */
  record Expect(List<String> good, int bad, int records) {}

  @Test
  void everyFormatReconcilesAndIdsRoundTrip() throws Exception {
    for (long seed : new long[] {1, 2}) {
      Random rnd = new Random(seed);
      int k = 0;
      for (String in : List.of("jsonl", "csv", "text", "parquet")) {
        OutputFormat outFmt = OutputFormat.values()[rnd.nextInt(3)];
        Path dir = tmp.resolve("s" + seed + "-" + in);
        Expect e = switch (in) {
          case "jsonl" -> jsonl(rnd, dir.resolve("c.jsonl"));
          case "csv" -> csv(rnd, dir.resolve("c.csv"));
          case "text" -> text(rnd, dir.resolve("c.txt"));
          default -> parquet(rnd, dir.resolve("c.parquet"));
        };
        Path out = tmp.resolve("out-" + seed + "-" + in);
        String what = "seed " + seed + ", " + in + " -> " + outFmt;
        JobSummary s = BatchJob.run(spark, JobConfig.of(dir.toString(), out.toString()).withModel(FakeEmbedderProvider.HASH)
            .withDevice(DeviceChoice.JAVA).withPartitions(3).withBatchSize(1 + rnd.nextInt(8)).withFormat(outFmt),
            RandomBadRowsTest::job);
        assertEquals(e.records(), s.inputRows(), what);
        assertEquals(s.inputRows(), s.written() + s.rejected(), what);
        List<String> written = ids(out, outFmt);
        assertEquals(e.bad(), s.rejected(), what + ": " + s.rejectedByStage() + "; written but not good: "
            + written.stream().filter(w -> !e.good().contains(w)).toList());
        List<String> rejected = ids(out.resolve(BatchJob.REJECTS_DIR), outFmt);
        assertEquals(s.written(), written.size(), what);
        assertEquals(s.rejected(), rejected.size(), what);
        assertEquals(counts(e.good()), counts(written), what + ": every good id written once, unchanged");
        k++;
      }
      assertEquals(4, k);
    }
  }

  static JobSpec job(JobConfig cfg) { return new EmbedJob(cfg); }

  static TreeMap<String, Integer> counts(List<String> ids) {
    TreeMap<String, Integer> m = new TreeMap<>();
    for (String id : ids) m.merge(id, 1, Integer::sum);
    return m;
  }

  static List<String> ids(Path dir, OutputFormat f) {
    if (f == OutputFormat.ARROW) return Outputs.arrowRows(dir, null).stream().map(r -> (String) r[0]).toList();
    return Outputs.sparkRows(spark, dir, f.name().toLowerCase()).stream().map(r -> r.getString(r.fieldIndex("id"))).toList();
  }

  Expect jsonl(Random rnd, Path file) {
    List<Object> lines = new ArrayList<>();
    List<String> good = new ArrayList<>();
    int bad = 0;
    int records = 0;
    for (int i = 0; i < 60; i++) {
      int kind = rnd.nextInt(14);
      String id = goodId(rnd, i);
      records++;
      switch (kind) {
        case 0 -> lines.add(TestCorpus.jsonLine(id, null));
        case 1 -> lines.add(TestCorpus.jsonLine(id, "  "));
        case 2 -> lines.add(TestCorpus.invalidUtf8JsonLine("u" + i));
        case 3 -> lines.add("{\"id\": \"cut" + i + "\", \"text\": \"no end");
        case 4 -> lines.add("[1, 2]");
        case 5 -> lines.add("{\"id\": \"\", \"text\": \"x\"}");
        case 6 -> lines.add("{\"id\": \"s\\ud800" + i + "\", \"text\": \"x\"}");
        case 7 -> lines.add(TestCorpus.jsonLine(id, "\u200b\u0001"));
        case 8 -> lines.add(TestCorpus.jsonLine(id, "a " + FakeHashEmbedder.FAIL_MARKER));
        case 9 -> {
          lines.add("");
          records--;
          bad--; // a blank line is not a record
        }
        case 10 -> {
          String n = i + "." + (i % 3) + "0";
          lines.add("{\"id\": " + n + ", \"text\": \"number id\"}");
          good.add(n);
          bad--;
        }
        default -> {
          lines.add(TestCorpus.jsonLine(id, goodText(rnd)));
          good.add(id);
          bad--;
        }
      }
      bad++;
    }
    TestCorpus.writeLines(file, lines);
    return new Expect(good, bad, records);
  }

  Expect csv(Random rnd, Path file) {
    List<Object> lines = new ArrayList<>();
    lines.add("id,text,extra");
    List<String> good = new ArrayList<>();
    int bad = 0;
    for (int i = 0; i < 60; i++) {
      String id = goodId(rnd, i);
      switch (rnd.nextInt(9)) {
        case 0 -> lines.add(q(id) + ",,e");
        case 1 -> lines.add(q(id) + ",a,b,c,d");
        case 2 -> lines.add(q(id));
        case 3 -> lines.add(",text,e");
        case 4 -> {
          ByteArrayOutputStream b = new ByteArrayOutputStream();
          byte[] head = ("bad" + i + ",caf").getBytes(StandardCharsets.UTF_8);
          b.write(head, 0, head.length);
          b.write(0xC3);
          b.write(',');
          b.write('e');
          lines.add(b.toByteArray());
        }
        case 5 -> lines.add(q(id) + "," + q("x " + FakeHashEmbedder.FAIL_MARKER) + ",e");
        default -> {
          lines.add(q(id) + "," + q(goodText(rnd)) + ",e");
          good.add(id);
          bad--;
        }
      }
      bad++;
    }
    TestCorpus.writeLines(file, lines);
    return new Expect(good, bad, 60);
  }

  static String q(String s) { return "\"" + s.replace("\"", "\"\"") + "\""; }

  Expect text(Random rnd, Path file) {
    List<Object> lines = new ArrayList<>();
    List<String> good = new ArrayList<>();
    int bad = 0;
    int records = 0;
    for (int i = 0; i < 60; i++) {
      int line = lines.size() + 1;
      switch (rnd.nextInt(6)) {
        case 0 -> {
          lines.add(new byte[] {'b', 'a', 'd', (byte) 0xFF});
          bad++;
          records++;
        }
        case 1 -> lines.add("   "); // blank: not a document
        case 2 -> {
          lines.add("\u200b\u200b");
          bad++;
          records++;
        }
        default -> {
          lines.add(TestCorpus.text(rnd));
          good.add(file + ":" + line);
          records++;
        }
      }
    }
    TestCorpus.writeLines(file, lines);
    return new Expect(good, bad, records);
  }

  Expect parquet(Random rnd, Path dir) {
    List<Row> rows = new ArrayList<>();
    List<String> good = new ArrayList<>();
    int bad = 0;
    for (int i = 0; i < 60; i++) {
      String id = goodId(rnd, i);
      switch (rnd.nextInt(7)) {
        case 0 -> rows.add(RowFactory.create(null, "no id".getBytes(StandardCharsets.UTF_8)));
        case 1 -> rows.add(RowFactory.create(id, null));
        case 2 -> rows.add(RowFactory.create(id, new byte[] {'x', (byte) 0x80}));
        case 3 -> rows.add(RowFactory.create("", "x".getBytes(StandardCharsets.UTF_8)));
        default -> {
          rows.add(RowFactory.create(id, goodText(rnd).getBytes(StandardCharsets.UTF_8)));
          good.add(id);
          bad--;
        }
      }
      bad++;
    }
    StructType schema = new StructType().add("id", DataTypes.StringType).add("text", DataTypes.BinaryType);
    spark.createDataFrame(rows, schema).repartition(2).write().parquet(dir.toString());
    return new Expect(good, bad, 60);
  }
}
