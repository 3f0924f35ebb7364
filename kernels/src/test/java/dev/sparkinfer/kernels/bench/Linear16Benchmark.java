package dev.sparkinfer.kernels.bench;

import dev.sparkinfer.kernels.CpuOps;
import dev.sparkinfer.kernels.DType;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Half;
import dev.sparkinfer.kernels.HalfTensor;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * GFLOP/s of a 16-bit Linear layer ({@link Ops#linear16}) by row count, with the weight in the layout the models load
 * ({@link Ops#upload16Linear}: packed panels on the CPU engine) and row-major ({@link Ops#upload16}: no model layer), for bf16 and
 * f16 weights in phases run one after the other in the same JVM: by default bf16, f16, f16, bf16. One JVM serving both
 * dtypes is what a Spark executor does when jobs with an f16 model (CLIP, GPT-2) and a bf16 one (LLaMA) share it; the
 * JIT compiles the kernels with the profile of whatever ran first, so the later phases show whether the other dtype
 * slowed them (the first phase includes the warm-up). The same values are used for both dtypes (rounded to each). Run several JVMs: a JIT that leaves a Vector
 * API call un-intrinsified shows as one JVM's figure several times below the others.
 *
 * <pre>
 * bin/benchmark linear16 [--shape NxK] [--rows 1,4,64,256] [--phases bf16,f16,f16,bf16] [cpu|opencl|java]
 * </pre>
 */
public final class Linear16Benchmark {
  public static void main(String[] args) {
    int n = 2048, k = 2048;
    int[] rowCounts = {1, 4, 64, 256};
    List<String> phases = List.of("bf16", "f16", "f16", "bf16");
    String device = "cpu";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--shape" -> {
          String[] nk = args[++i].split("x");
          n = Integer.parseInt(nk[0]);
          k = Integer.parseInt(nk[1]);
        }
        case "--rows" -> rowCounts = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
        case "--phases" -> phases = Arrays.asList(args[++i].split(","));
        default -> device = args[i];
      }
    }
    for (String p : phases) if (!p.equals("bf16") && !p.equals("f16")) throw new IllegalArgumentException("a phase is bf16 or f16, got " + p);
    int maxRows = Arrays.stream(rowCounts).max().orElseThrow();
    System.out.printf("machine: %s, %d cores, Java %s%n", CpuOps.cpuModel(), Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
    try (Ops ops = Devices.open(DeviceChoice.parse(device), EngineConfig.fromSystemProperties())) {
      Random r = new Random(1);
      char[] bf = new char[n * k], hf = new char[n * k];
      for (int i = 0; i < bf.length; i++) {
        float v = (float) r.nextGaussian() * 0.02f;
        bf[i] = (char) ((Float.floatToIntBits(v) + 0x8000) >>> 16); // nearest bf16 (no NaN here)
        hf[i] = Half.fromFloat(v);
      }
      HalfTensor[][] w = { // [bf16, f16][packed, row-major]
          {ops.upload16Linear(bf, DType.BF16, n, k), ops.upload16(bf, DType.BF16)},
          {ops.upload16Linear(hf, DType.F16, n, k), ops.upload16(hf, DType.F16)}};
      float[] xs = new float[maxRows * k];
      for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
      Tensor x = ops.upload(xs);
      System.out.printf("linear16 %d -> %d on %s; GFLOP/s by rows (best of 5 timings)%n", k, n, ops.device());
      try (Ops.Scope sc = ops.scope()) {
        Tensor out = ops.alloc(maxRows * n);
        for (String phase : phases) {
          int d = phase.equals("f16") ? 1 : 0;
          List<String> cells = new ArrayList<>();
          for (int layout = 0; layout < 2; layout++) {
            for (int rows : rowCounts) {
              int reps = Math.max(1, (int) (2e9 / (2.0 * rows * n * k) / 4)); // about 0.25 s a timing at 8 GFLOP/s
              double best = Double.MAX_VALUE;
              for (int t = 0; t < 5; t++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) ops.linear16(out, x, w[d][layout], null, rows, n, k);
                ops.read(out.slice(0, 1));
                best = Math.min(best, (System.nanoTime() - t0) / 1e9 / reps);
              }
              cells.add(String.format("%s %d: %.1f", layout == 0 ? "packed" : "row-major", rows, 2.0 * rows * n * k / best / 1e9));
            }
          }
          System.out.printf("%-5s %s%n", phase, String.join(" | ", cells));
        }
      }
    }
  }
}
