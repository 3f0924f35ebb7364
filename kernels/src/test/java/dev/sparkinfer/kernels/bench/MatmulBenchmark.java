package dev.sparkinfer.kernels.bench;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.LinearWeight;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.kernels.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * GFLOP/s of a Linear layer (out = a x W^T, W given [n, k] as PyTorch stores it, uploaded with
 * {@link Ops#uploadLinear} in the layout the device prefers, as the models do) on the shapes of real models, on each
 * device named, in one run. Shape sets: {@code bert} (MiniLM, 40 texts x 32 tokens), {@code vit} (CLIP ViT-B/32,
 * 256 images x 50 tokens), {@code llama} (LLaMA-3.2-1B, 8 x 512 tokens, and its head for 512 positions),
 * {@code decode} (LLaMA-3.2-1B's projections for one token). {@code --quantize none,int8,int4} runs each shape with
 * the weights quantized ({@link Ops#uploadLinear(float[], int, int, Quantization)}) and prints the ratio to the first.
 * Where a float32 weight lands in a float bank as {@code [out, in]} (the Java and OpenCL engines; the CPU engine's
 * packed panels are the same kernel in either memory), the same product with the weight in the
 * float arena ({@link Ops#matmul} with a transposed b, how float32 Linear weights were multiplied before the float
 * banks) is timed too, with the banked time's ratio to it.
 * {@code gpu} is the GPU check's set (MiniLM at 4096 tokens, ViT-B/32 at 1600, LLaMA-1B at 256). {@code --kernels
 * tiled,blocked} runs each shape with each OpenCL matmul kernel ({@code sparkinfer.matmul.kernel}: {@code dot},
 * {@code tiled}, {@code blocked}, {@code auto}) and prints the ratio to the first; on PoCL the GPU kernels need
 * {@code POCL_WORK_GROUP_METHOD=loops} (else they are refused, and the line says so).
 *
 * <pre>
 * bin/benchmark matmul [--shapes bert,vit,llama,decode,gpu | --shape MxNxK] [--quantize none,int8,int4] [--kernels tiled,blocked]
 *     [cpu|opencl|java ...]
 * </pre>
 */
public final class MatmulBenchmark {
  static int[][] shapes(String set) {
    return switch (set) {
      case "bert" -> new int[][] {{1280, 1152, 384}, {1280, 1536, 384}, {1280, 384, 1536}};
      case "vit" -> new int[][] {{12800, 2304, 768}, {12800, 3072, 768}, {12800, 768, 3072}, {12800, 768, 768}};
      case "llama" -> new int[][] {{4096, 3072, 2048}, {4096, 16384, 2048}, {4096, 2048, 8192}, {512, 128256, 2048}};
      case "decode" -> new int[][] {{1, 3072, 2048}, {1, 16384, 2048}, {1, 2048, 8192}};
      case "gpu" -> new int[][] {{4096, 384, 384}, {4096, 1536, 384}, {4096, 384, 1536}, {1600, 768, 768}, {1600, 3072, 768},
          {256, 2048, 2048}, {256, 8192, 2048}};
      default -> {
        String[] mnk = set.split("x");
        if (mnk.length != 3) throw new IllegalArgumentException("shape set must be bert, vit, llama or MxNxK, got " + set);
        yield new int[][] {{Integer.parseInt(mnk[0]), Integer.parseInt(mnk[1]), Integer.parseInt(mnk[2])}};
      }
    };
  }

  /** The float32 weight in the float arena, multiplied by matmul with a transposed b: its time, and the banked one's ratio. */
  private static void arenaTime(Ops ops, String d, String set, float[] w, int m, int n, int k, double banked) {
    Tensor b = ops.upload(w);
    try (Ops.Scope sc = ops.scope()) {
      Tensor a = ops.alloc(m * k), out = ops.alloc(m * n);
      long w0 = System.nanoTime();
      for (int i = 0; i < 3 || (!d.equals("java") && System.nanoTime() - w0 < 500_000_000L && i < 50); i++) ops.matmul(out, a, b, null, m, n, k, true);
      ops.read(out.slice(0, 1));
      int reps = d.equals("java") ? 1 : 5;
      long t0 = System.nanoTime();
      for (int i = 0; i < reps; i++) ops.matmul(out, a, b, null, m, n, k, true);
      ops.read(out.slice(0, 1));
      double sec = (System.nanoTime() - t0) / 1e9 / reps;
      System.out.printf("%-6s %-6s f32 in the float arena %dx%dx%d: %.2f ms, %.1f GFLOP/s; banked speed vs arena %.2f%n", d, set, m, n, k,
          sec * 1e3, 2.0 * m * n * k / sec / 1e9, sec / banked);
    }
  }

  public static void main(String[] args) {
    List<String> sets = List.of("bert");
    List<String> devices = new ArrayList<>();
    List<Quantization> quantize = List.of(Quantization.NONE);
    List<String> kernels = List.of("");
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--shapes")) sets = Arrays.asList(args[++i].split(","));
      else if (args[i].equals("--shape")) sets = List.of(args[++i]);
      else if (args[i].equals("--quantize")) quantize = Arrays.stream(args[++i].split(",")).map(Quantization::parse).toList();
      else if (args[i].equals("--kernels")) kernels = Arrays.asList(args[++i].split(","));
      else devices.add(args[i]);
    }
    if (devices.isEmpty()) devices = List.of("cpu", "opencl");
    for (String d : devices) {
      java.util.Map<String, Double> firstKernel = new java.util.HashMap<>();
      for (String kernel : d.equals("opencl") ? kernels : List.of("")) {
        try {
          run(d, kernel, sets, quantize, firstKernel, kernels.get(0));
        } catch (IllegalStateException e) { // a GPU kernel forced on PoCL without its loops work-group method
          System.out.printf("%s/%s: refused: %s%n", d, kernel, e.getMessage());
        }
      }
    }
  }

  /** One device with one matmul kernel choice ("": as configured); firstKernel holds each shape's seconds with the first. */
  private static void run(String d, String kernel, List<String> sets, List<Quantization> quantize, java.util.Map<String, Double> firstKernel,
                          String firstName) {
    EngineConfig config = EngineConfig.fromSystemProperties();
    if (!kernel.isEmpty()) config = config.withMatmulKernel(kernel);
    String label = kernel.isEmpty() ? d : d + "/" + kernel;
    try (Ops ops = Devices.open(DeviceChoice.parse(d), config)) {
      Random r = new Random(1);
      for (String set : sets) {
        for (int[] s : shapes(set)) {
          int m = s[0], n = s[1], k = s[2];
          if (d.equals("java") && (long) m * n * k > 4e9) continue; // the reference would take minutes
          float[] w = new float[n * k];
          for (int i = 0; i < w.length; i++) w[i] = r.nextFloat() - 0.5f;
          double first = 0;
          for (Quantization q : quantize) {
            LinearWeight b = ops.uploadLinear(w, n, k, q);
            try (Ops.Scope sc = ops.scope()) {
              Tensor a = ops.alloc(m * k), out = ops.alloc(m * n);
              // warm up (the JIT compiles the CPU engine's kernels after a few calls) for at least half a second
              long w0 = System.nanoTime();
              for (int i = 0; i < 3 || (!d.equals("java") && System.nanoTime() - w0 < 500_000_000L && i < 50); i++) ops.linear(out, a, b, null, m);
              ops.read(out.slice(0, 1));
              int reps = d.equals("java") ? 1 : 5;
              long t0 = System.nanoTime();
              for (int i = 0; i < reps; i++) ops.linear(out, a, b, null, m);
              ops.read(out.slice(0, 1));
              double sec = (System.nanoTime() - t0) / 1e9 / reps;
              if (first == 0) first = sec;
              String key = set + " " + q + " " + m + "x" + n + "x" + k;
              double vsKernel = firstKernel.computeIfAbsent(key, x -> sec) / sec;
              System.out.printf("%-6s %-6s %-4s linear %dx%dx%d: %.2f ms, %.1f GFLOP/s, speed vs %s %.2f%s [%s]%n", label, set, q, m, n, k,
                  sec * 1e3, 2.0 * m * n * k / sec / 1e9, quantize.get(0), first / sec,
                  kernel.isEmpty() ? "" : String.format(", vs kernel %s %.2f", firstName, vsKernel), ops.device());
            }
            if (b.banked() != null && b.banked().panel() == 0 && (long) n * k <= 64L << 20) arenaTime(ops, label, set, w, m, n, k, first);
          }
        }
      }
    }
  }
}
