package dev.sparkinfer.jobs.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.jobs.Main;
import dev.sparkinfer.jobs.cli.Sessions;
import dev.sparkinfer.kernels.CpuOps;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.bench.ClipBenchmark;
import dev.sparkinfer.models.clip.ClipConfig;
import dev.sparkinfer.models.image.ClipImagePreprocessor;
import dev.sparkinfer.models.image.ImageDecoder;
import dev.sparkinfer.udf.clip.ClipTaskConfig;
import dev.sparkinfer.udf.model.ClipCache;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;

/**
 * {@code bin/benchmark clip}: images/s of {@code clip-score} on this machine, in one run, for clip-tiny-hf (the fixture)
 * and a ViT-B/32-shaped CLIP with random F16 weights (openai/clip-vit-base-patch32's shapes, written here as a Hugging
 * Face folder and deleted at the end). Per model: (a) decode + preprocess alone, on all cores, as the job's image batch
 * does it; (b) both towers alone on the engine (vision + text per pair, in one admitted call per batch, as the job runs
 * them), on the very model the job then uses; (c) the job end to end on Spark {@code local[*]} over the same pairs
 * (JSONL with image paths, the fixture images cycled, captions varied), its images/s read from {@code _SUMMARY.json},
 * and the ratio job / (b): how much of the engine's speed the job keeps; beside it, job / (a then b), the rate if decode
 * and the towers took turns on the same cores (the bound that matters where decode, not the model, is the slower).
 * Spark start and the model load are outside every timing (warm-ups run first, a small job among them); with
 * {@code --repeat N} the three alternate N times and the medians are shown, so that a busy neighbour on a shared machine
 * hurts all three alike (the load average is printed too). Where {@code python3} has torch and transformers, (b) is
 * also run through transformers' CLIPModel on the same folder and pairs (jobs/src/test/python/clip_reference.py);
 * otherwise the run says there is no reference.
 *
 * <pre>
 * bin/benchmark clip [--pairs N] [--batch 32] [--device cpu|opencl|java] [--models tiny,vit-b32] [--repeat 1]
 * </pre>
 */
public final class ClipJobBenchmark {
  static final String USAGE = "usage: bin/benchmark clip [--pairs N] [--batch 32] [--device cpu|opencl|java] [--models tiny,vit-b32] [--repeat 1]";
  static final int TINY_PAIRS = 2000, VIT_B32_PAIRS = 512;
  static final String REFERENCE_SCRIPT = "jobs/src/test/python/clip_reference.py";

  /** A model's figures, images/s; {@code serial}: decode + preprocess, then both towers, one after the other on the same cores. */
  record Result(String model, double preprocess, double towers, double job, double serial, Double reference) {}

  public static void main(String[] args) throws Exception {
    Integer pairs = null;
    int batch = 32, repeat = 1;
    String device = "cpu";
    List<String> models = List.of("tiny", "vit-b32");
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--pairs" -> pairs = Integer.parseInt(args[++i]);
          case "--batch" -> batch = Integer.parseInt(args[++i]);
          case "--device" -> device = args[++i];
          case "--repeat" -> repeat = Integer.parseInt(args[++i]);
          case "--models" -> models = List.of(args[++i].split(","));
          default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'");
        }
      }
      DeviceChoice.parse(device);
      if (pairs != null && pairs < 1 || batch < 1 || repeat < 1) throw new IllegalArgumentException("--pairs, --batch and --repeat must be at least 1");
      for (String m : models) if (!m.equals("tiny") && !m.equals("vit-b32")) throw new IllegalArgumentException("unknown model '" + m + "'");
    } catch (RuntimeException e) {
      System.err.println("error: " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
    }
    Path fixtures = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures")).toAbsolutePath().normalize();
    Path tiny = fixtures.resolve("clip-tiny-hf"), imageDir = fixtures.resolve("images");
    if (!Files.isDirectory(tiny) || !Files.isDirectory(imageDir)) {
      System.err.println("error: no clip-tiny-hf or images under " + fixtures + ": pass -Dsparkinfer.fixtures=DIR (the shared fixtures)");
      System.exit(2);
    }
    List<Path> images;
    try (Stream<Path> s = Files.list(imageDir)) {
      images = s.filter(Files::isRegularFile).sorted().toList();
    }

    int cores = Runtime.getRuntime().availableProcessors();
    System.out.printf(Locale.ROOT, "machine: %s, %d cores, %.0f GiB heap, Java %s; OpenCL devices: %s; load average (1, 5, 15 min): %s%n",
        CpuOps.cpuModel(), cores, Runtime.getRuntime().maxMemory() / (double) (1L << 30), System.getProperty("java.version"),
        Devices.openclDevices().stream().map(d -> d.getName().trim() + " (" + d.getType() + ")").toList(), loadAverage());
    System.out.printf(Locale.ROOT, "images: the %d files of %s, cycled; batch %d; --device %s%n", images.size(), imageDir, batch, device);
    String noReference = referenceProblem();
    System.out.println(noReference == null ? "reference: transformers CLIPModel (PyTorch, fp32) on the same folder and pairs, for (b)"
        : "reference: none on this machine (no PyTorch; " + noReference + "; no CLIP ONNX model either), so no reference figures below");

    Path tmp = Files.createTempDirectory("sparkinfer-clip-bench-");
    List<Result> results = new ArrayList<>();
    try {
      SparkSession spark = Sessions.start("sparkinfer clip benchmark", "local[*]");
      try {
        int slots = spark.sparkContext().defaultParallelism();
        for (String m : models) {
          Path dir;
          int n;
          if (m.equals("tiny")) {
            dir = tiny;
            n = pairs != null ? pairs : TINY_PAIRS;
          } else {
            long t0 = System.nanoTime();
            dir = ClipBenchmark.RandomClip.writeVitB32(tmp.resolve("clip-vit-b32-random"), tiny);
            System.out.printf(Locale.ROOT, "%nwrote %s (random F16, %,d MB) in %.1f s%n", dir, Files.size(dir.resolve("model.safetensors")) >> 20,
                (System.nanoTime() - t0) / 1e9);
            n = pairs != null ? pairs : VIT_B32_PAIRS;
          }
          results.add(model(m.equals("tiny") ? "clip-tiny-hf" : "ViT-B/32 shape (random f16)", dir, imageDir, images, n, batch, device,
              slots, repeat, noReference == null, tmp.resolve(m)));
        }
      } finally {
        spark.stop();
      }
    } finally {
      deleteTree(tmp);
    }
    System.out.println();
    for (Result r : results) {
      System.out.printf(Locale.ROOT, "%s: preprocess %.1f, towers %.1f, job %.1f images/s; job / towers %.3f; job / (decode, then towers) "
          + "%.3f%s%n", r.model(), r.preprocess(), r.towers(), r.job(), r.job() / r.towers(), r.job() / r.serial(),
          r.reference() == null ? "" : String.format(Locale.ROOT, "; towers / reference %.3f", r.towers() / r.reference()));
    }
  }

  /** One round's figure: images/s and how it was made up. */
  record Figure(double rate, double tasksRate, String detail) {}

  /** (a), (b), (c) for one model folder, {@code repeat} rounds of the three in turn (medians); prints as it goes. */
  static Result model(String name, Path dir, Path imageDir, List<Path> images, int n, int batch, String device, int slots, int repeat,
                      boolean reference, Path work) throws Exception {
    Files.createDirectories(work);
    ClipConfig cfg = ClipConfig.read(dir);
    System.out.printf(Locale.ROOT, "%n%s: %d px, patch %d; vision %d layers x %d, text %d layers x %d, projection %d; %,d pairs%s%n", name,
        cfg.imageSize(), cfg.patchSize(), cfg.vision().layers(), cfg.vision().width(), cfg.text().layers(), cfg.text().width(),
        cfg.projection(), n, repeat > 1 ? "; medians of " + repeat + " rounds" : "");
    List<String> captions = captions(n);
    List<byte[]> bytes = new ArrayList<>();
    for (Path p : images) bytes.add(Files.readAllBytes(p));
    int cores = Runtime.getRuntime().availableProcessors();
    ImageDecoder decoder = new ImageDecoder(ClipTaskConfig.DEFAULT_MAX_PIXELS); // the job's decoder and the folder's preprocessing
    ClipImagePreprocessor pre = ClipImagePreprocessor.fromModelDir(dir);
    ForkJoinPool pool = new ForkJoinPool(cores);

    // the job's model: ClipCache, whose instance the local[*] job's tasks then get
    long load0 = System.nanoTime();
    ClipCache.Clip clip = ClipCache.get(dir.toString(), dir.toString(), DeviceChoice.parse(device), EngineConfig.fromSystemProperties());
    double loadS = (System.nanoTime() - load0) / 1e9;
    float[][] pixels = new float[bytes.size()][];
    for (int i = 0; i < pixels.length; i++) pixels[i] = pre.preprocess(decoder.decode(bytes.get(i)));
    int[][] tokens = new int[n][];
    long tokenCount = 0;
    for (int i = 0; i < n; i++) {
      tokens[i] = clip.tokenizer().context(captions.get(i), null);
      int eot = 0;
      while (eot < tokens[i].length - 1 && tokens[i][eot] != cfg.eosTokenId()) eot++;
      tokenCount += eot + 1; // the text tower runs up to the EOT token (SOT and EOT counted), not the padded 77
    }
    Path warmIn = writePairs(work.resolve("warm.jsonl"), images, captions, Math.min(n, batch * slots));
    Path in = writePairs(work.resolve("pairs.jsonl"), images, captions, n);

    // warm-ups, untimed: the JIT compiles the decoders and the engine's kernels; Spark's read and write paths run once
    decodeAll(pool, decoder, pre, bytes, Math.min(n, 4 * batch));
    towers(clip, pixels, tokens, Math.min(n, Math.max(2 * batch, n / 5)), batch);
    runJob(dir, imageDir, warmIn, work.resolve("warm-out"), device, batch);

    List<Figure> a = new ArrayList<>(), b = new ArrayList<>(), c = new ArrayList<>();
    try {
      for (int round = 0; round < repeat; round++) {
        // (a) decode + preprocess alone, all cores
        long t0 = System.nanoTime();
        decodeAll(pool, decoder, pre, bytes, n);
        double s = (System.nanoTime() - t0) / 1e9;
        a.add(new Figure(n / s, 0, String.format(Locale.ROOT, "%.2f s", s)));
        // (b) both towers on the engine, as the job's ClipPass calls them
        double[] t = towers(clip, pixels, tokens, n, batch);
        b.add(new Figure(n / t[0], 0, String.format(Locale.ROOT, "%.2f s: vision %.2f s, text %.2f s; %.1f tokens per caption; %s; "
            + "model loaded in %.1f s", t[0], t[1], t[2], tokenCount / (double) n, clip.runtime().device(), loadS)));
        // (c) the job end to end; images/s from its _SUMMARY.json
        JsonNode summary = runJob(dir, imageDir, in, work.resolve("out-" + round), device, batch);
        JsonNode counts = summary.path("counts"), timings = summary.path("timings_s");
        long input = counts.path("input").asLong();
        double wall = summary.path("wall_time_s").asDouble(), tasks = timings.path("run_tasks").asDouble();
        c.add(new Figure(input / wall, input / tasks, String.format(Locale.ROOT, "%.2f s wall: read+count %.2f s, run tasks %.2f s = %,.1f "
            + "images/s, write %.2f s; %,d in, %,d written, %,d rejected; %s (%d slots), %d partitions", wall,
            timings.path("read_and_count").asDouble(), tasks, input / tasks, timings.path("write").asDouble(), input,
            counts.path("written").asLong(), counts.path("rejected").asLong(), summary.path("spark_master").asText(), slots,
            summary.path("partitions").asInt())));
        if (repeat > 1) {
          System.out.printf(Locale.ROOT, "  round %d: (a) %,.1f, (b) %,.1f, (c) %,.1f images/s%n", round + 1, a.get(round).rate(),
              b.get(round).rate(), c.get(round).rate());
        }
      }
    } finally {
      pool.shutdownNow();
    }
    Figure fa = median(a), fb = median(b), fc = median(c);
    line(String.format(Locale.ROOT, "(a) decode + preprocess alone, %d threads (%s layout)", cores, pre.layout()), fa.rate(), fa.detail());
    line("(b) both towers alone on the engine", fb.rate(), fb.detail());
    Double ref = null;
    if (reference) {
      ref = reference(dir, imageDir, in, batch);
      if (ref != null) line("    reference: transformers CLIPModel, both towers", ref, String.format(Locale.ROOT, "engine / reference %.3f", fb.rate() / ref));
    }
    line("(c) clip-score job end to end", fc.rate(), fc.detail());
    double serial = 1 / (1 / fa.rate() + 1 / fb.rate());
    System.out.printf(Locale.ROOT, "      job / (b): %.3f of the engine's speed kept (run tasks alone: %.3f); (a) then (b) one after the other "
        + "on the same cores would give %,.1f images/s, job / that: %.3f%n", fc.rate() / fb.rate(), fc.tasksRate() / fb.rate(), serial,
        fc.rate() / serial);
    System.out.println("      load average now (1, 5, 15 min): " + loadAverage());
    return new Result(name, fa.rate(), fb.rate(), fc.rate(), serial, ref);
  }

  /** The median round by rate (the lower middle one for an even count), with its own detail. */
  static Figure median(List<Figure> rounds) {
    List<Figure> sorted = rounds.stream().sorted(Comparator.comparingDouble(Figure::rate)).toList();
    return sorted.get((sorted.size() - 1) / 2);
  }

  /** /proc/loadavg's first three fields: how busy the machine was around the figures (others may share its cores). */
  static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + ", " + f[1] + ", " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  /** One figure, the figures of (a), (b) and (c) in one column. */
  static void line(String what, double imagesPerSecond, String detail) {
    System.out.printf(Locale.ROOT, "  %-56s %,9.1f images/s  (%s)%n", what, imagesPerSecond, detail);
  }

  /** Decodes and preprocesses {@code n} images (the files cycled) on the pool, as the job's ImageBatch does. */
  static void decodeAll(ForkJoinPool pool, ImageDecoder decoder, ClipImagePreprocessor pre, List<byte[]> files, int n) throws Exception {
    float[][] out = new float[n][];
    pool.submit(() -> IntStream.range(0, n).parallel().forEach(i -> out[i] = pre.preprocess(decoder.decode(files.get(i % files.size())))))
        .get();
  }

  /**
   * Seconds for the first {@code n} pairs through both towers, batches of {@code batch} pairs, each batch one admitted
   * call as the job's ClipPass makes it (image embeddings, text embeddings, normalised, cosine): {total, vision, text}.
   */
  static double[] towers(ClipCache.Clip clip, float[][] pixels, int[][] tokens, int n, int batch) {
    long[] vision = {0}, text = {0};
    double sink = 0;
    long t0 = System.nanoTime();
    for (int start = 0; start < n; start += batch) {
      int m = Math.min(batch, n - start), from = start;
      float[][] px = new float[m][];
      int[][] ids = new int[m][];
      for (int k = 0; k < m; k++) {
        px[k] = pixels[(from + k) % pixels.length];
        ids[k] = tokens[from + k];
      }
      float[][][] got = clip.runtime().admit(ops -> {
        long a = System.nanoTime();
        float[][] img = clip.model().encodeImages(px);
        long b = System.nanoTime();
        float[][] txt = clip.model().encodeTexts(ids);
        text[0] += System.nanoTime() - b;
        vision[0] += b - a;
        return new float[][][] {img, txt};
      });
      for (int k = 0; k < m; k++) {
        ClipCache.normalize(got[0][k]);
        ClipCache.normalize(got[1][k]);
        for (int j = 0; j < got[0][k].length; j++) sink += got[0][k][j] * got[1][k][j];
      }
    }
    double total = (System.nanoTime() - t0) / 1e9;
    if (Double.isNaN(sink)) System.out.println("  (a cosine was NaN)");
    return new double[] {total, vision[0] / 1e9, text[0] / 1e9};
  }

  /** Runs {@code bin/pipeline clip-score} in this JVM (on the running local[*] session); its {@code _SUMMARY.json}. */
  static JsonNode runJob(Path model, Path imageDir, Path in, Path out, String device, int batch) throws IOException {
    StringWriter o = new StringWriter(), e = new StringWriter();
    int status = Main.execute(new PrintWriter(o, true), new PrintWriter(e, true), "clip-score", "--model", model.toString(), "--input",
        in.toString(), "--output", out.toString(), "--image-root", imageDir.toString(), "--device", device, "--batch-size", "" + batch);
    if (status != 0) throw new IllegalStateException("clip-score on " + in + " exited " + status + ":\n" + o + e);
    return new ObjectMapper().readTree(out.resolve("_SUMMARY.json").toFile());
  }

  /**
   * {@code n} captions of a few to a dozen and a half words, varied (subjects x forms, then numbered), as alt texts and
   * captions of web image–text data run.
   */
  static List<String> captions(int n) {
    String[] subjects = {"dog", "tabby cat asleep on a sofa", "red bicycle", "lighthouse on a cliff", "bowl of ramen",
        "diagram of a neural network with two towers", "mountain lake at dawn", "vintage car", "child flying a kite on the beach",
        "city street at night in the rain", "plate of pasta", "gradient from blue to orange", "grey square", "bird on a wire"};
    String[] forms = {"a photo of a %s", "%s, high resolution stock photo", "a blurry picture of a %s taken with a phone",
        "an illustration of a %s in watercolour", "close-up of a %s, shallow depth of field, natural light", "%s",
        "Here is a %s that I saw yesterday on my way home from work"};
    List<String> out = new ArrayList<>(n);
    int distinct = subjects.length * forms.length;
    for (int i = 0; i < n; i++) {
      String c = String.format(Locale.ROOT, forms[i % forms.length], subjects[(i / forms.length) % subjects.length]);
      out.add(i < distinct ? c : c + " #" + (i / distinct));
    }
    return out;
  }

  /** The first {@code n} pairs as JSONL: id, image (a file name under the images folder, cycled), caption. */
  static Path writePairs(Path file, List<Path> images, List<String> captions, int n) throws IOException {
    ObjectMapper json = new ObjectMapper();
    List<String> lines = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("id", "p" + i);
      row.put("image", images.get(i % images.size()).getFileName().toString());
      row.put("caption", captions.get(i));
      lines.add(json.writeValueAsString(row));
    }
    return Files.write(file, lines, StandardCharsets.UTF_8);
  }

  // ---- the reference: transformers CLIPModel, where python3 has torch and transformers ----

  /** Null when {@code python3 -c "import torch, transformers"} works; else what failed, in a few words. */
  static String referenceProblem() {
    try {
      Process p = new ProcessBuilder("python3", "-c", "import torch, transformers").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return "'python3 -c \"import torch, transformers\"' did not finish in 120 s";
      }
      if (p.exitValue() == 0) return Files.isRegularFile(script()) ? null : REFERENCE_SCRIPT + " not found from " + Path.of("").toAbsolutePath();
      String last = out.isEmpty() ? "exit " + p.exitValue() : out.substring(out.lastIndexOf('\n') + 1);
      return "python3 -c \"import torch, transformers\": " + last;
    } catch (IOException e) {
      return "no python3 (" + e.getMessage() + ")";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  static Path script() {
    Path p = Path.of(REFERENCE_SCRIPT);
    return Files.isRegularFile(p) ? p : Path.of("src/test/python/clip_reference.py"); // run from the jobs folder
  }

  /** images/s of transformers CLIPModel over the same pairs (both towers per pair, preprocessing outside the timing); null if it failed. */
  static Double reference(Path model, Path imageDir, Path pairs, int batch) throws Exception {
    Process p = new ProcessBuilder("python3", script().toString(), "--model", model.toString(), "--pairs", pairs.toString(), "--image-root",
        imageDir.toString(), "--batch", "" + batch, "--threads", "" + Runtime.getRuntime().availableProcessors())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    for (String line : out.split("\n")) {
      if (line.startsWith("images_per_s=")) {
        System.out.println("      reference run: " + line.trim());
        return Double.parseDouble(line.substring("images_per_s=".length()).split(" ")[0]);
      }
    }
    System.out.println("      reference failed (exit " + p.exitValue() + "): " + out.trim().replace("\n", "\n        "));
    return null;
  }

  static void deleteTree(Path dir) {
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
