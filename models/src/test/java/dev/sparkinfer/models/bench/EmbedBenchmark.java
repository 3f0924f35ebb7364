package dev.sparkinfer.models.bench;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.models.Embedders;
import dev.sparkinfer.models.ModelRef;
import dev.sparkinfer.models.TestTexts;
import dev.sparkinfer.models.bert.BertEmbedder;
import dev.sparkinfer.models.bert.OnnxRuntimeReference;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Embeds the same texts with ONNX Runtime (the reference) and with our engine on each device, batch 32, and prints
 * sentences/s and the ratio engine / ONNX Runtime, all measured in this one run. Model load is excluded; tokenization is
 * included for both (ONNX Runtime gets our tokenizer's ids, length-sorted into the same batches as the engine's).
 *
 * <p>Both first run once over all the texts (the warm-up pass, printed but not counted): the JIT compiles the CPU
 * engine's kernels over the first passes, and a job over millions of rows runs warm. After a warm-up on 20 % of the
 * texts the engine's first round still ran 3-7 % below its later ones. Then ONNX Runtime and the engine take turns over all the
 * texts, {@code --rounds} times: on a shared (virtual) machine the speed of both drifts by 10 % or more over a minute,
 * so each round's ratio compares passes timed seconds apart, and the figure reported is the median of the rounds'.
 *
 * <pre>
 * bin/benchmark embed [--texts 2000] [--batch 32] [--devices cpu,opencl] [--rounds 3]
 * </pre>
 */
public final class EmbedBenchmark {
  public static void main(String[] args) throws Exception {
    int n = 2000, batch = 32, rounds = 3;
    List<String> devices = List.of("cpu", "opencl");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--texts" -> n = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--devices" -> devices = Arrays.asList(args[++i].split(","));
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        default -> {
          System.err.println("usage: EmbedBenchmark [--texts 2000] [--batch 32] [--devices cpu,opencl] [--rounds 3]");
          System.exit(2);
        }
      }
    }
    System.out.printf(Locale.ROOT, "benchmark: all-MiniLM-L6-v2, %d texts, batch %d, %d cores, max 256 tokens%n", n, batch,
        Runtime.getRuntime().availableProcessors());
    for (String d : devices) compare(TestTexts.generate(n, 11), batch, DeviceChoice.parse(d), rounds, "engine " + d);
  }

  /**
   * ONNX Runtime and the engine on {@code device} over the same texts, warmed up, then {@code rounds} turns each; prints
   * every round and returns the median of the rounds' ratios engine / ONNX Runtime (sentences/s).
   */
  public static double compare(List<String> texts, int batch, DeviceChoice device, int rounds, String label) throws Exception {
    if (rounds < 1) throw new IllegalArgumentException("--rounds must be at least 1, got " + rounds);
    int n = texts.size();
    byte[] onnx;
    try (InputStream in = ModelRef.openDefaultResource(ModelRef.DEFAULT_ONNX_RESOURCE)) {
      onnx = in.readAllBytes();
    }
    try (BertEmbedder engine = Embedders.load(ModelRef.resolve("default"), device, batch);
         OnnxRuntimeReference ort = new OnnxRuntimeReference(onnx, 0)) {
      long w0 = System.nanoTime();
      ortPass(ort, engine, texts, batch); // the warm-up pass; the engine's tokenizer gives ONNX Runtime the same ids
      double wo = (System.nanoTime() - w0) / 1e9;
      w0 = System.nanoTime();
      engine.embed(texts);
      double we = (System.nanoTime() - w0) / 1e9;
      System.out.printf(Locale.ROOT, "warm-up pass (not counted): onnxruntime %8.1f sentences/s; %-14s %8.1f sentences/s (the JIT compiling)%n",
          n / wo, label, n / we);
      double[] ratios = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        long t0 = System.nanoTime();
        long tokens = ortPass(ort, engine, texts, batch);
        double so = (System.nanoTime() - t0) / 1e9;
        t0 = System.nanoTime();
        engine.embed(texts);
        double se = (System.nanoTime() - t0) / 1e9;
        ratios[r] = so / se;
        System.out.printf(Locale.ROOT, "round %d: onnxruntime %8.1f sentences/s (%.2f s, %d tokens); %-14s %8.1f sentences/s (%.2f s); ratio %.3f%n",
            r + 1, n / so, so, tokens, label, n / se, se, ratios[r]);
      }
      double[] sorted = ratios.clone();
      Arrays.sort(sorted);
      double median = sorted[rounds / 2];
      if (rounds % 2 == 0) median = (median + sorted[rounds / 2 - 1]) / 2;
      System.out.printf(Locale.ROOT, "%s: ratio engine/onnxruntime %.3f (median of %d rounds; min %.3f, max %.3f)   [%s]%n", label, median, rounds,
          sorted[0], sorted[rounds - 1], engine.deviceDescription());
      return median;
    }
  }

  /** Tokenizes with our tokenizer, sorts by length, runs ONNX Runtime in batches; returns the tokens. */
  private static long ortPass(OnnxRuntimeReference ort, BertEmbedder tok, List<String> texts, int batch) throws Exception {
    List<int[]> all = new ArrayList<>();
    long tokens = 0;
    for (String t : texts) all.add(tok.encode(t).ids());
    for (int[] e : all) tokens += e.length;
    all.sort((a, b) -> Integer.compare(a.length, b.length));
    for (int from = 0; from < all.size(); from += batch) ort.embed(all.subList(from, Math.min(all.size(), from + batch)));
    return tokens;
  }
}
