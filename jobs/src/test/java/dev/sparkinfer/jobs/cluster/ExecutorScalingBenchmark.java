package dev.sparkinfer.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sparkinfer.jobs.Main;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A measurement, not a check: the embed job's throughput on a standalone cluster (deploy/start-cluster.sh, 2 workers of
 * 1 core and 1 GB on 127.0.0.1) with 1 executor ({@code spark.cores.max=1}) and with 2 ({@code spark.cores.max=2}), in
 * alternating rounds, printed as rows/s of the whole job (wall) and of its model stage ({@code run_tasks} in
 * {@code _SUMMARY.json}). Skipped unless asked for, so {@code mvn test} does not spend minutes on it:
 *
 * <pre>
 * mvn -o -q test -pl jobs -am -Dtest=ExecutorScalingBenchmark -Dsurefire.failIfNoSpecifiedTests=false \
 *   -Dtest.extra.args="-Dsparkinfer.bench.scaling=true -Dsparkinfer.bench.rows=20000 -Dsparkinfer.bench.model=test:hash -Dsparkinfer.bench.rounds=2"
 * </pre>
 *
 * The figures hold for this machine only: both workers share its cores with the driver (and, on a shared machine,
 * with whatever else runs), so 2 executors can at best double the model stage's rate when 2 cores are free.
 */
@Tag("cluster")
class ExecutorScalingBenchmark {
  @TempDir static Path tmp;

  /** Counts the executors the driver's application was given (registered through spark.extraListeners). */
  public static final class ExecutorCounter extends SparkListener {
    static final AtomicInteger added = new AtomicInteger();

    @Override
    public void onExecutorAdded(SparkListenerExecutorAdded e) { added.incrementAndGet(); }
  }

  @Test
  void oneExecutorVersusTwo() throws Exception {
    assumeTrue(Boolean.getBoolean("sparkinfer.bench.scaling"), "a measurement: run with -Dsparkinfer.bench.scaling=true");
    int rows = Integer.getInteger("sparkinfer.bench.rows", 20_000);
    String model = System.getProperty("sparkinfer.bench.model", "test:hash");
    int rounds = Integer.getInteger("sparkinfer.bench.rounds", 2);
    Path root = repositoryRoot();
    SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
    SparkSession.clearDefaultSession();
    SparkSession.clearActiveSession();

    String jars = String.join(",", executorJars(root, root.resolve("jobs/target/launcher/app-classpath.txt")));
    int port;
    int webui;
    try (ServerSocket a = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"));
         ServerSocket b = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = a.getLocalPort();
      webui = b.getLocalPort();
    }
    Path work = tmp.resolve("cluster");
    String out = run(root, 180, "bash", root.resolve("deploy/start-cluster.sh").toString(), "--host", "127.0.0.1", "--port", "" + port,
        "--webui-port", "" + webui, "--workers", "2", "--cores", "1", "--memory", "1g", "--daemon-memory", "256m",
        "--work-dir", work.toString(), "--secret", tmp.resolve("secret").toString());
    String master = "spark://127.0.0.1:" + port;
    try {
      List<String> lines = new ArrayList<>();
      for (String[] row : TestCorpus.rows(rows, 23)) lines.add(TestCorpus.jsonLine(row[0], row[1]));
      Path corpus = TestCorpus.writeLines(tmp.resolve("corpus.jsonl"), lines);
      System.out.printf("cluster %s (2 workers x 1 core); %,d rows, model %s, %d cores on this machine, load average %s%n", master, rows,
          model, Runtime.getRuntime().availableProcessors(), Files.readString(Path.of("/proc/loadavg")).trim());

      Map<Integer, List<double[]>> results = new LinkedHashMap<>();
      int n = 0;
      for (int round = 0; round <= rounds; round++) { // round 0 warms up the driver's JVM (Spark's code paths): not counted
        for (int executors : new int[] {1, 2}) {
          Path o = tmp.resolve("out-" + n++);
          Map<String, String> props = new LinkedHashMap<>();
          props.put("spark.jars", jars);
          props.put("spark.executor.cores", "1");
          props.put("spark.cores.max", "" + executors);
          props.put("spark.executor.memory", "768m");
          props.put("spark.ui.enabled", "false");
          props.put("spark.driver.host", "127.0.0.1");
          props.put("spark.driver.bindAddress", "127.0.0.1");
          props.put("spark.extraListeners", ExecutorCounter.class.getName());
          props.put("sparkinfer.auth.secretFile", tmp.resolve("secret").toString());
          ExecutorCounter.added.set(0);
          double wall = runJob(props, "embed", "--input", corpus.toString(), "--output", o.toString(), "--model", model,
              "--format", "arrow", "--partitions", "8", "--master", master);
          JsonNode s = Outputs.summary(o);
          assertEquals(rows, s.get("counts").get("written").asInt());
          double job = s.get("wall_time_s").asDouble();
          double runTasks = s.get("timings_s").get("run_tasks").asDouble();
          System.out.printf("  round %d, %d executor(s) (%d added): job %.1f s = %.0f rows/s (read and count %.1f s, model stage %.1f s "
                  + "= %.0f rows/s, write %.1f s); with the application's start %.1f s; load average %s%n", round, executors,
              ExecutorCounter.added.get(), job, rows / job, s.get("timings_s").get("read_and_count").asDouble(), runTasks, rows / runTasks,
              s.get("timings_s").get("write").asDouble(), wall, Files.readString(Path.of("/proc/loadavg")).trim().split(" ")[0]);
          assertEquals(executors, ExecutorCounter.added.get(), "spark.cores.max gave the executors asked for");
          if (round > 0) results.computeIfAbsent(executors, k -> new ArrayList<>()).add(new double[] {rows / job, rows / runTasks});
        }
      }
      double[] one = medians(results.get(1));
      double[] two = medians(results.get(2));
      System.out.printf("median of %d rounds, %,d rows, %s: 1 executor %.0f rows/s (model stage %.0f), 2 executors %.0f rows/s "
              + "(model stage %.0f): x%.2f job, x%.2f model stage%n", rounds, rows, model, one[0], one[1], two[0], two[1],
          two[0] / one[0], two[1] / one[1]);
    } finally {
      run(root, 60, "bash", root.resolve("deploy/stop-cluster.sh").toString(), "--work-dir", work.toString());
    }
  }

  static double[] medians(List<double[]> xs) {
    double[] m = new double[2];
    for (int k = 0; k < 2; k++) {
      final int j = k;
      double[] v = xs.stream().mapToDouble(x -> x[j]).sorted().toArray();
      m[k] = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
    return m;
  }

  /** Runs Main with these system properties (restored after); returns the seconds, the application's start included. */
  static double runJob(Map<String, String> props, String... args) {
    Map<String, String> before = new HashMap<>();
    props.forEach((k, v) -> before.put(k, System.setProperty(k, v)));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    long t0 = System.nanoTime();
    int rc;
    try {
      rc = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    } finally {
      before.forEach((k, v) -> { if (v == null) System.clearProperty(k); else System.setProperty(k, v); });
    }
    assertEquals(0, rc, String.join(" ", args) + " failed:\n" + err + out);
    return (System.nanoTime() - t0) / 1e9;
  }

  /** What executors need beside Spark (as StandaloneClusterTest ships it): the app classpath, classes folders as jars. */
  static List<String> executorJars(Path root, Path appClasspath) throws IOException {
    List<Path> entries = new ArrayList<>();
    entries.add(root.resolve("jobs/target/classes"));
    for (String e : Files.readString(appClasspath).trim().split(File.pathSeparator)) if (!e.isBlank()) entries.add(Path.of(e));
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      String n = e.replace('\\', '/');
      if (n.endsWith("udf/target/test-classes") || n.matches(".*/sparkinfer-udf-[^/]*-tests\\.jar")) entries.add(Path.of(e));
    }
    List<String> jars = new ArrayList<>();
    Path dir = Files.createDirectories(tmp.resolve("executor-jars"));
    for (Path e : entries) {
      if (!Files.isDirectory(e)) {
        jars.add(e.toString());
        continue;
      }
      Path jar = dir.resolve(e.getParent().getParent().getFileName() + "-" + e.getFileName() + ".jar");
      try (JarOutputStream o = new JarOutputStream(Files.newOutputStream(jar)); Stream<Path> files = Files.walk(e)) {
        for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
          o.putNextEntry(new JarEntry(e.relativize(f).toString().replace(File.separatorChar, '/')));
          Files.copy(f, o);
          o.closeEntry();
        }
      }
      jars.add(jar.toString());
    }
    return jars;
  }

  static Path repositoryRoot() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("deploy/start-cluster.sh")) && Files.isDirectory(p.resolve("jobs"))) return p;
    }
    throw new IllegalStateException("deploy/start-cluster.sh not found above " + Path.of("").toAbsolutePath());
  }

  static String run(Path root, int timeoutS, String... cmd) throws IOException, InterruptedException {
    Path log = Files.createTempFile(tmp, "cmd", ".log");
    Process p = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    boolean done = p.waitFor(timeoutS, TimeUnit.SECONDS);
    if (!done) p.destroyForcibly();
    assertTrue(done && p.exitValue() == 0, String.join(" ", cmd) + " failed:\n" + Files.readString(log));
    return Files.readString(log);
  }
}
