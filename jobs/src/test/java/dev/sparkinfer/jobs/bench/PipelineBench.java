package dev.sparkinfer.jobs.bench;

import com.aparapi.device.OpenCLDevice;
import dev.sparkinfer.jobs.Main;
import dev.sparkinfer.kernels.AparapiOps;
import dev.sparkinfer.kernels.Attention;
import dev.sparkinfer.kernels.CpuOps;
import dev.sparkinfer.kernels.DType;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.HalfTensor;
import dev.sparkinfer.kernels.IntTensor;
import dev.sparkinfer.kernels.LinearWeight;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.Embedders;
import dev.sparkinfer.models.ModelRef;
import dev.sparkinfer.models.TestTexts;
import dev.sparkinfer.models.bench.EmbedBenchmark;
import dev.sparkinfer.models.bert.BertEmbedder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Consumer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code bin/pipeline bench}: where the engines stand on this machine, in one run. Prints the machine (CPU model, cores,
 * OpenCL devices), its measured fp32 peak (a Vector API FMA loop on every core), per-op GFLOP/s or GB/s for the shapes of
 * MiniLM, CLIP ViT-B/32 and LLaMA-3.2-1B on each engine (the CPU engine and every OpenCL device), MiniLM end to end
 * against ONNX Runtime on the same texts, and the Spark job against the raw engine; then, per OpenCL device, what one
 * Aparapi launch costs, how many launches one MiniLM forward makes, and the GPU matmul kernels (tiled, blocked) on the
 * Linear shapes. The last line is {@code embed_vs_onnxruntime=<ratio>}.
 *
 * <pre>
 * bin/pipeline bench [--texts 2000] [--rows 8000] [--skip-ops] [--skip-job]
 * </pre>
 */
public final class PipelineBench {
  public static void main(String[] args) throws Exception {
    int texts = 2000, rows = 8000;
    boolean ops = true, job = true;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--texts" -> texts = Integer.parseInt(args[++i]);
        case "--rows" -> rows = Integer.parseInt(args[++i]);
        case "--skip-ops" -> ops = false;
        case "--skip-job" -> job = false;
        default -> {
          System.err.println("usage: bin/pipeline bench [--texts 2000] [--rows 8000] [--skip-ops] [--skip-job]");
          System.exit(2);
        }
      }
    }
    int cores = Runtime.getRuntime().availableProcessors();
    System.out.printf(Locale.ROOT, "machine: %s, %d cores, Java %s; OpenCL devices: %s%n", CpuOps.cpuModel(), cores,
        System.getProperty("java.version"), Devices.openclDevices().stream().map(d -> d.getName().trim() + " (" + d.getType() + ")").toList());
    double peak1 = fmaPeak(1), peak = fmaPeak(cores);
    System.out.printf(Locale.ROOT, "fp32 peak (Vector API FMA loop, %d-bit vectors): %.1f GFLOP/s on 1 core, %.1f GFLOP/s on %d%n",
        FloatVector.SPECIES_PREFERRED.vectorBitSize(), peak1, peak, cores);
    // end to end first: PoCL's worker threads outlive its engine and would slow whatever runs after the OpenCL table
    double ratio = embedVsOnnxRuntime(texts);
    if (job) {
      System.out.println();
      System.out.println("the Spark job against the raw engine (bin/pipeline bench-embed):");
      Main.execute(new String[] {"bench-embed", "--rows", String.valueOf(rows), "--repeat", "3"}); // the median of 3: one round varied by +-0.03
    }
    if (ops) {
      List<String> engines = new ArrayList<>(List.of("cpu"));
      if (Devices.openclRuns()) engines.add("opencl");
      settleJit();
      for (String e : engines) opTable(e, peak);
      if (Devices.openclRuns()) gpuMatmulKernels();
    }
    if (Devices.openclRuns()) launches();
    System.out.printf(Locale.ROOT, "%nembed_vs_onnxruntime=%.3f%n", ratio);
  }

  // ---- the machine's fp32 peak ----

  /** GFLOP/s of independent FMA chains (12 accumulators per thread, enough to cover the FMA latency). */
  static double fmaPeak(int threads) throws InterruptedException {
    fmaLoop(2_000_000); // the JIT compiles the loop before any round is timed
    double best = 0;
    for (int round = 0; round < 5; round++) {
      long iters = 20_000_000;
      Thread[] ts = new Thread[threads];
      float[] sink = new float[threads];
      long t0 = System.nanoTime();
      for (int t = 0; t < threads; t++) {
        int id = t;
        ts[t] = new Thread(() -> sink[id] = fmaLoop(iters));
        ts[t].start();
      }
      for (Thread t : ts) t.join();
      double s = (System.nanoTime() - t0) / 1e9;
      best = Math.max(best, 2.0 * 12 * FloatVector.SPECIES_PREFERRED.length() * iters * threads / s / 1e9);
    }
    return best;
  }

  private static float fmaLoop(long iters) {
    VectorSpecies<Float> f = FloatVector.SPECIES_PREFERRED;
    FloatVector m = FloatVector.broadcast(f, 0.999999f), c = FloatVector.broadcast(f, 1e-7f);
    FloatVector a0 = FloatVector.broadcast(f, 1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
        a9 = a0, a10 = a0, a11 = a0;
    for (long i = 0; i < iters; i++) {
      a0 = a0.fma(m, c); a1 = a1.fma(m, c); a2 = a2.fma(m, c); a3 = a3.fma(m, c);
      a4 = a4.fma(m, c); a5 = a5.fma(m, c); a6 = a6.fma(m, c); a7 = a7.fma(m, c);
      a8 = a8.fma(m, c); a9 = a9.fma(m, c); a10 = a10.fma(m, c); a11 = a11.fma(m, c);
    }
    return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).reduceLanes(
        jdk.incubator.vector.VectorOperators.ADD);
  }

  // ---- per-op figures ----

  /**
   * Waits (at most 20 s) until the JIT has compiled nothing for half a second: after the Spark jobs its compiler
   * threads go on compiling their code for seconds, and the first op timed on 2 cores ran at 51 % of the peak where it
   * runs at 65-71 %.
   */
  static void settleJit() throws InterruptedException {
    java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
    if (jit == null || !jit.isCompilationTimeMonitoringSupported()) return;
    long t0 = System.nanoTime(), last = jit.getTotalCompilationTime();
    do {
      Thread.sleep(500);
      long now = jit.getTotalCompilationTime();
      if (now == last) break;
      last = now;
    } while (System.nanoTime() - t0 < 20_000_000_000L);
    System.out.printf(Locale.ROOT, "%n(the JIT settled after %.1f s)%n", (System.nanoTime() - t0) / 1e9);
  }

  /** Seconds per call: warm-up (the JIT compiles the CPU engine's kernels after a few calls), then the mean of >= 0.3 s. */
  static double time(Ops ops, Tensor sync, Runnable op) {
    long w0 = System.nanoTime();
    for (int i = 0; i < 2 || (System.nanoTime() - w0 < 300_000_000L && i < 30); i++) op.run();
    ops.read(sync.slice(0, 1));
    int reps = 0;
    long t0 = System.nanoTime();
    do {
      op.run();
      reps++;
    } while (System.nanoTime() - t0 < 300_000_000L && reps < 50);
    ops.read(sync.slice(0, 1));
    return (System.nanoTime() - t0) / 1e9 / reps;
  }

  record LinearShape(String model, String what, int m, int n, int k) {}

  static final List<LinearShape> LINEARS = List.of(
      new LinearShape("minilm", "qkv 40x32 tokens", 1280, 1152, 384),
      new LinearShape("minilm", "ffn up", 1280, 1536, 384),
      new LinearShape("minilm", "ffn down", 1280, 384, 1536),
      new LinearShape("vit-b32", "qkv 32 images x 50", 1600, 2304, 768),
      new LinearShape("vit-b32", "mlp up", 1600, 3072, 768),
      new LinearShape("vit-b32", "mlp down", 1600, 768, 3072),
      new LinearShape("llama-1b", "qkv 256-token prefill", 256, 3072, 2048),
      new LinearShape("llama-1b", "gate+up", 256, 16384, 2048),
      new LinearShape("llama-1b", "down", 256, 2048, 8192));

  static void opTable(String engine, double peak) {
    Random r = new Random(1);
    try (Ops ops = Devices.open(DeviceChoice.parse(engine), EngineConfig.fromSystemProperties())) {
      System.out.printf(Locale.ROOT, "%n%s%n", ops.device());
      for (LinearShape s : LINEARS) {
        float[] w = new float[s.n() * s.k()];
        for (int i = 0; i < w.length; i++) w[i] = r.nextFloat() - 0.5f;
        LinearWeight lw = ops.uploadLinear(w, s.n(), s.k());
        try (Ops.Scope sc = ops.scope()) {
          Tensor a = ops.alloc(s.m() * s.k()), out = ops.alloc(s.m() * s.n());
          double sec = time(ops, out, () -> ops.linear(out, a, lw, null, s.m()));
          double gf = 2.0 * s.m() * s.n() * s.k() / sec / 1e9;
          System.out.printf(Locale.ROOT, "  %-9s linear %-22s %5dx%5dx%5d: %8.2f ms %8.1f GFLOP/s%s%n", s.model(), s.what(), s.m(),
              s.n(), s.k(), sec * 1e3, gf, ops.device().kind().equals("cpu") ? String.format(Locale.ROOT, " (%.0f%% of peak)", 100 * gf / peak) : "");
        }
      }
      attention(ops, "minilm", Attention.selfAttention(32, 128, 12, 32, false));
      attention(ops, "vit-b32", Attention.selfAttention(32, 50, 12, 64, false));
      attention(ops, "llama-1b", new Attention(1, 256, 256, 32, 8, 64, 2048, 512, 2048, true, 0, 0, 0.125f));
      attention(ops, "llama-1b", new Attention(1, 1024, 1024, 32, 8, 64, 2048, 512, 2048, true, 0, 0, 0.125f));
      // decode steps of 16 sequences over a 1,024-row cache (GQA), and of LLaVA-1.5-7B's 32 heads of 128 over 640 rows
      // (576 image tokens and a prompt): one query per entry, a read of the cache
      decodeAttention(ops, "llama-1b", new Attention(16, 1, 1024, 32, 8, 64, 2048, 512, 2048, true, 0, 0, 0.125f).withCacheRows(1024));
      decodeAttention(ops, "llava-7b", new Attention(16, 1, 640, 32, 32, 128, 4096, 4096, 4096, true, 0, 0, (float) (1 / Math.sqrt(128)))
          .withCacheRows(640));
      bandwidth(ops, "minilm", "layerNorm 1280x384", 2L * 1280 * 384 * 4, 1280 * 384, t -> ops.layerNorm(t[1], t[0], t[2], t[3], 1280, 384, 1e-12f), 384);
      bandwidth(ops, "llama-1b", "log-softmax 8x128256", 2L * 8 * 128256 * 4, 8 * 128256, t -> ops.softmax(t[1], t[0], null, false, 8, 128256, 1f, true), 1);
      bandwidth(ops, "llama-1b", "rmsNorm 256x2048", 2L * 256 * 2048 * 4, 256 * 2048, t -> ops.rmsNorm(t[1], t[0], t[2], 256, 2048, 1e-5f), 2048);
      // decode: one token through a bf16 Linear is a read of the weights, uploaded as the models upload their Linear
      // weights (the CPU engine packs them in panels)
      char[] w16 = new char[8192 * 2048];
      for (int i = 0; i < w16.length; i++) w16[i] = DType.BF16.fromFloat(r.nextFloat() - 0.5f);
      HalfTensor h = ops.upload16Linear(w16, DType.BF16, 8192, 2048);
      for (int rowsN : new int[] {1, 8, 128}) { // decode steps, and a prefill (widened weight panels from 32 rows)
        try (Ops.Scope sc = ops.scope()) {
          Tensor x = ops.alloc(rowsN * 2048), out = ops.alloc(rowsN * 8192);
          double sec = time(ops, out, () -> ops.linear16(out, x, h, null, rowsN, 8192, 2048));
          System.out.printf(Locale.ROOT, "  %-9s linear16 bf16 %s %d row(s) 8192x2048:  %8.3f ms %8.1f GB/s of weights %8.1f GFLOP/s%n",
              "llama-1b", rowsN < 32 ? "decode" : "prefill", rowsN, sec * 1e3, 2.0 * w16.length / sec / 1e9, 2.0 * rowsN * w16.length / sec / 1e9);
        }
      }
    }
  }

  /**
   * The Linear shapes on the OpenCL device with each GPU matmul kernel forced: {@code tiled} (one output per work-item)
   * and {@code blocked} (a 4 x 4 register block per work-item, auto's choice on GPUs). On PoCL they need
   * POCL_WORK_GROUP_METHOD=loops, else the line says they were refused.
   */
  static void gpuMatmulKernels() {
    Random r = new Random(1);
    double[] tiled = new double[LINEARS.size()];
    for (String kernel : List.of("tiled", "blocked")) {
      try (Ops ops = Devices.open(DeviceChoice.OPENCL, EngineConfig.fromSystemProperties().withMatmulKernel(kernel))) {
        System.out.printf(Locale.ROOT, "%n%s, GPU matmul kernel %s%n", ops.device(), kernel);
        for (int i = 0; i < LINEARS.size(); i++) {
          LinearShape s = LINEARS.get(i);
          float[] w = new float[s.n() * s.k()];
          for (int j = 0; j < w.length; j++) w[j] = r.nextFloat() - 0.5f;
          LinearWeight lw = ops.uploadLinear(w, s.n(), s.k());
          try (Ops.Scope sc = ops.scope()) {
            Tensor a = ops.alloc(s.m() * s.k()), out = ops.alloc(s.m() * s.n());
            double sec = time(ops, out, () -> ops.linear(out, a, lw, null, s.m()));
            if (kernel.equals("tiled")) tiled[i] = sec;
            System.out.printf(Locale.ROOT, "  %-9s linear %-22s %5dx%5dx%5d: %8.2f ms %8.1f GFLOP/s%s%n", s.model(), s.what(), s.m(), s.n(),
                s.k(), sec * 1e3, 2.0 * s.m() * s.n() * s.k() / sec / 1e9,
                tiled[i] > 0 && !kernel.equals("tiled") ? String.format(Locale.ROOT, " (%.2fx tiled)", tiled[i] / sec) : "");
          }
        }
      } catch (IllegalStateException e) { // PoCL without its loops work-group method refuses barrier kernels
        System.out.printf(Locale.ROOT, "%nGPU matmul kernel %s: not run: %s%n", kernel, e.getMessage());
      }
    }
  }

  /**
   * Per OpenCL device: what one Aparapi launch costs ({@link AparapiOps#launchMicros}: 2,000 launches of a 1-element
   * zero fill, median), and how many launches one MiniLM forward of a batch of 32 texts makes there, by op (every launch
   * is synchronous: launches x overhead is the floor of a forward's time).
   */
  static void launches() {
    System.out.println();
    for (OpenCLDevice d : Devices.openclDevices()) {
      try (AparapiOps ops = new AparapiOps(d, EngineConfig.fromSystemProperties())) {
        int n = 2000;
        double[] us = ops.launchMicros(n);
        System.out.printf(Locale.ROOT, "aparapi launch overhead: %.1f µs per launch on %s (median of %d launches of a 1-element zero "
            + "fill; p10 %.1f, p90 %.1f µs)%n", us[n / 2], ops.device(), n, us[n / 10], us[n * 9 / 10]);
      }
    }
    EngineConfig auto = EngineConfig.fromSystemProperties();
    forwardLaunches(auto, "");
    // the GPU kernels (what --device auto picks on a GPU: fused attention), and with the split attention of before
    for (String attention : List.of("fused", "split")) {
      forwardLaunches(new EngineConfig("blocked", attention, "groups", "groups", auto.linearLayout(), auto.elementRun(), auto.budgetBytes(),
          auto.openclDevice(), auto.strict(), auto.cpuThreads()), " with the GPU kernels, " + attention + " attention");
    }
  }

  static void forwardLaunches(EngineConfig config, String what) {
    List<String> batch = TestTexts.generate(64, 11);
    try (DeviceRuntime rt = DeviceRuntime.own(DeviceChoice.OPENCL, config);
         BertEmbedder e = Embedders.load(ModelRef.resolve("default"), rt, 32)) {
      e.embed(batch.subList(0, 32)); // warm-up: the first batch grows the arenas
      long before = rt.admit(o -> ((AparapiOps) o).launches());
      java.util.Map<String, Long> byOpBefore = rt.admit(o -> ((AparapiOps) o).launchesByOp());
      e.embed(batch.subList(32, 64));
      long after = rt.admit(o -> ((AparapiOps) o).launches());
      java.util.Map<String, Long> byOp = rt.admit(o -> ((AparapiOps) o).launchesByOp());
      byOp.replaceAll((op, c) -> c - byOpBefore.getOrDefault(op, 0L));
      byOp.values().removeIf(c -> c == 0);
      int longest = batch.subList(32, 64).stream().mapToInt(t -> e.encode(t).ids().length).max().orElse(0);
      System.out.printf(Locale.ROOT, "launches per MiniLM forward%s (32 texts of up to %d tokens, 6 layers, ids in and embeddings out "
          + "included) on %s: %d; by op: %s%n", what, longest, rt.device(), after - before, byOp);
    } catch (IllegalStateException ex) { // PoCL without its loops work-group method refuses barrier kernels
      System.out.printf(Locale.ROOT, "launches per MiniLM forward%s: not run: %s%n", what, ex.getMessage());
    }
  }

  static void attention(Ops ops, String model, Attention sp) {
    try (Ops.Scope sc = ops.scope()) {
      int qn = sp.batch() * sp.qLen() * sp.qStride(), kn = sp.batch() * sp.kvRows() * sp.kvStride();
      Tensor q = ops.alloc(qn), k = ops.alloc(kn), v = ops.alloc(kn), out = ops.alloc(sp.batch() * sp.qLen() * sp.outStride());
      Tensor scores = ops.alloc((int) sp.scoresSize());
      double sec = time(ops, out, () -> ops.attention(out, q, k, v, null, scores, sp));
      double flops = 4.0 * sp.batch() * sp.heads() * sp.qLen() * sp.kLen() * sp.headDim() / (sp.causal() ? 2 : 1);
      System.out.printf(Locale.ROOT, "  %-9s attention b=%d q=%d k=%d heads=%d/%d d=%d%s: %8.2f ms %8.1f GFLOP/s%n", model, sp.batch(), sp.qLen(),
          sp.kLen(), sp.heads(), sp.kvHeads(), sp.headDim(), sp.causal() ? " causal" : "", sec * 1e3, flops / sec / 1e9);
    }
  }

  /** A decode step's attention, every entry at the cache's last row: GB/s of keys and values read. */
  static void decodeAttention(Ops ops, String model, Attention sp) {
    try (Ops.Scope sc = ops.scope()) {
      int kn = sp.batch() * sp.kvRows() * sp.kvStride();
      Tensor q = ops.alloc(sp.batch() * sp.qStride()), k = ops.alloc(kn), v = ops.alloc(kn), out = ops.alloc(sp.batch() * sp.outStride());
      float[] data = new float[kn];
      Random r = new Random(2);
      for (int i = 0; i < kn; i++) data[i] = r.nextFloat() - 0.5f;
      ops.write(k, data);
      ops.write(v, data);
      int[] last = new int[sp.batch()];
      Arrays.fill(last, sp.kLen() - 1);
      IntTensor pos = ops.allocInts(last.length);
      ops.write(pos, last);
      Tensor scores = ops.alloc((int) sp.scoresSize());
      double sec = time(ops, out, () -> ops.attention(out, q, k, v, null, pos, scores, sp));
      double bytes = 2.0 * sp.batch() * sp.kLen() * sp.kvHeads() * sp.headDim() * 4;
      System.out.printf(Locale.ROOT, "  %-9s attention decode b=%d k=%d heads=%d/%d d=%d: %8.2f ms %8.1f GB/s of KV cache%n", model, sp.batch(),
          sp.kLen(), sp.heads(), sp.kvHeads(), sp.headDim(), sec * 1e3, bytes / sec / 1e9);
    }
  }

  static void bandwidth(Ops ops, String model, String what, long bytes, int n, Consumer<Tensor[]> op, int dim) {
    try (Ops.Scope sc = ops.scope()) {
      Tensor[] t = {ops.alloc(n), ops.alloc(n), ops.alloc(dim), ops.alloc(dim)};
      ops.write(t[0], new float[n]);
      double sec = time(ops, t[1], () -> op.accept(t));
      System.out.printf(Locale.ROOT, "  %-9s %-32s: %8.3f ms %8.1f GB/s%n", model, what, sec * 1e3, bytes / sec / 1e9);
    }
  }

  // ---- MiniLM end to end against ONNX Runtime ----

  /**
   * Same texts, our tokenizer's ids for both, length-sorted batches of 32, both warmed up with a pass over the texts, then 3
   * alternating rounds: the median of the rounds' ratios ({@link EmbedBenchmark#compare}).
   */
  static double embedVsOnnxRuntime(int n) throws Exception {
    int batch = 32;
    System.out.printf(Locale.ROOT, "%nall-MiniLM-L6-v2 end to end against onnxruntime (CPU, its default threads): %d texts, batches of %d, %d cores%n",
        n, batch, Runtime.getRuntime().availableProcessors());
    return EmbedBenchmark.compare(TestTexts.generate(n, 11), batch, DeviceChoice.AUTO, 3, "engine (--device auto)");
  }
}
