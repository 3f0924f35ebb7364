package dev.sparkinfer.kernels.bench;

import dev.sparkinfer.kernels.DType;
import dev.sparkinfer.kernels.DecoderStackAccess;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.Ops;

/**
 * A LLaMA-3.2-1B-shaped decoder (16 layers, hidden 2048, 32 / 8 heads, FFN 8192, vocabulary 128,256, tied embeddings)
 * with random 16-bit weights made here: load, bytes held on the host and the device, a prefill of a 128-token prompt,
 * then 16 decode steps from the KV cache, tokens/s for each. The machine is printed with the figures.
 *
 * <pre>
 * bin/benchmark decoder [--layers 16] [--prompt 128] [--steps 16] [--dtype bf16|f16] [cpu|opencl|java]
 * </pre>
 */
public final class DecoderBenchmark {
  public static void main(String[] args) {
    int layers = 16, prompt = 128, steps = 16;
    DType dtype = DType.BF16;
    String device = "cpu";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--layers" -> layers = Integer.parseInt(args[++i]);
        case "--prompt" -> prompt = Integer.parseInt(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        case "--dtype" -> dtype = DType.valueOf(args[++i].toUpperCase(java.util.Locale.ROOT));
        default -> device = args[i];
      }
    }
    System.out.printf("machine: %s, %d cores, max heap %.1f GiB%n", cpuModel(), Runtime.getRuntime().availableProcessors(),
        Runtime.getRuntime().maxMemory() / (double) (1L << 30));
    try (Ops ops = Devices.open(DeviceChoice.parse(device))) {
      long t0 = System.nanoTime();
      DecoderStackAccess d = DecoderStackAccess.llama1b(ops, layers, dtype, 2, prompt + steps);
      double load = (System.nanoTime() - t0) / 1e9;
      Ops.MemoryUse m = ops.memoryUse();
      System.out.printf("model: LLaMA-3.2-1B shape, %d layers, %s, %.3f G 16-bit parameters; loaded in %.1f s on %s%n", layers, dtype,
          d.params16() / 1e9, load, ops.device());
      System.out.printf("held: host %.3f GB, device %.3f GB (16-bit weights %.3f GB, float/int arenas %.3f GB)%n", m.hostBytes() / 1e9,
          m.deviceBytes() / 1e9, m.weights16Bytes() / 1e9, m.floatBytes() / 1e9);
      // warm-up on cache entry 1, twice, with the timed shapes: PoCL builds the kernel anew for each launch shape the
      // first time it sees it, and the JIT compiles the CPU engine's kernels over the first calls (a cold prefill ran
      // at half speed)
      int[] tokens = new int[prompt];
      for (int i = 0; i < prompt; i++) tokens[i] = (i * 7919 + 128000) % 128256;
      long tw = System.nanoTime();
      for (int round = 0; round < 2; round++) {
        d.forward(1, new int[][] {tokens}, new int[] {0});
        d.forward(1, new int[][] {{8}}, new int[] {prompt});
      }
      System.out.printf("warm-up (two prefills and decode steps on another cache entry: kernel builds, JIT): %.1f s%n",
          (System.nanoTime() - tw) / 1e9);
      long t1 = System.nanoTime();
      float[] logits = d.forward(new int[][] {tokens}, new int[] {0});
      double pre = (System.nanoTime() - t1) / 1e9;
      System.out.printf("prefill: %d tokens in %.2f s, %.1f tokens/s%n", prompt, pre, prompt / pre);
      int next = argmax(logits);
      long t2 = System.nanoTime();
      for (int s = 0; s < steps; s++) next = argmax(d.forward(new int[][] {{next}}, new int[] {prompt + s}));
      double dec = (System.nanoTime() - t2) / 1e9;
      System.out.printf("decode: %d steps in %.2f s, %.2f tokens/s (batch 1)%n", steps, dec, steps / dec);
    }
  }

  private static int argmax(float[] x) {
    int b = 0;
    for (int i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
    return b;
  }

  static String cpuModel() {
    return dev.sparkinfer.kernels.CpuOps.cpuModel();
  }
}
