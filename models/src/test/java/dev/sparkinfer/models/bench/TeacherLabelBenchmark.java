package dev.sparkinfer.models.bench;

import dev.sparkinfer.kernels.CpuOps;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.decoder.CausalLm;
import dev.sparkinfer.models.decoder.DecoderModels;
import dev.sparkinfer.models.decoder.TeacherLabeler;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Teacher-label throughput of decoder folders on one engine, in one run: labelled positions per second (prefill: the
 * top-k log-softmax at every position, windows batched), batched greedy decoding tokens per second, and the bytes the
 * labels take per token. Folders: the fixture's tiny models by default, or any Hugging Face folder, e.g. the
 * LLaMA-3.2-1B-shaped random bf16 model that {@code kernels.DecoderReferenceRun --dir D} writes.
 *
 * <pre>
 * java ... dev.sparkinfer.models.bench.TeacherLabelBenchmark [--dir D ...] [--texts 16] [--tokens 256] [--window 128]
 *     [--top-k 20] [--temperature 2] [--steps 16] [cpu|opencl|java]
 * </pre>
 */
public final class TeacherLabelBenchmark {
  public static void main(String[] args) {
    List<Path> dirs = new ArrayList<>();
    int texts = 16, tokens = 256, window = 128, k = 20, steps = 16;
    float temperature = 2f;
    String device = "cpu";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--dir" -> dirs.add(Path.of(args[++i]));
        case "--texts" -> texts = Integer.parseInt(args[++i]);
        case "--tokens" -> tokens = Integer.parseInt(args[++i]);
        case "--window" -> window = Integer.parseInt(args[++i]);
        case "--top-k" -> k = Integer.parseInt(args[++i]);
        case "--temperature" -> temperature = Float.parseFloat(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        default -> device = args[i];
      }
    }
    if (dirs.isEmpty()) {
      Path f = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures"));
      for (String m : new String[] {"gpt2-tiny", "llama-tiny", "mixtral-tiny"}) dirs.add(f.resolve(m));
    }
    System.out.printf(Locale.ROOT, "machine: %s, %d cores; %d texts x %d tokens, window %d, stride %d, top-%d at T=%.1f%n",
        CpuOps.cpuModel(), Runtime.getRuntime().availableProcessors(), texts, tokens, window, window / 2, k, temperature);
    for (Path dir : dirs) {
      try (Ops ops = Devices.open(DeviceChoice.parse(device), EngineConfig.fromSystemProperties())) {
        long t0 = System.nanoTime();
        int entries = 4;
        CausalLm m = DecoderModels.load(dir, null, ops, entries, Math.max(window, steps + 8));
        double load = (System.nanoTime() - t0) / 1e9;
        SplittableRandom rnd = new SplittableRandom(3);
        List<int[]> corpus = new ArrayList<>();
        for (int t = 0; t < texts; t++) {
          int[] ids = new int[tokens];
          for (int i = 0; i < tokens; i++) ids[i] = rnd.nextInt(Math.min(m.vocabSize(), 50000));
          corpus.add(ids);
        }
        TeacherLabeler labeler = new TeacherLabeler(m, new TeacherLabeler.Settings(k, temperature, window, window / 2), entries * window);
        labeler.label(corpus.subList(0, 1)); // warm-up
        t0 = System.nanoTime();
        labeler.label(corpus);
        double label = (System.nanoTime() - t0) / 1e9;
        // batched greedy decoding: 4 prompts of 8 tokens, then one token each per step
        int[][] prompts = new int[entries][];
        for (int e = 0; e < entries; e++) prompts[e] = java.util.Arrays.copyOf(corpus.get(e), 8);
        float[] last = m.forward(0, prompts, new int[entries], false);
        int[] pos = new int[entries];
        java.util.Arrays.fill(pos, 8);
        t0 = System.nanoTime();
        for (int s = 0; s < steps; s++) {
          int[][] step = new int[entries][];
          for (int e = 0; e < entries; e++) step[e] = new int[] {argmax(last, e, m.vocabSize())};
          last = m.forward(0, step, pos, false);
          for (int e = 0; e < entries; e++) pos[e]++;
        }
        double decode = (System.nanoTime() - t0) / 1e9;
        int bytes = 4 + k * (4 + 2) + 4;
        System.out.printf(Locale.ROOT, "%-14s on %s: load %.1f s; labels %,.0f positions/s (%d positions, %.2f s); decode %,.1f tokens/s "
                + "(batch %d, %d steps); %d bytes/token stored (float16 log-probs), %d with uint8%n",
            dir.getFileName(), m.deviceDescription(), load, texts * (double) tokens / label, texts * tokens, label,
            entries * steps / decode, entries, steps, bytes, 4 + k * 5 + 4);
      }
    }
  }

  private static int argmax(float[] x, int row, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[row * n + i] > x[row * n + best]) best = i;
    return best;
  }
}
