package dev.sparkinfer.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sparkinfer.jobs.Main;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
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
 * A real standalone cluster on 127.0.0.1: a master and 2 workers (1 core, 1 GB each) started by
 * {@code deploy/start-cluster.sh} (with {@code --secret}: spark.authenticate on), stopped by {@code deploy/stop-cluster.sh};
 * jobs run through {@link Main} with {@code --master spark://127.0.0.1:PORT}, the driver in this JVM.
 *
 * <p>How executors get the project's code: the workers run on Spark's jars only
 * ({@code jobs/target/launcher/spark-classpath.txt}, as on a cluster with a Spark distribution); the project's code goes
 * through {@code spark.jars}, as bin/pipeline ships the assembly. {@code mvn test} has not packaged anything yet, so the
 * test ships the assembly's contents unshaded: the jars of {@code jobs/target/launcher/app-classpath.txt} (written at
 * process-resources: our modules and their libraries, the default model's jar included), each module's classes folder
 * packed into a jar here, plus the udf test classes (the {@code test:hash} model). The driver runs from a classes folder,
 * so {@code ClusterSettings} adds no jars of its own; it does add the executors' JVM flags (without
 * {@code --add-modules=jdk.incubator.vector} there, {@code --device cpu} would fail every task) and the secret.
 */
@Tag("cluster")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StandaloneClusterTest {
  @TempDir static Path tmp;
  static Path root;
  static Path work;
  static String master;
  static String jars;
  static Path hashCorpus;
  static double hashRunSeconds;
  static int hashRunTasks;

  @BeforeAll
  static void startCluster() throws Exception {
    root = repositoryRoot();
    assumeTrue(new File("/proc/self/cmdline").canRead(), "the cluster test finds executor JVMs through /proc (Linux)");
    assumeTrue(commandWorks("bash", "--version"), "the deploy scripts need bash");
    // one SparkContext per JVM: the local[2] session of earlier test classes goes (they make a new one when needed)
    SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
    SparkSession.clearDefaultSession();
    SparkSession.clearActiveSession();

    Path launcher = root.resolve("jobs/target/launcher");
    assertTrue(Files.isRegularFile(launcher.resolve("spark-classpath.txt")) && Files.isRegularFile(launcher.resolve("app-classpath.txt")),
        "jobs/target/launcher/{spark,app}-classpath.txt are written at process-resources by the build");
    jars = String.join(",", executorJars(launcher.resolve("app-classpath.txt")));

    int port;
    int webui;
    try (ServerSocket a = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"));
         ServerSocket b = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = a.getLocalPort();
      webui = b.getLocalPort();
    } catch (IOException e) {
      assumeTrue(false, "no free port on 127.0.0.1 for a Spark master: " + e);
      return;
    }
    work = tmp.resolve("cluster");
    Runtime.getRuntime().addShutdownHook(new Thread(StandaloneClusterTest::stopQuietly)); // a JVM killed mid-test
    long t0 = System.nanoTime();
    // each worker offers one GPU: fake addresses 0 and 1 (the discovery script's override), as this machine may have none
    Result r = run(180, Map.of("SPARKINFER_GPU_ADDRESSES", "0,1"), "bash", root.resolve("deploy/start-cluster.sh").toString(),
        "--host", "127.0.0.1", "--port", "" + port, "--webui-port", "" + webui, "--workers", "2", "--cores", "1",
        "--memory", "1g", "--gpus", "1", "--daemon-memory", "256m", "--work-dir", work.toString(),
        "--secret", tmp.resolve("secret").toString());
    assertEquals(0, r.rc, "deploy/start-cluster.sh failed:\n" + r.out);
    master = "spark://127.0.0.1:" + port;
    System.out.printf("cluster: %s, 2 workers up in %.1f s%n%s", master, (System.nanoTime() - t0) / 1e9, r.out);
    assertTrue(r.out.contains("master: " + master), r.out);
    assertTrue(Files.readString(tmp.resolve("secret")).trim().length() >= 32, "--secret wrote a random secret");
  }

  @AfterAll
  static void stopCluster() throws Exception {
    if (work == null) return;
    List<Long> daemons = new ArrayList<>();
    try (Stream<Path> pids = Files.list(work.resolve("pids"))) {
      for (Path p : pids.toList()) daemons.add(Long.parseLong(Files.readString(p).trim()));
    }
    Result r = run(60, Map.of(), "bash", root.resolve("deploy/stop-cluster.sh").toString(), "--work-dir", work.toString());
    assertEquals(0, r.rc, "deploy/stop-cluster.sh failed:\n" + r.out);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20); // an exited daemon is reaped by init a moment later
    for (long pid : daemons) {
      while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) && System.nanoTime() < deadline) Thread.sleep(100);
      assertTrue(ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true), "pid " + pid + " still runs after stop-cluster.sh");
    }
    assertTrue(executorPids(null).isEmpty(), "executors left running after stop-cluster.sh: " + executorPids(null));
    work = null;
  }

  /**
   * 2,000 rows, the real default model on the CPU engine: the cluster's output equals local[2]'s bit for bit (the CPU
   * engine's results depend on neither the batch a text is in, nor the threads, nor how warm the JIT is; before its exp
   * was its own, cold executors differed from the warm local run by about 1.5e-7).
   */
  @Test
  @Order(1)
  void realModelOnTheClusterEqualsLocal() throws Exception {
    List<String> lines = new ArrayList<>();
    for (String[] row : TestCorpus.rows(2_000, 11)) lines.add(TestCorpus.jsonLine(row[0], row[1]));
    Path corpus = TestCorpus.writeLines(tmp.resolve("real.jsonl"), lines);
    Path local = tmp.resolve("real-local");
    Path cluster = tmp.resolve("real-cluster");
    String[] common = {"embed", "--input", corpus.toString(), "--model", "default", "--device", "cpu", "--format", "arrow",
        "--partitions", "6"};

    double localS = runJob(Map.of(), concat(common, "--output", local.toString(), "--master", "local[2]"));
    // an engine setting made on the driver must reach the executors (it travels in the task factory): 3 CPU-engine
    // threads where the executor has 1 core would otherwise give it
    double clusterS = runJob(Map.of("sparkinfer.cpu.threads", "3"), concat(common, "--output", cluster.toString(), "--master", master));
    System.out.printf("real model, 2,000 rows: local[2] %.1f s, cluster (2 workers x 1 core) %.1f s%n", localS, clusterS);

    JsonNode summary = Outputs.summary(cluster);
    assertEquals(master, summary.get("spark_master").asText());
    assertTrue(summary.get("device").asText().contains("3 threads"), "executors ran the driver's engine config: " + summary.get("device"));
    assertEquals(2_000, summary.get("counts").get("written").asInt());

    Map<String, float[]> want = embeddings(local);
    Map<String, float[]> got = embeddings(cluster);
    assertEquals(want.keySet(), got.keySet());
    double maxDiff = 0;
    for (Map.Entry<String, float[]> e : want.entrySet()) {
      float[] a = e.getValue();
      float[] b = got.get(e.getKey());
      assertEquals(a.length, b.length);
      for (int i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    }
    System.out.printf("real model: max |cluster - local| = %.3g over %d embeddings%n", maxDiff, want.size());
    assertEquals(0.0, maxDiff, "cluster and local embeddings differ by " + maxDiff);
  }

  /** 20,000 rows with the test model, which reaches the executors only through spark.jars (udf test classes). */
  @Test
  @Order(2)
  void testModelOver20000Rows() throws Exception {
    hashCorpus = hashCorpus();
    Path out = tmp.resolve("hash");
    TaskCounter.reset(null);
    hashRunSeconds = runJob(Map.of(), hashArgs(out));
    hashRunTasks = TaskCounter.runTasks;
    System.out.printf("test model, 20,000 rows: %.1f s, %d tasks (%d in the model stage), %d failed attempts%n",
        hashRunSeconds, TaskCounter.succeeded.get(), hashRunTasks, TaskCounter.failed.get());
    assertEquals(0, TaskCounter.failed.get(), "no task may fail on a healthy cluster");
    checkEveryIdOnce(out, 20_000);
  }

  /** The same with one executor JVM killed (kill -9) when about half the model's tasks are done. */
  @Test
  @Order(3)
  void killedExecutorLosesNoRow() throws Exception {
    if (hashCorpus == null) hashCorpus = hashCorpus();
    Path out = tmp.resolve("hash-killed");
    List<String> killed = new ArrayList<>();
    TaskCounter.reset(() -> {
      List<Long> pids = executorPids(TaskCounter.appId);
      if (pids.isEmpty()) return;
      long pid = pids.get(0);
      try {
        int rc = new ProcessBuilder("kill", "-9", "" + pid).inheritIO().start().waitFor();
        killed.add(pid + " (kill -9 exit " + rc + ", " + TaskCounter.runDone.get() + "/" + TaskCounter.runTasks + " model tasks done)");
      } catch (IOException | InterruptedException e) {
        killed.add("kill -9 " + pid + " failed: " + e);
      }
    });
    double s = runJob(Map.of(), hashArgs(out));
    System.out.printf("test model, 20,000 rows, one executor killed: %s; %.1f s (%.1f s without the kill: overhead %+.1f s, %+.0f%%); "
            + "%d failed task attempts retried, %d executors lost, %d tasks succeeded%n",
        killed, s, hashRunSeconds, s - hashRunSeconds, hashRunSeconds > 0 ? 100 * (s - hashRunSeconds) / hashRunSeconds : 0,
        TaskCounter.failed.get(), TaskCounter.executorsRemoved.get(), TaskCounter.succeeded.get());
    assertEquals(1, killed.size(), "one executor was killed mid-job: " + killed);
    assertTrue(killed.get(0).contains("exit 0"), killed.get(0));
    assertTrue(TaskCounter.executorsRemoved.get() >= 1, "the driver saw the executor go");
    checkEveryIdOnce(out, 20_000);
  }

  /**
   * GPU scheduling the Spark way, on the workers' fake GPU addresses 0 and 1: the job asks one GPU per executor and per
   * task (spark.executor.resource.gpu.amount, spark.task.resource.gpu.amount), and each task's engine is pinned to the
   * address Spark gave it (#0 or #1; the test model reports its pin as its device). What a pin opens on a machine with
   * GPUs is kernels' GpuPinTest; here there may be none.
   */
  @Test
  @Order(4)
  void eachTaskIsPinnedToTheGpuSparkAssignedIt() {
    List<String> lines = new ArrayList<>();
    for (String[] row : TestCorpus.rows(2_000, 5)) lines.add(TestCorpus.jsonLine(row[0], row[1]));
    Path corpus = TestCorpus.writeLines(tmp.resolve("gpu.jsonl"), lines);
    Path out = tmp.resolve("gpu");
    runJob(Map.of("spark.executor.resource.gpu.amount", "1", "spark.task.resource.gpu.amount", "1"),
        "embed", "--input", corpus.toString(), "--output", out.toString(), "--model", FakeEmbedderProvider.HASH, "--device", "auto",
        "--format", "arrow", "--partitions", "6", "--master", master);
    String device = Outputs.summary(out).get("device").asText();
    System.out.println("GPU addresses 0 and 1, one per executor: the tasks ran on " + device);
    Set<String> pins = new HashSet<>();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("OpenCL pin (#\\d+)").matcher(device);
    while (m.find()) pins.add(m.group(1));
    assertTrue(!pins.isEmpty() && Set.of("#0", "#1").containsAll(pins), "every task pinned to its GPU address: " + device);
    checkEveryIdOnce(out, 2_000);
  }

  // ---- helpers

  private static String[] hashArgs(Path out) {
    return new String[] {"embed", "--input", hashCorpus.toString(), "--output", out.toString(), "--model", FakeEmbedderProvider.HASH,
        "--format", "arrow", "--partitions", "8", "--master", master};
  }

  private static Path hashCorpus() {
    List<String> lines = new ArrayList<>();
    for (String[] row : TestCorpus.rows(20_000, 23)) lines.add(TestCorpus.jsonLine(row[0], row[1]));
    return TestCorpus.writeLines(tmp.resolve("hash.jsonl"), lines);
  }

  /** Every id of doc-0 .. doc-(n-1) exactly once across output and rejects, none rejected. */
  private static void checkEveryIdOnce(Path out, int n) {
    List<Object[]> rows = Outputs.arrowRows(out, null);
    List<Object[]> rejects = Files.isDirectory(out.resolve("_rejects")) ? Outputs.arrowRows(out.resolve("_rejects"), null) : List.of();
    Map<String, Integer> seen = new HashMap<>();
    for (Object[] r : rows) seen.merge((String) r[0], 1, Integer::sum);
    for (Object[] r : rejects) seen.merge((String) r[0], 1, Integer::sum);
    Set<String> dup = new HashSet<>();
    seen.forEach((id, c) -> { if (c > 1) dup.add(id); });
    int missing = 0;
    for (int i = 0; i < n; i++) if (!seen.containsKey("doc-" + i)) missing++;
    System.out.printf("  %s: %d written, %d rejected, %d missing, %d duplicate ids%n", out.getFileName(), rows.size(), rejects.size(), missing, dup.size());
    assertEquals(0, missing, "ids missing");
    assertEquals(Set.of(), dup, "duplicate ids");
    assertEquals(n, rows.size());
    assertEquals(0, rejects.size());
    JsonNode counts = Outputs.summary(out).get("counts");
    assertEquals(n, counts.get("written").asInt());
    assertTrue(counts.get("reconciled").asBoolean());
  }

  private static Map<String, float[]> embeddings(Path dir) {
    Map<String, float[]> m = new LinkedHashMap<>();
    for (Object[] r : Outputs.arrowRows(dir, null)) assertEquals(null, m.put((String) r[0], (float[]) r[1]), "id twice: " + r[0]);
    return m;
  }

  /**
   * Runs Main with these system properties for the run (Spark reads spark.*; the engine sparkinfer.*), restored after;
   * a cluster run also gets the jars, the secret, 1 core and 768 MB per executor and the task counter. Returns seconds.
   */
  private static double runJob(Map<String, String> props, String... args) {
    Map<String, String> all = new LinkedHashMap<>(props);
    all.put("spark.ui.enabled", "false");
    all.put("spark.driver.host", "127.0.0.1");
    all.put("spark.driver.bindAddress", "127.0.0.1");
    if (List.of(args).contains(master)) {
      all.put("spark.jars", jars);
      all.put("spark.executor.cores", "1");
      all.put("spark.executor.memory", "768m");
      all.put("spark.extraListeners", TaskCounter.class.getName());
      all.put("sparkinfer.auth.secretFile", tmp.resolve("secret").toString());
    }
    return ExecutorScalingBenchmark.runJob(all, args);
  }

  /** The pids of this machine's executor JVMs, of one application (null: of any application started from our work dir). */
  static List<Long> executorPids(String appId) {
    List<Long> pids = new ArrayList<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
        String cmd;
        try {
          cmd = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException e) {
          continue; // gone, or not ours to read
        }
        if (!cmd.contains("org.apache.spark.executor.CoarseGrainedExecutorBackend")) continue;
        if (appId != null ? cmd.contains(" --app-id " + appId + " ") : work != null && cmd.contains(work.toString())) {
          pids.add(Long.parseLong(p.getFileName().toString()));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return pids;
  }

  /** What executors need beside Spark: app-classpath.txt's jars, classes folders packed into jars, the udf test classes. */
  private static List<String> executorJars(Path appClasspath) throws IOException {
    List<Path> entries = new ArrayList<>();
    entries.add(root.resolve("jobs/target/classes"));
    for (String e : Files.readString(appClasspath).trim().split(File.pathSeparator)) if (!e.isBlank()) entries.add(Path.of(e));
    Path udfTests = null;
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      String n = e.replace('\\', '/');
      if (n.endsWith("udf/target/test-classes") || n.matches(".*/sparkinfer-udf-[^/]*-tests\\.jar")) udfTests = Path.of(e);
    }
    assertTrue(udfTests != null, "the udf test classes (test:hash) are on the test classpath");
    entries.add(udfTests);
    List<String> jars = new ArrayList<>();
    Path dir = Files.createDirectories(tmp.resolve("executor-jars"));
    for (Path e : entries) {
      if (Files.isDirectory(e)) {
        // jobs/target/classes -> jobs-classes.jar; udf/target/test-classes -> udf-test-classes.jar
        Path jar = dir.resolve(e.getParent().getParent().getFileName() + "-" + e.getFileName() + ".jar");
        packJar(e, jar);
        jars.add(jar.toString());
      } else {
        assertTrue(Files.isRegularFile(e), "classpath entry " + e + " is missing");
        jars.add(e.toString());
      }
    }
    return jars;
  }

  private static void packJar(Path classes, Path jar) throws IOException {
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar)); Stream<Path> files = Files.walk(classes)) {
      for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
        out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace(File.separatorChar, '/')));
        Files.copy(f, out);
        out.closeEntry();
      }
    }
  }

  private static Path repositoryRoot() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("deploy/start-cluster.sh")) && Files.isDirectory(p.resolve("jobs"))) return p;
    }
    throw new IllegalStateException("deploy/start-cluster.sh not found above " + Path.of("").toAbsolutePath());
  }

  private static String[] concat(String[] a, String... b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  private static boolean commandWorks(String... cmd) {
    try {
      return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  private static void stopQuietly() {
    if (work == null) return;
    try {
      run(60, Map.of(), "bash", root.resolve("deploy/stop-cluster.sh").toString(), "--work-dir", work.toString());
    } catch (Exception e) {
      // the JVM is going: nothing more to do
    }
  }

  record Result(int rc, String out) {}

  private static Result run(int timeoutS, Map<String, String> env, String... cmd) throws IOException, InterruptedException {
    Path log = Files.createTempFile(tmp, "cmd", ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().putAll(env);
    Process p = pb.start();
    if (!p.waitFor(timeoutS, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return new Result(-1, "timed out after " + timeoutS + " s\n" + Files.readString(log));
    }
    return new Result(p.exitValue(), Files.readString(log));
  }
}
