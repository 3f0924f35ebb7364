package dev.sparkinfer.models.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.CpuOps;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.TestTexts;
import dev.sparkinfer.models.decoder.CausalLm;
import dev.sparkinfer.models.decoder.DecoderModels;
import dev.sparkinfer.models.decoder.DecoderTokenizers;
import dev.sparkinfer.models.decoder.TextTokenizer;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Decoder quality under weight quantization and pruning, against the unquantized model (weights as stored: f16/bf16)
 * on the same prompts, on one engine, in one run. For each model and setting: top-1 agreement (the argmax of the
 * logits at every prompt position equals the reference's), mean |Δ log-prob| over the reference's top-20 tokens of
 * log_softmax(logits / T) at T = 1 and T = 2, the bytes the engine holds after load (16-bit and 8-bit weight memory
 * broken out), prefill tokens/s (every position's logits, one prompt at a time) and greedy decode tokens/s (batch 1).
 *
 * <p>Models: the fixtures (gpt2-tiny, llama-tiny, mixtral-tiny) on their expected.json prompts plus {@code --texts}
 * generated texts (TestTexts, cut to 32 tokens), and a LLaMA-3.2-1B-shaped decoder with random bf16 weights written by
 * this program as a Hugging Face folder (the shape of {@code kernels.DecoderStack} and {@code bin/benchmark decoder}:
 * 16 layers, dim 2048, 32/8 heads, FFN 8192, vocabulary 128,256, tied head) on {@code --big-prompts} random-id prompts
 * of {@code --big-len} tokens; last, dense against 2:4-pruned weights in one matmul, run alternately. Random weights: its agreement figures say how far the settings move the logits of a
 * model of that shape, not what they do to a trained one.
 *
 * <pre>
 * bin/benchmark decoder-quality [--settings none,int8,int4,2:4,unstructured:0.5] [--texts 8] [--big-layers 16]
 *     [--big-prompts 4] [--big-len 16] [--steps 8] [--dir /tmp/llama1b-random] [--matmul-only] [cpu|opencl|java]
 * </pre>
 */
public final class DecoderQualityBenchmark {
  private static final int TOP = 20;

  record Run(List<float[]> logits, long heldBytes, long bytes16, long bytes8, double prefillTps, double decodeTps, double loadSec) {}

  public static void main(String[] args) throws IOException {
    List<String> settings = List.of("none", "int8", "int4", "2:4", "unstructured:0.5");
    int texts = 8, bigLayers = 16, bigPrompts = 4, bigLen = 16, steps = 8;
    String device = "cpu";
    boolean matmulOnly = false;
    Path bigDir = Path.of(System.getProperty("java.io.tmpdir"), "sparkinfer-llama1b-random");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--settings" -> settings = Arrays.asList(args[++i].split(","));
        case "--texts" -> texts = Integer.parseInt(args[++i]);
        case "--big-layers" -> bigLayers = Integer.parseInt(args[++i]);
        case "--big-prompts" -> bigPrompts = Integer.parseInt(args[++i]);
        case "--big-len" -> bigLen = Integer.parseInt(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        case "--dir" -> bigDir = Path.of(args[++i]);
        case "--matmul-only" -> matmulOnly = true;
        default -> device = args[i];
      }
    }
    if (!settings.get(0).equals("none")) throw new IllegalArgumentException("--settings must start with none: the reference");
    if (matmulOnly) {
      prunedMatmul(device, 12);
      return;
    }
    System.out.printf(Locale.ROOT, "decoder quality benchmark: machine %s, %d cores, device %s; settings %s against 'none' (weights as stored)%n",
        CpuOps.cpuModel(), Runtime.getRuntime().availableProcessors(), device, settings);
    Path fixtures = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures"));
    for (String name : new String[] {"gpt2-tiny", "llama-tiny", "mixtral-tiny"}) {
      Path dir = fixtures.resolve(name);
      if (!Files.isDirectory(dir)) {
        System.out.println(name + ": skipped, no fixture at " + dir.toAbsolutePath());
        continue;
      }
      compare(name, dir, fixturePrompts(dir, texts), settings, device, steps, 3);
    }
    if (bigLayers > 0) {
      long t0 = System.nanoTime();
      writeRandomLlama(bigDir, bigLayers);
      System.out.printf(Locale.ROOT, "LLaMA-3.2-1B-shaped random bf16 decoder (%d layers) written to %s in %.1f s%n", bigLayers, bigDir,
          (System.nanoTime() - t0) / 1e9);
      SplittableRandom rnd = new SplittableRandom(5);
      List<int[]> prompts = new ArrayList<>();
      for (int p = 0; p < bigPrompts; p++) {
        int[] ids = new int[bigLen];
        ids[0] = 128000;
        for (int t = 1; t < bigLen; t++) ids[t] = rnd.nextInt(128000);
        prompts.add(ids);
      }
      compare("llama-1b-shape-random", bigDir, prompts, settings, device, steps, 1);
    }
    prunedMatmul(device, 12);
  }

  /**
   * Whether pruning saves time: the LLaMA-1B FFN matmul ([8192, 2048] weight, 16 rows) with dense and with 2:4-pruned
   * weights, bf16 and INT8, run alternately (so machine noise hits both alike), fastest of {@code reps} each.
   */
  static void prunedMatmul(String device, int reps) {
    int out = 8192, in = 2048, rows = 16;
    SplittableRandom rnd = new SplittableRandom(9);
    float[] w = new float[out * in], x = new float[rows * in];
    for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextDouble() * 2 - 1) * 0.02f;
    for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
    float[] pruned = dev.sparkinfer.kernels.Pruning.TWO_FOUR.apply(w.clone(), out, in);
    try (Ops ops = Devices.open(DeviceChoice.parse(device), EngineConfig.fromSystemProperties())) {
      char[] dense16 = new char[w.length], pruned16 = new char[w.length];
      for (int i = 0; i < w.length; i++) {
        dense16[i] = (char) (Float.floatToIntBits(w[i]) >>> 16);
        pruned16[i] = (char) (Float.floatToIntBits(pruned[i]) >>> 16);
      }
      dev.sparkinfer.kernels.HalfTensor d16 = ops.upload16(dense16, dev.sparkinfer.kernels.DType.BF16), p16 = ops.upload16(pruned16, dev.sparkinfer.kernels.DType.BF16);
      dev.sparkinfer.kernels.LinearWeight d8 = ops.uploadLinear(w, out, in, dev.sparkinfer.kernels.Quantization.INT8);
      dev.sparkinfer.kernels.LinearWeight p8 = ops.uploadLinear(pruned, out, in, dev.sparkinfer.kernels.Quantization.INT8);
      dev.sparkinfer.kernels.Tensor xt = ops.upload(x);
      double[] best = {Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE};
      try (Ops.Scope s = ops.scope()) {
        dev.sparkinfer.kernels.Tensor y = ops.alloc(rows * out);
        for (int r = 0; r < reps; r++) {
          for (int k = 0; k < 4; k++) {
            long t0 = System.nanoTime();
            switch (k) {
              case 0 -> ops.linear16(y, xt, d16, null, rows, out, in);
              case 1 -> ops.linear16(y, xt, p16, null, rows, out, in);
              case 2 -> ops.linear(y, xt, d8, null, rows);
              default -> ops.linear(y, xt, p8, null, rows);
            }
            ops.read(y.slice(0, 1));
            best[k] = Math.min(best[k], (System.nanoTime() - t0) / 1e6);
          }
        }
      }
      System.out.printf(Locale.ROOT, "pruning and speed: [%d, %d] x %d rows, fastest of %d alternating runs: bf16 dense %.2f ms, 2:4-pruned "
              + "%.2f ms (x%.2f); int8 dense %.2f ms, 2:4-pruned %.2f ms (x%.2f); the kernels do not skip zeros%n",
          out, in, rows, reps, best[0], best[1], best[0] / best[1], best[2], best[3], best[2] / best[3]);
    }
  }

  /** Each setting against the first; speeds are the fastest of {@code passes} (the tiny models' runs are milliseconds). */
  private static void compare(String name, Path dir, List<int[]> prompts, List<String> settings, String device, int steps, int passes) {
    int tokens = prompts.stream().mapToInt(p -> p.length).sum();
    System.out.printf(Locale.ROOT, "%s: %d prompts, %d positions%n", name, prompts.size(), tokens);
    Run ref = null;
    if (passes > 1) run(dir, prompts, WeightSetting.parse("none"), device, steps, 1); // JIT warm-up, so the reference is not the slowest for it
    for (String s : settings) {
      WeightSetting ws = WeightSetting.parse(s);
      Run r = run(dir, prompts, ws, device, steps, passes);
      if (ref == null) ref = r;
      int agree = 0, positions = 0;
      double d1 = 0, d2 = 0;
      for (int p = 0; p < prompts.size(); p++) {
        float[] a = ref.logits().get(p), b = r.logits().get(p);
        int vocab = a.length / prompts.get(p).length;
        for (int i = 0; i < prompts.get(p).length; i++) {
          positions++;
          if (argmax(a, i * vocab, vocab) == argmax(b, i * vocab, vocab)) agree++;
          d1 += meanAbsDelta(a, b, i * vocab, vocab, 1);
          d2 += meanAbsDelta(a, b, i * vocab, vocab, 2);
        }
      }
      System.out.printf(Locale.ROOT, "  %-17s top-1 agreement %6.2f %% | mean |Δ logprob| top-%d T=1 %.4f T=2 %.4f | held %8.1f MiB "
              + "(16-bit %7.1f, 8-bit %7.1f) | prefill %8.1f tok/s (x%.2f) | decode %6.1f tok/s (x%.2f) | load %.1f s%n",
          s, 100.0 * agree / positions, TOP, d1 / positions, d2 / positions, mib(r.heldBytes()), mib(r.bytes16()), mib(r.bytes8()),
          r.prefillTps(), r.prefillTps() / ref.prefillTps(), r.decodeTps(), r.decodeTps() / ref.decodeTps(), r.loadSec());
    }
  }

  /** Every position's logits of each prompt (one at a time, cache entry 0), the bytes held, prefill and decode speed. */
  private static Run run(Path dir, List<int[]> prompts, WeightSetting ws, String device, int steps, int passes) {
    int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(1);
    try (Ops ops = Devices.open(DeviceChoice.parse(device), EngineConfig.fromSystemProperties())) {
      long t0 = System.nanoTime();
      CausalLm m = DecoderModels.load(dir, null, ops, 1, longest + steps + 1, ws.quantize(), ws.prune());
      double load = (System.nanoTime() - t0) / 1e9;
      Ops.MemoryUse use = ops.memoryUse();
      m.forward(0, new int[][] {Arrays.copyOf(prompts.get(0), Math.min(4, prompts.get(0).length))}, new int[] {0}, true); // warm-up
      List<float[]> logits = null;
      double prefill = 0, decode = 0;
      for (int pass = 0; pass < passes; pass++) {
        List<float[]> got = new ArrayList<>();
        t0 = System.nanoTime();
        int tokens = 0;
        for (int[] p : prompts) {
          got.add(m.forward(0, new int[][] {p}, new int[] {0}, true));
          tokens += p.length;
        }
        prefill = Math.max(prefill, tokens / ((System.nanoTime() - t0) / 1e9));
        if (logits == null) logits = got;
        // greedy decoding, batch 1, after the first prompt
        int[] p0 = prompts.get(0);
        float[] last = m.forward(0, new int[][] {p0}, new int[] {0}, false);
        t0 = System.nanoTime();
        for (int s = 0; s < steps; s++) {
          int next = argmax(last, 0, m.vocabSize());
          last = m.forward(0, new int[][] {{next}}, new int[] {p0.length + s}, false);
        }
        decode = Math.max(decode, steps / ((System.nanoTime() - t0) / 1e9));
      }
      m.close();
      return new Run(logits, use.hostBytes() + use.deviceBytes(), use.weights16Bytes(), use.weights8Bytes(), prefill, decode, load);
    } catch (Exception e) {
      throw new IllegalStateException(dir + " " + ws.label() + ": " + e.getMessage(), e);
    }
  }

  /** The fixture's prompts (expected.json input_ids) and {@code texts} generated texts cut to 32 tokens. */
  private static List<int[]> fixturePrompts(Path dir, int texts) throws IOException {
    List<int[]> prompts = new ArrayList<>();
    JsonNode ids = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("expected.json"))).path("input_ids");
    for (JsonNode p : ids) {
      int[] a = new int[p.size()];
      for (int i = 0; i < a.length; i++) a[i] = p.get(i).asInt();
      prompts.add(a);
    }
    TextTokenizer tok = DecoderTokenizers.load(dir);
    for (String t : TestTexts.generate(4 * texts, 17)) {
      if (prompts.size() >= ids.size() + texts) break;
      int[] a = tok.encode(t);
      if (a.length >= 8) prompts.add(Arrays.copyOf(a, Math.min(32, a.length)));
    }
    return prompts;
  }

  /** Mean over the reference's top-20 ids of |log_softmax(a / T) - log_softmax(b / T)|, in double. */
  private static double meanAbsDelta(float[] a, float[] b, int off, int n, double t) {
    double la = logSumExp(a, off, n, t), lb = logSumExp(b, off, n, t);
    int[] top = topIds(a, off, n, TOP);
    double sum = 0;
    for (int id : top) sum += Math.abs((a[off + id] / t - la) - (b[off + id] / t - lb));
    return sum / top.length;
  }

  private static double logSumExp(float[] x, int off, int n, double t) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) max = Math.max(max, x[off + i] / t);
    double s = 0;
    for (int i = 0; i < n; i++) s += Math.exp(x[off + i] / t - max);
    return max + Math.log(s);
  }

  private static int[] topIds(float[] x, int off, int n, int k) {
    int[] top = new int[Math.min(k, n)];
    Arrays.fill(top, -1);
    for (int i = 0; i < n; i++) {
      float v = x[off + i];
      int at = top.length;
      while (at > 0 && (top[at - 1] < 0 || x[off + top[at - 1]] < v)) at--;
      if (at < top.length) {
        System.arraycopy(top, at, top, at + 1, top.length - at - 1);
        top[at] = i;
      }
    }
    return top;
  }

  private static int argmax(float[] x, int off, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
    return best;
  }

  private static double mib(long b) { return b / 1048576.0; }

  /**
   * A LLaMA-3.2-1B-shaped LlamaForCausalLM folder with random bf16 weights (the scales of kernels' DecoderStack: uniform
   * in ±1/sqrt(fan-in) for Linear weights, ±0.05 for the embeddings, norms in [0.8, 1.2]), streamed to disk one
   * tensor at a time; kept when it is already there with the same layers.
   */
  static void writeRandomLlama(Path dir, int layers) throws IOException {
    int dim = 2048, ffn = 8192, heads = 32, kvHeads = 8, vocab = 128256, kv = kvHeads * (dim / heads);
    Files.createDirectories(dir);
    String config = String.format(Locale.ROOT, "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": %d, "
        + "\"intermediate_size\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"head_dim\": %d, \"num_hidden_layers\": %d, "
        + "\"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, \"max_position_embeddings\": 2048, \"vocab_size\": %d, "
        + "\"tie_word_embeddings\": true, \"bos_token_id\": 128000, \"eos_token_id\": 128001, \"hidden_act\": \"silu\", "
        + "\"torch_dtype\": \"bfloat16\"}", dim, ffn, heads, kvHeads, dim / heads, layers, vocab);
    Path weights = dir.resolve("model.safetensors");
    if (Files.isRegularFile(weights) && Files.isRegularFile(dir.resolve("config.json")) && Files.readString(dir.resolve("config.json")).equals(config)) return;
    Map<String, long[]> shapes = new LinkedHashMap<>();
    shapes.put("model.embed_tokens.weight", new long[] {vocab, dim});
    for (int l = 0; l < layers; l++) {
      String p = "model.layers." + l + ".";
      shapes.put(p + "input_layernorm.weight", new long[] {dim});
      shapes.put(p + "self_attn.q_proj.weight", new long[] {dim, dim});
      shapes.put(p + "self_attn.k_proj.weight", new long[] {kv, dim});
      shapes.put(p + "self_attn.v_proj.weight", new long[] {kv, dim});
      shapes.put(p + "self_attn.o_proj.weight", new long[] {dim, dim});
      shapes.put(p + "post_attention_layernorm.weight", new long[] {dim});
      shapes.put(p + "mlp.gate_proj.weight", new long[] {ffn, dim});
      shapes.put(p + "mlp.up_proj.weight", new long[] {ffn, dim});
      shapes.put(p + "mlp.down_proj.weight", new long[] {dim, ffn});
    }
    shapes.put("model.norm.weight", new long[] {dim});
    StringBuilder h = new StringBuilder("{");
    long offset = 0;
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      long n = Arrays.stream(e.getValue()).reduce(1, Math::multiplyExact);
      if (h.length() > 1) h.append(',');
      h.append('"').append(e.getKey()).append("\":{\"dtype\":\"BF16\",\"shape\":").append(Arrays.toString(e.getValue()).replace(" ", ""))
          .append(",\"data_offsets\":[").append(offset).append(',').append(offset + 2 * n).append("]}");
      offset += 2 * n;
    }
    h.append('}');
    byte[] json = h.toString().getBytes(StandardCharsets.UTF_8);
    byte[] header = Arrays.copyOf(json, (json.length + 7) / 8 * 8);
    Arrays.fill(header, json.length, header.length, (byte) ' ');
    SplittableRandom rnd = new SplittableRandom(1);
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(weights), 1 << 20)) {
      out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
      out.write(header);
      ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
      for (Map.Entry<String, long[]> e : shapes.entrySet()) {
        long[] s = e.getValue();
        long n = Arrays.stream(s).reduce(1, Math::multiplyExact);
        boolean norm = s.length == 1, embed = e.getKey().equals("model.embed_tokens.weight");
        float scale = embed ? 0.05f : norm ? 0 : (float) (1 / Math.sqrt(s[1]));
        for (long i = 0; i < n; i++) {
          float v = norm ? (float) (0.8 + 0.4 * rnd.nextDouble()) : (float) (rnd.nextDouble() * 2 - 1) * scale;
          buf.putChar((char) ((Float.floatToIntBits(v) + 0x8000) >>> 16)); // bf16, round half up (finite values only)
          if (!buf.hasRemaining()) {
            out.write(buf.array(), 0, buf.position());
            buf.clear();
          }
        }
      }
      out.write(buf.array(), 0, buf.position());
    }
    Files.writeString(dir.resolve("config.json"), config);
  }
}
