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

/**
 * Embeds the same texts with ONNX Runtime (the reference) and with our engine on each device, batch 32, and prints
 * sentences/s and the ratio engine / ONNX Runtime, all measured in this one run. Model load and a warm-up batch are
 * excluded from the timings; tokenization is included for every engine.
 *
 * <pre>
 * mvn -q -pl models -am test-compile exec:java -Dexec.classpathScope=test \
 *   -Dexec.mainClass=dev.sparkinfer.models.bench.EmbedBenchmark -Dexec.args="--texts 2000 --devices cpu,opencl"
 * </pre>
 */
public final class EmbedBenchmark {
  public static void main(String[] args) throws Exception {
    int n = 2000, batch = 32;
    List<String> devices = List.of("cpu", "opencl");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--texts" -> n = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--devices" -> devices = Arrays.asList(args[++i].split(","));
        default -> {
          System.err.println("usage: EmbedBenchmark [--texts 2000] [--batch 32] [--devices cpu,opencl]");
          System.exit(2);
        }
      }
    }
    List<String> texts = TestTexts.generate(n, 11);
    System.out.printf("benchmark: all-MiniLM-L6-v2, %d texts, batch %d, %d cores, max 256 tokens%n", n, batch,
        Runtime.getRuntime().availableProcessors());

    byte[] onnx;
    try (InputStream in = ModelRef.openDefaultResource(ModelRef.DEFAULT_ONNX_RESOURCE)) {
      onnx = in.readAllBytes();
    }
    double ortRate;
    long tokens = 0;
    try (BertEmbedder tok = Embedders.load(ModelRef.resolve("default"), DeviceChoice.JAVA, batch);
         OnnxRuntimeReference ort = new OnnxRuntimeReference(onnx, 0)) {
      // ONNX Runtime gets the same treatment as our engine: our tokenizer, length-sorted batches of `batch` texts
      List<int[]> enc = new ArrayList<>();
      for (String t : texts) enc.add(tok.encode(t).ids());
      ort.embed(enc.subList(0, Math.min(batch, n)));
      long t0 = System.nanoTime();
      List<int[]> all = new ArrayList<>();
      for (String t : texts) all.add(tok.encode(t).ids());
      for (int[] e : all) tokens += e.length;
      all.sort((a, b) -> Integer.compare(a.length, b.length));
      for (int from = 0; from < n; from += batch) ort.embed(all.subList(from, Math.min(n, from + batch)));
      double s = (System.nanoTime() - t0) / 1e9;
      ortRate = n / s;
      System.out.printf("onnxruntime          : %8.1f sentences/s  (%.2f s, %d tokens)%n", ortRate, s, tokens);
    }
    for (String d : devices) {
      try (BertEmbedder e = Embedders.load(ModelRef.resolve("default"), DeviceChoice.parse(d), batch)) {
        e.embed(texts.subList(0, Math.min(batch, n)));
        long t0 = System.nanoTime();
        e.embed(texts);
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("engine %-14s: %8.1f sentences/s  (%.2f s)  ratio engine/onnxruntime %.3f   [%s]%n", d, n / s, s,
            n / s / ortRate, e.deviceDescription());
      }
    }
  }
}
