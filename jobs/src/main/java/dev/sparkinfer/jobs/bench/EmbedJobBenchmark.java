package dev.sparkinfer.jobs.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.jobs.BatchJob;
import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.JobSummary;
import dev.sparkinfer.jobs.Main;
import dev.sparkinfer.jobs.cli.Sessions;
import dev.sparkinfer.jobs.embed.EmbedJob;
import dev.sparkinfer.jobs.write.OutputFormat;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.models.bert.BertEmbedder;
import dev.sparkinfer.udf.model.EmbedderCache;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The embedding job's throughput against the raw {@link Embedder} on the same texts, in the same run, and their
 * ratio (goal: at least 0.90). JVM start, Spark start and the model load are excluded: a warm-up job runs first, over
 * the same texts (printed, not counted: its JIT compiles Spark's read, shuffle, write and Parquet paths for seconds, on
 * the cores the engine uses, once per executor JVM, which a job over a real corpus amortizes; on a 2-core machine a
 * 1,024-row warm-up left a third of that compiling inside the timed rounds)
 * (loading the model and warming Spark's read and write paths), then the timed job, then the raw model with as
 * many threads as the job has task slots, in batches of the same size. Each round also says how busy the engine was
 * (its share of the wall time inside admitted calls) and how long the JIT compiled meanwhile: where the job loses
 * to the raw model.
 */
@Command(name = "bench-embed", mixinStandardHelpOptions = true, sortOptions = false,
    customSynopsis = "bin/pipeline bench-embed [--rows N] [--model MODEL] [--device auto|cpu|opencl|java] [--master URL] "
        + "[--batch-size N] [--format parquet|arrow|jsonl] [--input corpus.jsonl]",
    description = "Prints the embed job's rows/s, the raw Embedder's rows/s on the same texts, and the ratio.",
    footer = {"", "Examples:", "  bin/pipeline bench-embed --rows 2000 --device java",
        "  SPARKINFER_CLASSPATH=udf/target/test-classes bin/pipeline bench-embed --model test:hash --rows 50000  (plumbing smoke run)"})
public final class EmbedJobBenchmark implements Callable<Integer> {
  /**
   * 8,000 by default: a job has a fixed cost (the shuffle before its first batch, the JIT compiling Spark's read,
   * shuffle and write paths, shard commits, its last task alone) of about a second on a 2-core machine, which a job over
   * a real corpus amortizes; at 2,000 rows it is a sixth of the job (the printed engine-busy share shows it).
   */
  @Option(names = "--rows", paramLabel = "N", defaultValue = "8000", description = "texts to embed (default: ${DEFAULT-VALUE})")
  int rows;

  @Option(names = "--model", paramLabel = "MODEL", defaultValue = JobConfig.DEFAULT_MODEL, description = "as for embed (default: ${DEFAULT-VALUE})")
  String model;

  @Option(names = "--device", paramLabel = "DEV", defaultValue = "auto", description = "as for embed (default: ${DEFAULT-VALUE})")
  String device;

  @Option(names = "--master", paramLabel = "URL", defaultValue = JobConfig.DEFAULT_MASTER, description = "Spark master (default: ${DEFAULT-VALUE})")
  String master;

  @Option(names = "--batch-size", paramLabel = "N", defaultValue = "" + JobConfig.DEFAULT_BATCH_SIZE, description = "(default: ${DEFAULT-VALUE})")
  int batchSize;

  @Option(names = "--format", paramLabel = "FMT", defaultValue = "parquet", description = "output format (default: ${DEFAULT-VALUE})")
  String format;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "0", description = "as for embed; 0 = auto (default: ${DEFAULT-VALUE})")
  int partitions;

  @Option(names = "--repeat", paramLabel = "N", defaultValue = "3",
      description = "timed rounds, each a job run then a raw run; the medians are compared (default: ${DEFAULT-VALUE})")
  int repeat;

  @Option(names = "--input", paramLabel = "JSONL",
      description = "texts to use (JSONL with a 'text' field, cycled up to --rows); default: examples/corpus.jsonl if present, else built-in sentences")
  Path input;

  public static void main(String[] args) {
    System.exit(Main.execute(prepend("bench-embed", args)));
  }

  @Override
  public Integer call() throws Exception {
    DeviceChoice dev = DeviceChoice.parse(device);
    OutputFormat fmt = OutputFormat.parse(format);
    List<String> texts = texts(rows);
    Path dir = Files.createTempDirectory("sparkinfer-bench-");
    try {
      Path corpus = writeCorpus(dir.resolve("corpus.jsonl"), texts);
      new EmbedJob(JobConfig.of(corpus.toString(), dir.resolve("out").toString()).withModel(model).withDevice(dev)).checkModel();
      SparkSession spark = Sessions.start("sparkinfer bench-embed", master);
      try {
        int slots = spark.sparkContext().defaultParallelism();
        JobConfig base = JobConfig.of(corpus.toString(), dir.resolve("out").toString()).withModel(model).withDevice(dev)
            .withMaster(master).withBatchSize(batchSize).withFormat(fmt).withPartitions(partitions);

        // warm-up: loads the model (local masters) and runs Spark's read, shuffle and write paths until compiled
        Span warm = Span.start(null);
        JobSummary warmJob = BatchJob.run(spark, base.withPaths(corpus.toString(), dir.resolve("warmup-out").toString()), EmbedJob::new);
        warm = warm.end();
        Embedder embedder = EmbedderCache.get(model, dev);
        rawRowsPerSecond(embedder, texts.subList(0, Math.min(texts.size(), 2 * batchSize * slots)), slots);
        System.out.printf(Locale.ROOT, "warm-up job (not counted; model load included): %,.1f rows/s, %s%n",
            warmJob.inputRows() / warmJob.wallSeconds(), warm);

        // timed rounds, job and raw alternating so that a noisy neighbour hurts both alike
        DeviceRuntime engine = embedder instanceof BertEmbedder bert ? bert.runtime() : null;
        List<JobSummary> jobs = new ArrayList<>();
        List<Double> jobRates = new ArrayList<>(), rawRates = new ArrayList<>(), jobBusy = new ArrayList<>(), rawBusy = new ArrayList<>();
        for (int round = 0; round < repeat; round++) {
          Span span = Span.start(engine);
          JobSummary job = BatchJob.run(spark, base.withPaths(corpus.toString(), dir.resolve("out-" + round).toString()), EmbedJob::new);
          Span jobSpan = span.end();
          jobs.add(job);
          jobRates.add(job.inputRows() / job.wallSeconds());
          span = Span.start(engine);
          rawRates.add(rawRowsPerSecond(embedder, texts, slots));
          Span rawSpan = span.end();
          jobBusy.add(jobSpan.busyShare());
          rawBusy.add(rawSpan.busyShare());
          System.out.printf(Locale.ROOT, "round %d: job %,.1f rows/s (read+count %.2f s, tasks %.2f s, write %.2f s; %s), raw %,.1f rows/s (%s)%n",
              round + 1, jobRates.get(round), job.readSeconds(), job.runSeconds(), job.writeSeconds(), jobSpan,
              rawRates.get(round), rawSpan);
        }
        double jobRate = median(jobRates);
        double raw = median(rawRates);
        JobSummary job = jobs.get(0);
        double avgChars = texts.stream().mapToInt(String::length).average().orElse(0);
        System.out.printf(Locale.ROOT, "%nEmbedJobBenchmark: model %s on %s; master %s (%d task slots); batch %d; %,d rows "
                + "(avg %.0f chars); output %s; median of %d rounds%n", job.model(), job.device(), spark.sparkContext().master(),
            slots, batchSize, texts.size(), avgChars, fmt.name().toLowerCase(Locale.ROOT), repeat);
        System.out.printf(Locale.ROOT, "  job  (checks, read, count, embed, write; Spark up, model loaded): %,10.1f rows/s%n", jobRate);
        System.out.printf(Locale.ROOT, "  raw  Embedder.embedDetailed, %d thread(s), batches of %d:         %,10.1f rows/s%n",
            slots, batchSize, raw);
        System.out.printf(Locale.ROOT, "  ratio job / raw: %.3f  (goal >= 0.90)%n", jobRate / raw);
        if (engine != null) {
          System.out.printf(Locale.ROOT, "  engine busy (median): job %.1f %%, raw %.1f %% of the wall time; the job's idle engine is its fixed cost "
              + "per job (the shuffle before the first batch, shard commits, the last task), which a longer input amortizes%n",
              100 * median(jobBusy), 100 * median(rawBusy));
        }
        return 0;
      } finally {
        spark.stop();
      }
    } finally {
      deleteTree(dir);
    }
  }

  /**
   * What the engine and the JIT did over a span of wall time: the engine's busy time (inside admitted calls) and the
   * JIT compilers' time (a job runs Spark's code paths, which compile over its first seconds: a cost a long job pays
   * once).
   */
  record Span(DeviceRuntime engine, long wallNanos, long busyNanos, long jitMillis) {
    private static final CompilationMXBean JIT = ManagementFactory.getCompilationMXBean();

    static Span start(DeviceRuntime engine) {
      return new Span(engine, System.nanoTime(), engine == null ? 0 : engine.busyNanos(), jitNow());
    }

    Span end() {
      return new Span(engine, System.nanoTime() - wallNanos, engine == null ? 0 : engine.busyNanos() - busyNanos, jitNow() - jitMillis);
    }

    double busyShare() { return engine == null ? Double.NaN : (double) busyNanos / wallNanos; }

    static long jitNow() {
      return JIT != null && JIT.isCompilationTimeMonitoringSupported() ? JIT.getTotalCompilationTime() : -1;
    }

    @Override
    public String toString() {
      return (engine == null ? "" : String.format(Locale.ROOT, "engine busy %.1f %%, ", 100 * busyShare()))
          + (jitMillis < 0 ? "JIT time unknown" : String.format(Locale.ROOT, "JIT %.2f s", jitMillis / 1e3));
    }
  }

  /**
   * The raw model: {@code threads} callers taking batches of {@code batchSize} off a shared queue of the texts sorted
   * by length, longest first, as the job orders its work (it range-partitions by length, longest partitions first),
   * so the raw model pads no more than the job does; the sort is inside the timing, as the job's is.
   */
  double rawRowsPerSecond(Embedder embedder, List<String> unsorted, int threads) throws Exception {
    long sortStart = System.nanoTime();
    List<String> texts = new ArrayList<>(unsorted);
    texts.sort(java.util.Comparator.comparingInt(String::length).reversed());
    long sortNanos = System.nanoTime() - sortStart;
    AtomicInteger next = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      long t0 = System.nanoTime();
      List<Future<?>> running = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        running.add(pool.submit(() -> {
          for (int start; (start = next.getAndAdd(batchSize)) < texts.size(); ) {
            embedder.embedDetailed(new ArrayList<>(texts.subList(start, Math.min(texts.size(), start + batchSize))));
          }
          return null;
        }));
      }
      for (Future<?> f : running) f.get();
      return texts.size() / ((System.nanoTime() - t0 + sortNanos) / 1e9);
    } finally {
      pool.shutdownNow();
    }
  }

  /** {@code n} distinct texts: the input's (or the examples') texts, cycled with a counter. */
  List<String> texts(int n) throws IOException {
    List<String> base = new ArrayList<>();
    Path source = input != null ? input : Path.of("examples", "corpus.jsonl");
    if (Files.isRegularFile(source)) {
      ObjectMapper json = new ObjectMapper();
      for (String line : Files.readAllLines(source, StandardCharsets.ISO_8859_1)) {
        try {
          JsonNode node = json.readTree(new String(line.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8));
          if (node != null && node.hasNonNull("text") && !node.get("text").asText().isBlank()) base.add(node.get("text").asText());
        } catch (IOException ignored) {
          // bad rows of the example corpus
        }
      }
    } else if (input != null) {
      throw new IllegalArgumentException("--input " + input + " is not a file");
    }
    if (base.isEmpty()) {
      base = List.of("The river overflowed its banks after three days of heavy rain.",
          "She opened a savings account at the bank on the corner.",
          "Photosynthesis converts light energy into chemical energy stored in glucose.",
          "The train to Edinburgh leaves from platform nine at half past seven.");
    }
    List<String> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) out.add(base.get(i % base.size()) + (i < base.size() ? "" : " (" + i / base.size() + ")"));
    return out;
  }

  static double median(List<Double> xs) {
    List<Double> sorted = xs.stream().sorted().toList();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  static Path writeCorpus(Path file, List<String> texts) throws IOException {
    ObjectMapper json = new ObjectMapper();
    List<String> lines = new ArrayList<>(texts.size());
    for (int i = 0; i < texts.size(); i++) {
      lines.add(json.writeValueAsString(java.util.Map.of("id", "b-" + i, "text", texts.get(i))));
    }
    return Files.write(file, lines, StandardCharsets.UTF_8);
  }

  static void deleteTree(Path dir) {
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String[] prepend(String first, String[] rest) {
    String[] out = new String[rest.length + 1];
    out[0] = first;
    System.arraycopy(rest, 0, out, 1, rest.length);
    return out;
  }
}
