package dev.sparkinfer.models.bench;

import dev.sparkinfer.kernels.CpuOps;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.models.Embedders;
import dev.sparkinfer.models.ModelRef;
import dev.sparkinfer.models.TestTexts;
import dev.sparkinfer.models.bert.BertEmbedder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Weight-only quantization of the default model (all-MiniLM-L6-v2) against the unquantized model on the same texts, on
 * one engine (CPU by default): for each setting, min and mean cosine of each text's embedding to its float32 one, the
 * top-10 neighbour overlap on the texts x texts cosine similarity (how many of each text's 10 nearest texts under f32
 * are still among its 10 nearest), bytes the engine holds (after load, and after the run with its scratch), and
 * sentences/s with the ratio to f32, all measured in this one run. Load and a warm-up batch are outside the timings;
 * tokenization is inside. Each setting is timed {@code --passes} times and the fastest pass is reported (the machine may
 * be shared). Pruning settings ({@code 2:4}, {@code unstructured:0.5}, {@code 2:4+int8}: see {@link dev.sparkinfer.kernels.Pruning})
 * run the same way: their bytes and speed are those of the unpruned setting, as the kernels do not skip zeros.
 *
 * <pre>
 * mvn -q -pl models -am test-compile exec:java -Dexec.classpathScope=test \
 *   -Dexec.mainClass=dev.sparkinfer.models.bench.QuantizationBenchmark -Dexec.args="--texts 2000 --device cpu --settings none,int8,int4,2:4,unstructured:0.5"
 * </pre>
 */
public final class QuantizationBenchmark {
  public static void main(String[] args) {
    int n = 2000, batch = 32, passes = 2, k = 10;
    String device = "cpu";
    List<String> settings = List.of("none", "int8", "int4");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--texts" -> n = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--passes" -> passes = Integer.parseInt(args[++i]);
        case "--device" -> device = args[++i];
        case "--settings" -> settings = Arrays.asList(args[++i].split(","));
        default -> {
          System.err.println("usage: QuantizationBenchmark [--texts 2000] [--batch 32] [--passes 2] [--device cpu] [--settings none,int8,int4,2:4,unstructured:0.5]");
          System.exit(2);
        }
      }
    }
    if (!settings.get(0).equals("none")) throw new IllegalArgumentException("--settings must start with none: the f32 reference");
    List<String> texts = TestTexts.generate(n, 11);
    System.out.printf("quantization benchmark: all-MiniLM-L6-v2 (default model), %d texts (TestTexts seed 11), batch %d, device %s, "
        + "%d cores, fastest of %d passes%n", n, batch, device, Runtime.getRuntime().availableProcessors(), passes);
    System.out.println("machine: " + CpuOps.cpuModel());

    float[][] reference = null;
    int[][] refNeighbours = null;
    double refRate = 0;
    for (String setting : settings) {
      WeightSetting ws = WeightSetting.parse(setting); // int8, int4, 2:4, unstructured:0.5, 2:4+int8 ...
      Quantization q = ws.quantize();
      EngineConfig config = ws.applyTo(EngineConfig.fromSystemProperties());
      float[][] emb;
      double rate = 0;
      Ops.MemoryUse loaded, after;
      String ranOn;
      try (DeviceRuntime runtime = DeviceRuntime.own(DeviceChoice.parse(device), config);
           BertEmbedder e = Embedders.load(ModelRef.resolve("default"), runtime, batch, config)) {
        loaded = runtime.memoryUse();
        e.embed(texts.subList(0, Math.min(batch, n)));
        emb = null;
        for (int p = 0; p < passes; p++) {
          long t0 = System.nanoTime();
          float[][] out = e.embed(texts);
          double s = (System.nanoTime() - t0) / 1e9;
          rate = Math.max(rate, n / s);
          if (emb == null) emb = out;
        }
        after = runtime.memoryUse();
        ranOn = e.deviceDescription();
      }
      int[][] neighbours = topK(emb, k);
      if (reference == null) {
        reference = emb;
        refNeighbours = neighbours;
        refRate = rate;
      }
      double minCos = 1, sumCos = 0;
      for (int i = 0; i < n; i++) {
        double c = cosine(reference[i], emb[i]);
        minCos = Math.min(minCos, c);
        sumCos += c;
      }
      double overlap = 0;
      for (int i = 0; i < n; i++) overlap += intersection(refNeighbours[i], neighbours[i]) / (double) k;
      System.out.printf("%-16s: cosine to f32 min %.6f mean %.6f | top-%d neighbour overlap %.4f | Linear weights %s | engine holds "
          + "after load %s (byte memory %s), after the run %s | %6.1f sentences/s, ratio to f32 %.3f%n", setting, minCos, sumCos / n,
          k, overlap / n, mib(linearBytes(q)), mib(loaded.hostBytes() + loaded.deviceBytes()), mib(loaded.weights8Bytes()),
          mib(after.hostBytes() + after.deviceBytes()), rate, rate / refRate);
      if (reference == emb) System.out.println("engine: " + ranOn);
    }
  }

  /**
   * Bytes of MiniLM's encoder Linear weights (6 layers of fused qkv [1152, 384], attention output [384, 384], FFN
   * [1536, 384] and [384, 1536]) as the setting stores them: f32; int8 values and a float scale per row; int4 nibbles and a
   * float scale per 128 inputs of a row. Embeddings, norms and biases (float in every setting) are not in it.
   */
  private static long linearBytes(Quantization q) {
    int h = 384, f = 1536, layers = 6;
    int[][] shapes = {{3 * h, h}, {h, h}, {f, h}, {h, f}};
    long b = 0;
    for (int[] s : shapes) {
      long out = s[0], in = s[1];
      b += switch (q) {
        case NONE -> 4 * out * in;
        case INT8 -> out * in + 4 * out;
        case INT4 -> out * ((in + 1) / 2) + 4 * out * ((in + Quantization.INT4_GROUP - 1) / Quantization.INT4_GROUP);
      };
    }
    return b * layers;
  }

  private static String mib(long bytes) { return String.format("%.1f MiB", bytes / 1048576.0); }

  private static double cosine(float[] a, float[] b) {
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }

  /** Each text's k nearest other texts by cosine (the embeddings are L2-normalised, so by dot product), ties by index. */
  private static int[][] topK(float[][] e, int k) {
    int n = e.length;
    int[][] out = new int[n][];
    java.util.stream.IntStream.range(0, n).parallel().forEach(i -> {
      double[] sim = new double[n];
      for (int j = 0; j < n; j++) sim[j] = j == i ? Double.NEGATIVE_INFINITY : cosine(e[i], e[j]);
      List<Integer> idx = new ArrayList<>(n);
      for (int j = 0; j < n; j++) idx.add(j);
      idx.sort((a, b) -> sim[a] != sim[b] ? Double.compare(sim[b], sim[a]) : Integer.compare(a, b));
      out[i] = idx.subList(0, Math.min(k, n - 1)).stream().mapToInt(Integer::intValue).toArray();
    });
    return out;
  }

  private static int intersection(int[] a, int[] b) {
    int c = 0;
    for (int x : a) for (int y : b) if (x == y) c++;
    return c;
  }
}
