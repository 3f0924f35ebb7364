package dev.sparkinfer.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.jobs.Main;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * HDFS as the job's input and output: a MiniDFSCluster (a NameNode and a DataNode in this JVM) and the
 * embed job through the command line, as a user runs it, with {@code --input hdfs://...} and {@code --output hdfs://...}
 * on the shared local[2] session (the test model). The corpus is written to HDFS, the output read back from HDFS.
 */
@Tag("cluster")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HdfsEmbedJobTest {
  @TempDir static java.nio.file.Path tmp;
  static MiniDFSCluster dfs;
  static FileSystem fs;
  /** hdfs://127.0.0.1:PORT */
  static String nn;
  static SparkSession spark;

  static final int GOOD = 3_000;
  /** Ids that look like paths or names of our own files: data, never paths. */
  static final List<String> PATH_LIKE_IDS = List.of("../x", "/etc/passwd", "a/b", "..", "_SUMMARY.json", "part-00000", "_rejects",
      "hdfs://elsewhere/x", "x".repeat(10_000));

  @BeforeAll
  static void startHdfs() throws IOException {
    long t0 = System.nanoTime();
    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, tmp.resolve("dfs").toString());
    dfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).format(true).build();
    dfs.waitActive();
    fs = dfs.getFileSystem();
    nn = fs.getUri().toString();
    spark = TestSpark.session();
    System.out.printf("HDFS: %s up in %.1f s%n", nn, (System.nanoTime() - t0) / 1e9);
  }

  @AfterAll
  static void stopHdfs() throws IOException {
    if (fs != null) fs.close();
    if (dfs != null) dfs.shutdown(true);
  }

  record Cli(int status, String out, String err, double seconds) {}

  static Cli embed(String... args) {
    List<String> all = new ArrayList<>(List.of("embed", "--model", FakeEmbedderProvider.HASH, "--device", "java", "--master", "local[2]",
        "--partitions", "4"));
    all.addAll(List.of(args));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    long t0 = System.nanoTime();
    int status = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), all.toArray(String[]::new));
    return new Cli(status, out.toString(), err.toString(), (System.nanoTime() - t0) / 1e9);
  }

  /** The corpus: GOOD rows doc-N, the path-like ids, and 4 rows the job rejects (null and empty texts, broken JSON). */
  static List<String> corpusLines() {
    List<String> lines = new ArrayList<>();
    for (String[] row : TestCorpus.rows(GOOD, 13)) lines.add(TestCorpus.jsonLine(row[0], row[1]));
    for (String id : PATH_LIKE_IDS) lines.add(TestCorpus.jsonLine(id, "text of " + id.length() + " chars of id"));
    lines.add(TestCorpus.jsonLine("null-text", null));
    lines.add(TestCorpus.jsonLine("../empty-text", ""));
    lines.add(TestCorpus.jsonLine("/etc/shadow", " "));
    lines.add("{\"id\": \"broken\", \"text\": ");
    return lines;
  }

  static Path write(String path, List<String> lines) throws IOException {
    Path p = new Path(nn + path);
    try (OutputStream out = fs.create(p, false)) {
      for (String l : lines) out.write((l + "\n").getBytes(StandardCharsets.UTF_8));
    }
    return p;
  }

  static JsonNode summary(String dir) throws IOException {
    try (InputStream in = fs.open(new Path(nn + dir + "/_SUMMARY.json"))) {
      return new ObjectMapper().readTree(in);
    }
  }

  /** Every file under a folder of HDFS, as paths relative to it. */
  static TreeSet<String> files(String dir) throws IOException {
    TreeSet<String> names = new TreeSet<>();
    Path root = fs.makeQualified(new Path(dir));
    String base = root.toUri().getPath().endsWith("/") ? root.toUri().getPath() : root.toUri().getPath() + "/";
    RemoteIterator<LocatedFileStatus> it = fs.listFiles(root, true);
    while (it.hasNext()) names.add(it.next().getPath().toUri().getPath().substring(base.length()));
    return names;
  }

  @Test
  @Order(1)
  void jsonlOnHdfsToParquetOnHdfsReconciles() throws Exception {
    List<String> lines = corpusLines();
    write("/corpus/c.jsonl", lines);
    Cli r = embed("--input", nn + "/corpus/c.jsonl", "--output", nn + "/out/emb", "--format", "parquet");
    System.out.printf("embed hdfs -> hdfs (parquet), %,d rows: %.1f s%n%s", lines.size(), r.seconds(), r.out());
    assertEquals(0, r.status(), r.err() + r.out());

    // read back from HDFS: Spark's reader on the hdfs:// paths
    Map<String, Integer> written = new HashMap<>();
    for (Row row : spark.read().parquet(nn + "/out/emb").collectAsList()) written.merge(row.getString(0), 1, Integer::sum);
    Map<String, String> rejected = new HashMap<>();
    for (Row row : spark.read().parquet(nn + "/out/emb/_rejects").collectAsList()) rejected.put(row.getString(0), row.getString(1) + "/" + row.getString(2));
    assertEquals(GOOD + PATH_LIKE_IDS.size(), written.size());
    assertTrue(written.values().stream().allMatch(c -> c == 1), "every id once");
    for (int i = 0; i < GOOD; i++) assertTrue(written.containsKey("doc-" + i), "doc-" + i);
    for (String id : PATH_LIKE_IDS) assertTrue(written.containsKey(id), "path-like id written unchanged: " + id.substring(0, Math.min(40, id.length())));
    assertEquals(Map.of("null-text", "validate/null text", "../empty-text", "validate/empty text", "/etc/shadow", "validate/empty text",
        "/corpus/c.jsonl:" + lines.size(), "read/invalid JSON"), withReadReasonShortened(rejected),
        "a row without a usable id is rejected under its file's path (without scheme and authority) and line");

    JsonNode s = summary("/out/emb");
    JsonNode counts = s.get("counts");
    assertEquals(lines.size(), counts.get("input").asLong());
    assertEquals(written.size(), counts.get("written").asLong());
    assertEquals(rejected.size(), counts.get("rejected").asLong());
    assertEquals(counts.get("input").asLong(), counts.get("written").asLong() + counts.get("rejected").asLong(), "input = written + rejected");
    assertTrue(counts.get("reconciled").asBoolean());
    assertEquals(nn + "/out/emb", s.get("output").asText());

    // nothing but the output: no write probe left, nothing from an id
    TreeSet<String> everything = files("/");
    everything.removeIf(f -> f.startsWith("out/emb/part-") || f.startsWith("out/emb/_rejects/part-") || f.matches("out/emb/_manifest/shard-\\d{5}\\.json"));
    assertEquals(new TreeSet<>(List.of("corpus/c.jsonl", "out/emb/_SUMMARY.json", "out/emb/_manifest/job.json")),
        everything, "HDFS holds the corpus and the output only");
  }

  /**
   * The per-shard commit on HDFS (renames refuse an existing target there, and need the parent folder): a run that lost
   * two shards' commits, with a torn data file and an attempt folder left behind, is finished by {@code --resume} into
   * the rows of a clean run.
   */
  @Test
  @Order(2)
  void resumeOnHdfsFinishesAnInterruptedRun() throws Exception {
    if (!fs.exists(new Path("/corpus/c.jsonl"))) write("/corpus/c.jsonl", corpusLines());
    Cli clean = embed("--input", nn + "/corpus/c.jsonl", "--output", nn + "/out/resume", "--format", "parquet");
    assertEquals(0, clean.status(), clean.err() + clean.out());
    List<String> want = new java.util.ArrayList<>();
    for (Row row : spark.read().parquet(nn + "/out/resume").collectAsList()) want.add(row.toString());
    want.sort(null);
    for (int shard : new int[] {0, 3}) assertTrue(fs.delete(new Path(String.format("/out/resume/_manifest/shard-%05d.json", shard)), false));
    Path torn = new Path("/out/resume/part-00000.snappy.parquet");
    fs.delete(torn, false);
    try (org.apache.hadoop.fs.FSDataOutputStream o = fs.create(torn)) {
      o.write(new byte[] {1, 2, 3});
    }
    fs.mkdirs(new Path("/out/resume/_temporary/shard-00003-attempt-7"));
    fs.delete(new Path("/out/resume/_SUMMARY.json"), false);

    Cli resumed = embed("--input", nn + "/corpus/c.jsonl", "--output", nn + "/out/resume", "--format", "parquet", "--resume");
    assertEquals(0, resumed.status(), resumed.err() + resumed.out());
    List<String> got = new java.util.ArrayList<>();
    for (Row row : spark.read().parquet(nn + "/out/resume").collectAsList()) got.add(row.toString());
    got.sort(null);
    assertEquals(want, got, "the resumed output holds a clean run's rows");
    JsonNode s = summary("/out/resume");
    assertEquals(2, s.get("shards").get("computed").asInt());
    assertEquals(2, s.get("shards").get("resumed").asInt());
    assertFalse(fs.exists(new Path("/out/resume/_temporary")));
  }

  /** The reject reason of a broken JSON line carries the parser's words; the stage and the reason's head are what matter. */
  static Map<String, String> withReadReasonShortened(Map<String, String> rejects) {
    Map<String, String> m = new HashMap<>();
    rejects.forEach((k, v) -> m.put(k, v.startsWith("read/") ? "read/invalid JSON" : v));
    return m;
  }

  @Test
  @Order(2)
  void anExistingHdfsOutputIsRefusedWithoutOverwriteAndReplacedWithIt() throws Exception {
    TreeSet<String> before = files("/out/emb");
    long summaryTime = fs.getFileStatus(new Path(nn + "/out/emb/_SUMMARY.json")).getModificationTime();
    Cli refused = embed("--input", nn + "/corpus/c.jsonl", "--output", nn + "/out/emb", "--format", "parquet");
    assertEquals(2, refused.status(), refused.err());
    assertTrue(refused.err().contains("already exists") && refused.err().contains("--overwrite"), refused.err());
    assertEquals(before, files("/out/emb"), "the old output is untouched");

    // a file HDFS holds that the job did not write: --overwrite refuses to delete it
    write("/out/emb/notes.txt", List.of("mine"));
    Cli foreign = embed("--input", nn + "/corpus/c.jsonl", "--output", nn + "/out/emb", "--format", "parquet", "--overwrite");
    assertEquals(2, foreign.status(), foreign.err());
    assertTrue(foreign.err().contains("did not write (notes.txt)"), foreign.err());
    fs.delete(new Path(nn + "/out/emb/notes.txt"), false);

    // the input inside the output: refused before anything is deleted
    Cli inside = embed("--input", nn + "/out/emb/_SUMMARY.json", "--input-format", "text", "--output", nn + "/out/emb", "--overwrite");
    assertEquals(2, inside.status(), inside.err());
    assertTrue(inside.err().contains("inside --output"), inside.err());

    Cli replaced = embed("--input", nn + "/corpus/c.jsonl", "--output", nn + "/out/emb", "--format", "arrow", "--overwrite");
    assertEquals(0, replaced.status(), replaced.err());
    assertTrue(fs.getFileStatus(new Path(nn + "/out/emb/_SUMMARY.json")).getModificationTime() >= summaryTime);
    assertEquals("arrow", summary("/out/emb").get("format").asText());
    assertTrue(files("/out/emb").stream().noneMatch(f -> f.endsWith(".parquet")), "the parquet files went: " + files("/out/emb"));

    // the Arrow files, copied from HDFS, read with Arrow's own reader
    java.nio.file.Path local = tmp.resolve("emb-copy");
    fs.copyToLocalFile(new Path(nn + "/out/emb"), new Path(local.toUri()));
    List<Object[]> rows = Outputs.arrowRows(local, null);
    List<Object[]> rejects = Outputs.arrowRows(local.resolve("_rejects"), null);
    assertEquals(GOOD + PATH_LIKE_IDS.size(), rows.size());
    assertEquals(4, rejects.size());
    TreeSet<String> ids = new TreeSet<>();
    for (Object[] row : rows) ids.add((String) row[0]);
    assertTrue(ids.containsAll(PATH_LIKE_IDS), "path-like ids come back unchanged from Arrow too");
    assertEquals(corpusLines().size(), summary("/out/emb").get("counts").get("input").asLong());
  }

  @Test
  @Order(3)
  void anOutputUnderAFileOrNotWritableIsFoundUpFront() throws Exception {
    write("/plain-file", List.of("x"));
    Cli underFile = embed("--input", nn + "/corpus/c.jsonl", "--output", nn + "/plain-file/out");
    assertEquals(2, underFile.status(), underFile.err());
    assertTrue(underFile.err().contains("is a file, not a folder"), underFile.err());

    // a folder this user may not write: HDFS checks permissions for everyone but its superuser (the user that started
    // the NameNode: this JVM's), so the job runs as another user; the write probe finds it before anything starts
    fs.mkdirs(new Path(nn + "/locked"));
    fs.setPermission(new Path(nn + "/locked"), new org.apache.hadoop.fs.permission.FsPermission((short) 0555));
    Cli locked = org.apache.hadoop.security.UserGroupInformation.createRemoteUser("alice").doAs(
        (java.security.PrivilegedAction<Cli>) () -> embed("--input", nn + "/corpus/c.jsonl", "--output", nn + "/locked/out"));
    assertEquals(2, locked.status(), locked.err() + locked.out());
    assertTrue(locked.err().contains("is not writable: cannot create a file in /locked") && locked.err().contains("Permission denied"),
        locked.err());
    assertEquals(new TreeSet<>(), files("/locked"), "nothing left in the folder");
  }

  /**
   * Input on one file system, output on another (a local corpus embedded into HDFS, an HDFS corpus into a local folder).
   * (Was refused with "Wrong FS" before {@code OutputFolder.check} qualified each input with its own file system.)
   */
  @Test
  @Order(4)
  void localInputToHdfsOutputAndBack() throws Exception {
    java.nio.file.Path localCorpus = TestCorpus.writeLines(tmp.resolve("local.jsonl"), List.of(TestCorpus.jsonLine("a", "one"),
        TestCorpus.jsonLine("b", "two")));
    Cli toHdfs = embed("--input", localCorpus.toString(), "--output", nn + "/out/from-local", "--format", "jsonl");
    System.out.println("local -> hdfs: exit " + toHdfs.status() + " " + toHdfs.err().strip() + toHdfs.out().strip());
    Cli fromHdfs = embed("--input", nn + "/corpus/c.jsonl", "--output", tmp.resolve("from-hdfs").toString(), "--format", "jsonl");
    System.out.println("hdfs -> local: exit " + fromHdfs.status() + " " + fromHdfs.err().strip() + fromHdfs.out().strip());
    assertEquals(0, toHdfs.status(), "local input, HDFS output: " + toHdfs.err());
    assertEquals(2, summary("/out/from-local").get("counts").get("written").asInt());
    assertEquals(0, fromHdfs.status(), "HDFS input, local output: " + fromHdfs.err());
    assertEquals(GOOD + PATH_LIKE_IDS.size(), Outputs.summary(tmp.resolve("from-hdfs")).get("counts").get("written").asInt());
    assertFalse(Files.exists(tmp.resolve("from-hdfs").resolve("..").resolve("x")));
  }
}
