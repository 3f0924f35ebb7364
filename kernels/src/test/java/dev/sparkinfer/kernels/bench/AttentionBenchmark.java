package dev.sparkinfer.kernels.bench;

import dev.sparkinfer.kernels.Attention;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Attention on the OpenCL device with each attention kernel ({@code sparkinfer.attention.kernel}: {@code split}, three
 * launches with the scores in global memory; {@code fused}, one launch with the scores in local memory; {@code rows},
 * the CPU devices' kernel), on MiniLM (32 x 128 tokens, 12 heads of 32, padded) and CLIP ViT-B/32 (32 images x 50, 12
 * heads of 64) shapes: ms per call, GFLOP/s (4 b h q k d) and the ratio to the first kernel. On PoCL the GPU kernels
 * need POCL_WORK_GROUP_METHOD=loops (else the line says they were refused).
 *
 * <pre>
 * bash .gpu/run java dev.sparkinfer.kernels.bench.AttentionBenchmark [--kernels split,fused]
 * </pre>
 */
public final class AttentionBenchmark {
  public static void main(String[] args) {
    List<String> kernels = List.of("split", "fused");
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--kernels")) kernels = Arrays.asList(args[++i].split(","));
      else {
        System.err.println("usage: AttentionBenchmark [--kernels split,fused]");
        System.exit(2);
      }
    }
    List<Attention> shapes = List.of(Attention.selfAttention(32, 128, 12, 32, false), Attention.selfAttention(32, 50, 12, 64, false));
    double[] first = new double[shapes.size()];
    for (String kernel : kernels) {
      EngineConfig d = EngineConfig.fromSystemProperties();
      EngineConfig config = new EngineConfig(d.matmulKernel(), kernel, d.normKernel(), d.softmaxKernel(), d.linearLayout(), d.elementRun(),
          d.budgetBytes(), d.openclDevice(), true, d.cpuThreads());
      try (Ops ops = Devices.open(DeviceChoice.OPENCL, config)) {
        for (int s = 0; s < shapes.size(); s++) {
          Attention sp = shapes.get(s);
          try (Ops.Scope sc = ops.scope()) {
            int n = sp.batch() * sp.qLen() * sp.heads() * sp.headDim();
            Tensor q = ops.alloc(n), k = ops.alloc(n), v = ops.alloc(n), out = ops.alloc(n), scores = ops.alloc((int) sp.scoresSize());
            int[] mask = new int[sp.batch() * sp.kLen()];
            for (int b = 0; b < sp.batch(); b++) Arrays.fill(mask, b * sp.kLen(), b * sp.kLen() + sp.kLen() / 2 + b * sp.kLen() / (2 * sp.batch()), 1);
            var m = ops.allocInts(mask.length);
            ops.write(m, mask);
            for (int i = 0; i < 3; i++) ops.attention(out, q, k, v, m, scores, sp);
            ops.read(out.slice(0, 1));
            int reps = 0;
            long t0 = System.nanoTime();
            do {
              ops.attention(out, q, k, v, m, scores, sp);
              reps++;
            } while (System.nanoTime() - t0 < 500_000_000L && reps < 200);
            ops.read(out.slice(0, 1));
            double sec = (System.nanoTime() - t0) / 1e9 / reps;
            if (first[s] == 0) first[s] = sec;
            double flops = 4.0 * sp.batch() * sp.heads() * sp.qLen() * sp.kLen() * sp.headDim();
            System.out.printf(Locale.ROOT, "attention %-6s b=%d q=k=%d heads=%d d=%d: %8.3f ms %8.1f GFLOP/s, speed vs %s %.2f [%s]%n", kernel,
                sp.batch(), sp.qLen(), sp.heads(), sp.headDim(), sec * 1e3, flops / sec / 1e9, kernels.get(0), first[s] / sec, ops.device());
          }
        }
      } catch (IllegalStateException e) { // a GPU kernel forced on PoCL without its loops work-group method
        System.out.printf(Locale.ROOT, "attention %s: refused: %s%n", kernel, e.getMessage());
      }
    }
  }
}
