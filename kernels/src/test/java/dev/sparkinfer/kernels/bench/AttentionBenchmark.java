package dev.sparkinfer.kernels.bench;

import dev.sparkinfer.kernels.Attention;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.IntTensor;
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
 * need POCL_WORK_GROUP_METHOD=loops (else the line says they were refused). Then, as a decoder runs them: a LLaMA-1B
 * causal prefill of 1,024 tokens (GQA 32/8, GFLOP/s of the visible half), and decode steps of 16 sequences over a
 * KV cache, LLaMA-1B's (1,024 rows, GQA) and LLaVA-1.5-7B's (640 rows, 32 heads of 128): GB/s of keys and values read.
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
    List<Attention> shapes = List.of(Attention.selfAttention(32, 128, 12, 32, false), Attention.selfAttention(32, 50, 12, 64, false),
        new Attention(1, 1024, 1024, 32, 8, 64, 2048, 512, 2048, true, 0, 0, 0.125f),
        new Attention(16, 1, 1024, 32, 8, 64, 2048, 512, 2048, true, 0, 0, 0.125f).withCacheRows(1024),
        new Attention(16, 1, 640, 32, 32, 128, 4096, 4096, 4096, true, 0, 0, (float) (1 / Math.sqrt(128))).withCacheRows(640));
    double[] first = new double[shapes.size()];
    for (String kernel : kernels) {
      EngineConfig d = EngineConfig.fromSystemProperties();
      EngineConfig config = new EngineConfig(d.matmulKernel(), kernel, d.normKernel(), d.softmaxKernel(), d.linearLayout(), d.elementRun(),
          d.budgetBytes(), d.openclDevice(), true, d.cpuThreads());
      try (Ops ops = Devices.open(DeviceChoice.OPENCL, config)) {
        for (int s = 0; s < shapes.size(); s++) {
          Attention sp = shapes.get(s);
          try (Ops.Scope sc = ops.scope()) {
            boolean decode = sp.qLen() == 1;
            int qn = sp.batch() * sp.qLen() * sp.qStride(), kn = sp.batch() * sp.kvRows() * sp.kvStride();
            Tensor q = ops.alloc(qn), k = ops.alloc(kn), v = ops.alloc(kn), out = ops.alloc(sp.batch() * sp.qLen() * sp.outStride());
            Tensor scores = ops.alloc((int) sp.scoresSize());
            IntTensor m = null, pos = null;
            if (decode) { // every entry at the cache's last row
              int[] last = new int[sp.batch()];
              Arrays.fill(last, sp.kLen() - 1);
              pos = ops.allocInts(last.length);
              ops.write(pos, last);
            } else if (!sp.causal()) { // padded batches: entry b sees its first half and a share of the rest
              int[] mask = new int[sp.batch() * sp.kLen()];
              for (int b = 0; b < sp.batch(); b++) Arrays.fill(mask, b * sp.kLen(), b * sp.kLen() + sp.kLen() / 2 + b * sp.kLen() / (2 * sp.batch()), 1);
              m = ops.allocInts(mask.length);
              ops.write(m, mask);
            }
            IntTensor keyMask = m, positions = pos;
            Runnable call = () -> ops.attention(out, q, k, v, keyMask, positions, scores, sp);
            for (int i = 0; i < 3; i++) call.run();
            ops.read(out.slice(0, 1));
            int reps = 0;
            long t0 = System.nanoTime();
            do {
              call.run();
              reps++;
            } while (System.nanoTime() - t0 < 500_000_000L && reps < 200);
            ops.read(out.slice(0, 1));
            double sec = (System.nanoTime() - t0) / 1e9 / reps;
            if (first[s] == 0) first[s] = sec;
            String rate = decode
                ? String.format(Locale.ROOT, "%8.1f GB/s of KV cache", 2.0 * sp.batch() * sp.kLen() * sp.kvHeads() * sp.headDim() * 4 / sec / 1e9)
                : String.format(Locale.ROOT, "%8.1f GFLOP/s", 4.0 * sp.batch() * sp.heads() * sp.qLen() * sp.kLen() * sp.headDim() / (sp.causal() ? 2 : 1) / sec / 1e9);
            System.out.printf(Locale.ROOT, "attention %-6s b=%d q=%d k=%d heads=%d/%d d=%d%s: %8.3f ms %s, speed vs %s %.2f [%s]%n", kernel,
                sp.batch(), sp.qLen(), sp.kLen(), sp.heads(), sp.kvHeads(), sp.headDim(), sp.causal() ? (decode ? " decode" : " causal") : "",
                sec * 1e3, rate, kernels.get(0), first[s] / sec, ops.device());
          }
        }
      } catch (IllegalStateException e) { // a GPU kernel forced on PoCL without its loops work-group method
        System.out.printf(Locale.ROOT, "attention %s: refused: %s%n", kernel, e.getMessage());
      }
    }
  }
}
