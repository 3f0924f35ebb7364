package dev.sparkinfer.models.bench;

import dev.sparkinfer.kernels.CpuOps;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.decoder.Generator;
import dev.sparkinfer.models.image.ClipImagePreprocessor;
import dev.sparkinfer.models.llava.LlavaConfig;
import dev.sparkinfer.models.llava.LlavaModel;
import dev.sparkinfer.models.llava.LlavaPrompt;
import dev.sparkinfer.models.weights.DType;
import dev.sparkinfer.models.weights.WeightSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * LLaVA captioning throughput on one engine, in one run, per model: image decode + preprocess alone (the fixture images
 * cycled, all cores), vision tower + projector alone ({@link LlavaModel#features}), prefill (the prompt with the image's
 * features), and generation with the {@link Generator}'s continuous batching (greedy, a fixed number of new tokens, no
 * EOS stop) from image files to captions. Models: llava-tiny from the fixtures, and a LLaVA-1.5-7B-shaped slice with
 * random F16 weights made here (CLIP ViT-L/14-336 widths with 2 of its 24 encoder layers, the 1024 → 4096 → 4096
 * projector, LLaMA-2-7B widths with 2 of its 32 decoder layers), with a full-depth figure extrapolated from it and
 * marked as an estimate. No reference runs here unless PyTorch and transformers import.
 *
 * <pre>
 * java ... dev.sparkinfer.models.bench.LlavaBenchmark [--images 8] [--batch 4] [--new-tokens 16] [--tiny-images 64] [cpu|opencl|java]
 * </pre>
 * {@code --images}, {@code --batch} and {@code --new-tokens} size the 7B slice's run (a few minutes on 2 cores at the
 * defaults); llava-tiny runs {@code --tiny-images} images at the same batch and new tokens.
 */
public final class LlavaBenchmark {
  /** The released llava-hf/llava-1.5-7b-hf config.json's shapes, with 2 vision and 2 decoder layers. */
  static final String SLICE_CONFIG = """
      {"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
       "image_token_index": 32000, "projector_hidden_act": "gelu", "vision_feature_layer": -2,
       "vision_feature_select_strategy": "default", "tie_word_embeddings": false, "pad_token_id": 32001,
       "text_config": {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 32064, "hidden_size": 4096,
                       "intermediate_size": 11008, "num_hidden_layers": 2, "num_attention_heads": 32, "num_key_value_heads": 32,
                       "max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
                       "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float16"},
       "vision_config": {"model_type": "clip_vision_model", "hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                         "num_hidden_layers": 2, "image_size": 336, "patch_size": 14, "num_channels": 3, "hidden_act": "quick_gelu",
                         "layer_norm_eps": 1e-05, "projection_dim": 768}}
      """;

  /** llava-hf/llava-1.5-7b-hf's preprocessor_config.json (bicubic resize of the short side to 336, centre crop). */
  static final String SLICE_PREPROCESSOR = """
      {"image_processor_type": "CLIPImageProcessor", "do_resize": true, "size": {"shortest_edge": 336}, "resample": 3,
       "do_center_crop": true, "crop_size": {"height": 336, "width": 336}, "do_rescale": true, "rescale_factor": 0.00392156862745098,
       "do_normalize": true, "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
       "do_convert_rgb": true}
      """;

  /** Full depth of the shapes the slice has: CLIP ViT-L/14-336 encoder layers, LLaMA-2-7B decoder layers. */
  static final int FULL_VISION_LAYERS = 24, FULL_TEXT_LAYERS = 32;

  static final String TINY_PROMPT = "USER: <image>\nDescribe this image. ASSISTANT:";

  public static void main(String[] args) throws Exception {
    int images = 8, batch = 4, newTokens = 16, tinyImages = 64;
    String device = "cpu";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--images" -> images = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--new-tokens" -> newTokens = Integer.parseInt(args[++i]);
        case "--tiny-images" -> tinyImages = Integer.parseInt(args[++i]);
        case "--device" -> device = args[++i];
        case "cpu", "opencl", "java" -> device = args[i];
        default -> {
          System.err.println("usage: LlavaBenchmark [--images 8] [--batch 4] [--new-tokens 16] [--tiny-images 64] [cpu|opencl|java]; '"
              + args[i] + "' is not one of these");
          System.exit(2);
        }
      }
    }
    if (images < 1 || batch < 1 || newTokens < 1 || tinyImages < 1) throw new IllegalArgumentException("--images, --batch, --new-tokens and --tiny-images must be >= 1");
    Path fixtures = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures"));
    List<byte[]> files = new ArrayList<>();
    for (String f : new String[] {"clip_diagram.png", "gradient.jpg", "gray.png", "rgba.png", "small.png", "palette.gif"}) {
      files.add(Files.readAllBytes(fixtures.resolve("images").resolve(f)));
    }
    int cores = Runtime.getRuntime().availableProcessors();
    System.out.printf(Locale.ROOT, "machine: %s, %d cores, Java %s (%s), max heap %.1f GiB%n", CpuOps.cpuModel(), cores,
        System.getProperty("java.version"), System.getProperty("java.vm.name"), Runtime.getRuntime().maxMemory() / (double) (1L << 30));
    System.out.println("load average at start (1/5/15 min; the machine is shared, figures are under that load): " + loadAverage());
    System.out.println("reference: " + reference());
    System.out.printf(Locale.ROOT, "run: engine %s; batch %d cache slots; %d new tokens per image (greedy, no EOS stop); fixture images cycled (%d files)%n",
        device, batch, newTokens, files.size());

    // (1) llava-tiny, its own folder: weights, preprocessing, tokenizer
    Path tiny = fixtures.resolve("llava-tiny");
    LlavaConfig tc = LlavaConfig.read(tiny);
    int[] tinyPrompt = LlavaPrompt.load(tiny, tc).encode(TINY_PROMPT);
    try (Ops ops = Devices.open(DeviceChoice.parse(device), EngineConfig.fromSystemProperties())) {
      System.out.printf(Locale.ROOT, "%n== llava-tiny (fixtures; %d vision layers, %d decoder layers, %d image tokens, prompt %d tokens) ==%n",
          tc.vision().layers(), tc.text().layers(), tc.tokensPerImage(), tinyPrompt.length);
      LlavaModel llava = LlavaModel.load(tiny, ops, batch, tinyPrompt.length + newTokens);
      System.out.println("engine: " + ops.device());
      run(llava, ClipImagePreprocessor.fromModelDir(tiny), files, tinyPrompt, tinyImages, batch, newTokens, true, null);
    }

    // (2) LLaVA-1.5-7B shapes, 2 + 2 layers, random F16 weights given in memory (no multi-GB file)
    Path slice = Files.createTempDirectory("llava-7b-slice-");
    Files.writeString(slice.resolve("config.json"), SLICE_CONFIG);
    Files.writeString(slice.resolve("preprocessor_config.json"), SLICE_PREPROCESSOR);
    slice.toFile().deleteOnExit(); // deleted last (reverse order), once empty
    slice.resolve("config.json").toFile().deleteOnExit();
    slice.resolve("preprocessor_config.json").toFile().deleteOnExit();
    LlavaConfig sc = LlavaConfig.read(slice);
    int[] slicePrompt = slicePrompt(sc);
    try (Ops ops = Devices.open(DeviceChoice.parse(device), EngineConfig.fromSystemProperties())) {
      System.out.printf(Locale.ROOT, "%n== LLaVA-1.5-7B shape, layer slice (random F16): vision CLIP ViT-L/14-%d, %d of %d encoder layers"
              + " (%d block%s run: vision_feature_layer %d); projector %d -> %d -> %d; language model LLaMA-2-7B widths, %d of %d layers;"
              + " %d image tokens, prompt %d tokens (ids given, no tokenizer) ==%n",
          sc.imageSize(), sc.vision().layers(), FULL_VISION_LAYERS, sc.visionBlocksUsed(), sc.visionBlocksUsed() == 1 ? "" : "s",
          sc.featureLayers()[0], sc.projectorIn(), sc.text().dim(), sc.text().dim(), sc.text().layers(), FULL_TEXT_LAYERS,
          sc.tokensPerImage(), slicePrompt.length);
      long t0 = System.nanoTime();
      RandomLlava16 weights = new RandomLlava16(sc);
      LlavaModel llava = LlavaModel.load(slice, ops, weights, batch, slicePrompt.length + newTokens);
      double load = (System.nanoTime() - t0) / 1e9;
      Ops.MemoryUse m = ops.memoryUse();
      System.out.println("engine: " + ops.device());
      System.out.printf(Locale.ROOT, "loaded %.3f G parameters (random F16) in %.1f s; held (ops.memoryUse(), capacity): host %.3f GB, device %.3f GB"
              + " (16-bit weights %.3f GB, float/int arenas %.3f GB; KV cache for %d x %d positions included)%n",
          weights.parameters() / 1e9, load, m.hostBytes() / 1e9, m.deviceBytes() / 1e9, m.weights16Bytes() / 1e9, m.floatBytes() / 1e9,
          batch, slicePrompt.length + newTokens);
      run(llava, ClipImagePreprocessor.fromModelDir(slice), files, slicePrompt, images, batch, newTokens, false, new FullDepth(sc, slicePrompt.length, newTokens, weights));
    }
  }

  /** Figures of one model's stages, in seconds, for the extrapolation. */
  record Times(int images, double features, double prefill, double genPrefill, double genDecode, int tokens) {}

  private static void run(LlavaModel llava, ClipImagePreprocessor pre, List<byte[]> files, int[] prompt, int n, int batch, int newTokens,
                          boolean warmUp, FullDepth full) throws Exception {
    // decode + preprocess alone, all cores
    if (warmUp) preprocess(pre, files, 0, Math.min(n, 32));
    long t0 = System.nanoTime();
    float[][] all = preprocess(pre, files, 0, n);
    double s = secs(t0);
    System.out.printf(Locale.ROOT, "decode + preprocess (%d px, %d threads): %d images in %.2f s, %,.1f images/s%n", pre.imageSize(),
        Runtime.getRuntime().availableProcessors(), n, s, n / s);
    int rounded = (n + batch - 1) / batch * batch;
    // vision tower + projector alone, batches of `batch` images
    if (warmUp) llava.features(chunk(all, 0, batch));
    t0 = System.nanoTime();
    for (int from = 0; from < n; from += batch) llava.features(chunk(all, from, batch));
    double feat = secs(t0);
    System.out.printf(Locale.ROOT, "vision tower + projector (features): %d images in %.2f s, %,.2f images/s%n", n, feat, n / feat);
    // prefill: the prompt with each image's features, `batch` prompts per pass into cache entries 0 .. batch-1
    if (warmUp) prefill(llava, prompt, all, 0, batch);
    t0 = System.nanoTime();
    for (int from = 0; from < n; from += batch) prefill(llava, prompt, all, from, batch);
    double pf = secs(t0);
    System.out.printf(Locale.ROOT, "prefill (features + language model, %d tokens per prompt, %d per pass): %d images in %.2f s,"
            + " %,.1f prompt tokens/s, %,.2f images/s%n", prompt.length, batch, n, pf, (double) n * prompt.length / pf, n / pf);
    // generation: files to captions, continuous batching over `batch` slots; images decoded as their prompts are prefilled
    Generator gen = new Generator(llava.languageModel(), new Generator.Settings(newTokens, 0f, 1f, 0L, false, new int[0]));
    List<int[]> prompts = Collections.nCopies(n, prompt);
    long[] keys = IntStream.range(0, n).asLongStream().toArray();
    double[] inPrefill = {0};
    Generator.Prefill fill = (first, which, ps) -> {
      long p0 = System.nanoTime();
      float[][][] imgs = new float[which.length][][];
      IntStream.range(0, which.length).parallel().forEach(j -> imgs[j] = new float[][] {pre.preprocess(files.get(which[j] % files.size()))});
      float[] logits = llava.prefill(first, ps, imgs);
      inPrefill[0] += secs(p0);
      return logits;
    };
    if (warmUp) gen.generate(prompts.subList(0, Math.min(n, batch)), keys, fill);
    inPrefill[0] = 0;
    t0 = System.nanoTime();
    List<Generator.Output> out = gen.generate(prompts, keys, fill);
    double g = secs(t0);
    int tokens = out.stream().mapToInt(o -> o.tokens().length).sum();
    double dec = g - inPrefill[0];
    System.out.printf(Locale.ROOT, "generation (Generator, continuous batching, batch %d, greedy, %d new tokens, files to captions): %d images in %.2f s"
            + " (prefill %.2f s, decode steps %.2f s): %,.2f generated tokens/s, %,.3f images/s end to end; decode steps alone %,.2f tokens/s%n",
        batch, newTokens, n, g, inPrefill[0], dec, tokens / g, n / g, tokens / dec);
    System.out.println("load average after this model (1/5/15 min): " + loadAverage());
    if (full != null) full.print(new Times(n, feat, pf, inPrefill[0], dec, tokens));
  }

  /**
   * The LLaVA-1.5 prompt "USER: &lt;image&gt;\nDescribe this image. ASSISTANT:" in shape: BOS, three text ids, one image
   * token per image feature, ten text ids (plausible LLaMA ids, not a tokenizer's output; the weights are random).
   */
  static int[] slicePrompt(LlavaConfig c) {
    int[] head = {1, 3148, 1001, 29901}, tail = {29871, 13, 4002, 29581, 445, 1967, 29889, 319, 1799, 29901};
    int[] p = new int[head.length + c.tokensPerImage() + tail.length];
    System.arraycopy(head, 0, p, 0, head.length);
    Arrays.fill(p, head.length, head.length + c.tokensPerImage(), c.imageToken());
    System.arraycopy(tail, 0, p, head.length + c.tokensPerImage(), tail.length);
    return p;
  }

  /**
   * Extrapolates the slice's stage times to the full depth (24 vision layers, of which 23 run at
   * vision_feature_layer -2; 32 decoder layers): per stage, time x (full multiply-adds / slice multiply-adds), with the
   * per-layer work scaled by the layer count and the once-per-model work (patch embedding, projector, embedding
   * lookup, LM head) counted once. An estimate from arithmetic, not a measurement.
   */
  record FullDepth(LlavaConfig c, int promptLength, int newTokens, RandomLlava16 weights) {
    void print(Times t) {
      int v = c.vision().width(), vf = c.vision().ffn(), seq = c.patches() + 1, pt = c.patches();
      int d = c.text().dim(), f = c.text().ffn(), kv = c.text().kvDim(), vocab = c.text().vocabSize(), n = promptLength;
      int sliceBlocks = c.visionBlocksUsed(), fullBlocks = FULL_VISION_LAYERS + 1 + c.featureLayers()[0];
      int sliceLayers = c.text().layers();
      // per image: one vision block (projections, MLP, attention scores and sums), and what runs once
      double vBlock = (double) seq * (4.0 * v * v + 2.0 * v * vf) + 2.0 * seq * seq * v;
      double vOnce = (double) pt * (3.0 * c.patchSize() * c.patchSize() * v + (double) c.projectorIn() * d + (double) d * d);
      // per prompt: one decoder layer over n positions (causal attention ~ n^2/2 per head dim), the head at the last one
      double lLayer = (double) n * (2.0 * d * d + 2.0 * d * kv + 3.0 * d * f) + (double) n * n * c.text().qDim();
      double lOnce = (double) d * vocab;
      // per generated token: one decoder layer at a mean context of n + newTokens/2, the head
      double ctx = n + newTokens / 2.0;
      double dLayer = (2.0 * d * d + 2.0 * d * kv + 3.0 * d * f) + 2.0 * ctx * c.text().qDim();
      double dOnce = (double) d * vocab;
      double rFeat = (fullBlocks * vBlock + vOnce) / (sliceBlocks * vBlock + vOnce);
      double rLm = (FULL_TEXT_LAYERS * lLayer + lOnce) / (sliceLayers * lLayer + lOnce);
      double rDec = (FULL_TEXT_LAYERS * dLayer + dOnce) / (sliceLayers * dLayer + dOnce);
      double feat = t.features() * rFeat;
      double lm = Math.max(0, t.prefill() - t.features());
      double prefill = feat + lm * rLm;
      double rPrefill = prefill / t.prefill();
      double gen = t.genPrefill() * rPrefill + t.genDecode() * rDec;
      long fullParams = weights.parameters() + (FULL_VISION_LAYERS - c.vision().layers()) * weights.visionLayerParameters()
          + (long) (FULL_TEXT_LAYERS - sliceLayers) * weights.textLayerParameters();
      System.out.printf(Locale.ROOT, "ESTIMATE, not measured: full depth (%d of %d vision blocks run, %d of %d decoder layers), extrapolated from the"
              + " slice's times above by multiply-adds (layers linearly, patch embedding, projector, embedding and head once): features x%.1f,"
              + " language-model prefill x%.1f, decode step x%.1f%n",
          fullBlocks, FULL_VISION_LAYERS, FULL_TEXT_LAYERS, FULL_TEXT_LAYERS, rFeat, rLm, rDec);
      System.out.printf(Locale.ROOT, "ESTIMATE full-depth LLaVA-1.5-7B: %.2f G parameters (%.1f GB as F16); features %,.3f images/s; prefill %,.1f prompt tokens/s,"
              + " %,.4f images/s; generation %,.3f generated tokens/s, %,.4f images/s end to end (decode steps alone %,.3f tokens/s)%n",
          fullParams / 1e9, fullParams * 2 / 1e9, t.images() / feat, (double) t.images() * n / prefill, t.images() / prefill,
          t.tokens() / gen, t.images() / gen, t.tokens() / (t.genDecode() * rDec));
    }
  }

  private static double secs(long t0) { return (System.nanoTime() - t0) / 1e9; }

  /** {@code batch} preprocessed images from {@code from}, wrapping around the list. */
  private static float[][] chunk(float[][] all, int from, int batch) {
    float[][] c = new float[batch][];
    for (int i = 0; i < batch; i++) c[i] = all[(from + i) % all.length];
    return c;
  }

  private static float[] prefill(LlavaModel llava, int[] prompt, float[][] all, int from, int batch) {
    int[][] ps = new int[batch][];
    float[][][] imgs = new float[batch][][];
    for (int j = 0; j < batch; j++) {
      ps[j] = prompt;
      imgs[j] = new float[][] {all[(from + j) % all.length]};
    }
    return llava.prefill(0, ps, imgs);
  }

  /** Images {@code from .. from + n - 1} (the files cycled), decoded and preprocessed in parallel. */
  static float[][] preprocess(ClipImagePreprocessor pre, List<byte[]> files, int from, int n) {
    float[][] out = new float[n][];
    IntStream.range(0, n).parallel().forEach(i -> out[i] = pre.preprocess(files.get((from + i) % files.size())));
    return out;
  }

  /** The first three fields of /proc/loadavg, or "unknown" off Linux. */
  private static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (Exception e) {
      return "unknown";
    }
  }

  private static String reference() {
    try {
      Process p = new ProcessBuilder("python3", "-c", "import torch, transformers; print(torch.__version__, transformers.__version__)")
          .redirectErrorStream(true).start();
      String outText = new String(p.getInputStream().readAllBytes()).trim();
      if (p.waitFor() == 0) {
        return "PyTorch and transformers import here (" + outText + "), but this program does not run them; compare with a"
            + " transformers LlavaForConditionalGeneration run on the same machine";
      }
    } catch (Exception e) {
      // no python3
    }
    return "none on this machine (no PyTorch)";
  }

  /**
   * Random F16 tensors under LlavaForConditionalGeneration's released names ({@code vision_tower.vision_model.*},
   * {@code multi_modal_projector.*}, {@code language_model.model.*}, {@code language_model.lm_head.weight}), shaped
   * as the config asks; norm weights near 1, the rest uniform in ±0.02. Each tensor's values come from its own seed,
   * so a tensor is the same however often or in whichever order it is read.
   */
  static final class RandomLlava16 implements WeightSource {
    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private long visionLayer, textLayer;

    RandomLlava16(LlavaConfig c) {
      var vt = c.vision();
      int vw = vt.width(), p = c.patchSize();
      String v = "vision_tower.vision_model.";
      put(v + "embeddings.class_embedding", vw);
      put(v + "embeddings.patch_embedding.weight", vw, 3, p, p);
      put(v + "embeddings.position_embedding.weight", c.patches() + 1, vw);
      for (String n : new String[] {"pre_layrnorm", "post_layernorm"}) {
        put(v + n + ".weight", vw);
        put(v + n + ".bias", vw);
      }
      for (int l = 0; l < vt.layers(); l++) {
        String b = v + "encoder.layers." + l + ".";
        long before = total();
        for (String n : new String[] {"layer_norm1", "layer_norm2"}) {
          put(b + n + ".weight", vw);
          put(b + n + ".bias", vw);
        }
        for (String n : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
          put(b + "self_attn." + n + ".weight", vw, vw);
          put(b + "self_attn." + n + ".bias", vw);
        }
        put(b + "mlp.fc1.weight", vt.ffn(), vw);
        put(b + "mlp.fc1.bias", vt.ffn());
        put(b + "mlp.fc2.weight", vw, vt.ffn());
        put(b + "mlp.fc2.bias", vw);
        visionLayer = total() - before;
      }
      var t = c.text();
      int d = t.dim();
      put("multi_modal_projector.linear_1.weight", d, c.projectorIn());
      put("multi_modal_projector.linear_1.bias", d);
      put("multi_modal_projector.linear_2.weight", d, d);
      put("multi_modal_projector.linear_2.bias", d);
      String m = "language_model.model.";
      put(m + "embed_tokens.weight", t.vocabSize(), d);
      for (int l = 0; l < t.layers(); l++) {
        String b = m + "layers." + l + ".";
        long before = total();
        put(b + "input_layernorm.weight", d);
        put(b + "self_attn.q_proj.weight", t.qDim(), d);
        put(b + "self_attn.k_proj.weight", t.kvDim(), d);
        put(b + "self_attn.v_proj.weight", t.kvDim(), d);
        put(b + "self_attn.o_proj.weight", d, t.qDim());
        put(b + "post_attention_layernorm.weight", d);
        put(b + "mlp.gate_proj.weight", t.ffn(), d);
        put(b + "mlp.up_proj.weight", t.ffn(), d);
        put(b + "mlp.down_proj.weight", d, t.ffn());
        textLayer = total() - before;
      }
      put(m + "norm.weight", d);
      put("language_model.lm_head.weight", t.vocabSize(), d);
    }

    private void put(String name, long... shape) { shapes.put(name, shape); }

    private long total() { return shapes.values().stream().mapToLong(RandomLlava16::count).sum(); }

    private static long count(long[] s) {
      long n = 1;
      for (long d : s) n = Math.multiplyExact(n, d);
      return n;
    }

    long parameters() { return total(); }

    long visionLayerParameters() { return visionLayer; }

    long textLayerParameters() { return textLayer; }

    @Override public Set<String> names() { return shapes.keySet(); }
    @Override public boolean has(String name) { return shapes.containsKey(name); }
    @Override public long[] shape(String name) { return require(name).clone(); }
    @Override public DType dtype(String name) { require(name); return DType.F16; }

    private long[] require(String name) {
      long[] s = shapes.get(name);
      if (s == null) throw new IllegalArgumentException(origin() + ": no tensor '" + name + "'");
      return s;
    }

    @Override
    public float[] floats(String name) {
      char[] h = bits16(name);
      float[] f = new float[h.length];
      IntStream.range(0, h.length).parallel().forEach(i -> f[i] = dev.sparkinfer.kernels.DType.F16.toFloat(h[i]));
      return f;
    }

    @Override
    public char[] bits16(String name) {
      int n = Math.toIntExact(count(require(name)));
      char[] h = new char[n];
      boolean norm = (name.contains("norm") || name.contains("layrnorm")) && name.endsWith(".weight");
      long seed = name.hashCode() * 0x9E3779B97F4A7C15L;
      int chunk = 1 << 20;
      IntStream.range(0, (n + chunk - 1) / chunk).parallel().forEach(k -> {
        SplittableRandom rnd = new SplittableRandom(seed + k);
        for (int i = k * chunk, end = Math.min(n, i + chunk); i < end; i++) {
          float x = norm ? 1f + 0.1f * (float) (rnd.nextDouble() - 0.5) : 0.02f * (float) (rnd.nextDouble() * 2 - 1);
          h[i] = dev.sparkinfer.kernels.DType.F16.fromFloat(x);
        }
      });
      return h;
    }

    @Override public long[] longs(String name) { throw new UnsupportedOperationException(origin() + ": '" + name + "' is F16, not integer"); }
    @Override public String origin() { return "random LLaVA-1.5-7B-shaped slice"; }
  }
}
