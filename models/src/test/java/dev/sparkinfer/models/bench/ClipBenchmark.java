package dev.sparkinfer.models.bench;

import dev.sparkinfer.kernels.CpuOps;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.clip.ClipModel;
import dev.sparkinfer.models.image.ClipImagePreprocessor;
import dev.sparkinfer.models.weights.DType;
import dev.sparkinfer.models.weights.WeightSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * CLIP image throughput on one engine, in one run: decode + preprocess alone (the fixture's six images, all cores),
 * the vision tower alone (clip-tiny-hf, and a ViT-B/32-shaped model with random f16 weights made here: the shapes of
 * openai/clip-vit-base-patch32), and end to end (files to embeddings, preprocessing on a thread pool beside the
 * engine). No reference runs here (no PyTorch on CPU machines); the GPU check compares with PyTorch.
 *
 * <pre>
 * java ... dev.sparkinfer.models.bench.ClipBenchmark [--images 512] [--batch 64] [cpu|opencl|java]
 * </pre>
 */
public final class ClipBenchmark {
  public static void main(String[] args) throws Exception {
    int images = 512, batch = 64;
    String device = "cpu";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--images" -> images = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        default -> device = args[i];
      }
    }
    Path fixtures = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures"));
    Path tiny = fixtures.resolve("clip-tiny-hf");
    List<byte[]> files = new ArrayList<>();
    for (String f : new String[] {"clip_diagram.png", "gradient.jpg", "gray.png", "rgba.png", "small.png", "palette.gif"}) {
      files.add(Files.readAllBytes(fixtures.resolve("images").resolve(f)));
    }
    int cores = Runtime.getRuntime().availableProcessors();
    System.out.printf(Locale.ROOT, "machine: %s, %d cores; %d images, batch %d%n", CpuOps.cpuModel(), cores, images, batch);
    ExecutorService pool = Executors.newFixedThreadPool(cores);
    try {
      for (int size : new int[] {64, 224}) {
        ClipImagePreprocessor pre = ClipImagePreprocessor.fromModelDir(tiny).withImageSize(size);
        preprocess(pool, pre, files, 64);
        long t0 = System.nanoTime();
        preprocess(pool, pre, files, images);
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "decode + preprocess (HF layout, %d px, %d threads): %,.0f images/s%n", size, cores, images / s);
      }
      try (Ops ops = Devices.open(DeviceChoice.parse(device), EngineConfig.fromSystemProperties())) {
        run("clip-tiny-hf", ClipModel.load(tiny, ops), ClipImagePreprocessor.fromModelDir(tiny), pool, files, images, batch, ops);
      }
      try (Ops ops = Devices.open(DeviceChoice.parse(device), EngineConfig.fromSystemProperties())) {
        ClipModel vitB32 = RandomClip.vitB32(ops, tiny);
        run("ViT-B/32 shape (random f16)", vitB32, ClipImagePreprocessor.fromModelDir(tiny).withImageSize(224), pool, files, images, batch, ops);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private static void run(String name, ClipModel clip, ClipImagePreprocessor pre, ExecutorService pool, List<byte[]> files, int images,
                          int batch, Ops ops) throws Exception {
    float[][] px = preprocess(pool, pre, files, batch);
    clip.encodeImages(px); // warm-up
    long t0 = System.nanoTime();
    for (int done = 0; done < images; done += batch) clip.encodeImages(px);
    double model = (System.nanoTime() - t0) / 1e9;
    // end to end: the next batch is decoded and preprocessed on the pool while the engine runs this one
    t0 = System.nanoTime();
    Future<float[][]> next = pool.submit(() -> preprocess(pool, pre, files, batch));
    for (int done = 0; done < images; done += batch) {
      float[][] cur = next.get();
      if (done + batch < images) next = pool.submit(() -> preprocess(pool, pre, files, batch));
      clip.encodeImages(cur);
    }
    double e2e = (System.nanoTime() - t0) / 1e9;
    int rounded = (images + batch - 1) / batch * batch;
    System.out.printf(Locale.ROOT, "%-28s on %s: vision tower %,.1f images/s; end to end (files to embeddings) %,.1f images/s%n",
        name, ops.device(), rounded / model, rounded / e2e);
  }

  /** {@code n} images (the files cycled), decoded and preprocessed in parallel (the calling thread may be a pool thread). */
  static float[][] preprocess(ExecutorService pool, ClipImagePreprocessor pre, List<byte[]> files, int n) throws Exception {
    float[][] out = new float[n][];
    java.util.stream.IntStream.range(0, n).parallel().forEach(i -> out[i] = pre.preprocess(files.get(i % files.size())));
    return out;
  }

  /**
   * A CLIP of openai/clip-vit-base-patch32's shapes with random f16 weights, made here (no download): in memory, or as a
   * Hugging Face CLIPModel folder that the jobs and transformers' {@code CLIPModel.from_pretrained} both load.
   */
  public static final class RandomClip {
    /** openai/clip-vit-base-patch32's config.json, less what the shapes do not need. */
    public static final String VIT_B32_CONFIG = """
        {"model_type": "clip", "architectures": ["CLIPModel"], "projection_dim": 512,
         "text_config": {"hidden_size": 512, "intermediate_size": 2048, "num_attention_heads": 8, "num_hidden_layers": 12,
                         "max_position_embeddings": 77, "vocab_size": 49408, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
                         "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1},
         "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
                           "image_size": 224, "patch_size": 32, "num_channels": 3, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}}
        """;

    /** openai/clip-vit-base-patch32's preprocessor_config.json (bicubic resize of the short side to 224, centre crop). */
    public static final String VIT_B32_PREPROCESSOR = """
        {"image_processor_type": "CLIPImageProcessor", "do_resize": true, "size": {"shortest_edge": 224}, "resample": 3,
         "do_center_crop": true, "crop_size": {"height": 224, "width": 224}, "do_rescale": true, "rescale_factor": 0.00392156862745098,
         "do_normalize": true, "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
         "do_convert_rgb": true}
        """;

    static ClipModel vitB32(Ops ops, Path anyClipFolder) throws Exception {
      Path dir = Files.createTempDirectory("vit-b32-");
      Files.writeString(dir.resolve("config.json"), VIT_B32_CONFIG);
      return ClipModel.load(dir, ops, new Random16(dir));
    }

    /**
     * Writes a ViT-B/32-shaped CLIPModel folder into {@code dir}: config.json, model.safetensors (random F16, about
     * 300 MB), preprocessor_config.json, and the tokenizer files (vocab.json, merges.txt, tokenizer_config.json) copied
     * from {@code tokenizerFrom}, a Hugging Face CLIP folder (every CLIP shares the vocabulary of 49,408).
     */
    public static Path writeVitB32(Path dir, Path tokenizerFrom) throws java.io.IOException {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("config.json"), VIT_B32_CONFIG);
      Files.writeString(dir.resolve("preprocessor_config.json"), VIT_B32_PREPROCESSOR);
      for (String f : new String[] {"vocab.json", "merges.txt", "tokenizer_config.json"}) {
        Path from = tokenizerFrom.resolve(f);
        if (Files.isRegularFile(from)) Files.copy(from, dir.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        else if (!f.equals("tokenizer_config.json")) throw new IllegalArgumentException(tokenizerFrom + " has no " + f + " to copy");
      }
      dev.sparkinfer.models.weights.SafeTensorsWriter.writeF16(dir.resolve("model.safetensors"), new Random16(dir));
      return dir;
    }
  }

  /** Random f16 tensors under CLIPModel's names, shaped as config.json asks (norm weights near 1, biases small). */
  static final class Random16 implements WeightSource {
    private final Map<String, long[]> shapes = new HashMap<>();
    private final SplittableRandom rnd = new SplittableRandom(1);

    Random16(Path dir) {
      var c = dev.sparkinfer.models.clip.ClipConfig.read(dir);
      int tw = c.text().width(), vw = c.vision().width(), p = c.patchSize();
      shapes.put("logit_scale", new long[] {});
      shapes.put("text_model.embeddings.token_embedding.weight", new long[] {c.vocabSize(), tw});
      shapes.put("text_model.embeddings.position_embedding.weight", new long[] {c.contextLength(), tw});
      shapes.put("text_model.final_layer_norm.weight", new long[] {tw});
      shapes.put("text_model.final_layer_norm.bias", new long[] {tw});
      shapes.put("vision_model.embeddings.class_embedding", new long[] {vw});
      shapes.put("vision_model.embeddings.patch_embedding.weight", new long[] {vw, 3, p, p});
      shapes.put("vision_model.embeddings.position_embedding.weight", new long[] {c.patches() + 1, vw});
      for (String n : new String[] {"pre_layrnorm", "post_layernorm"}) {
        shapes.put("vision_model." + n + ".weight", new long[] {vw});
        shapes.put("vision_model." + n + ".bias", new long[] {vw});
      }
      shapes.put("text_projection.weight", new long[] {c.projection(), tw});
      shapes.put("visual_projection.weight", new long[] {c.projection(), vw});
      block("text_model.", c.text());
      block("vision_model.", c.vision());
    }

    private void block(String tower, dev.sparkinfer.models.clip.ClipConfig.Tower t) {
      int d = t.width();
      for (int l = 0; l < t.layers(); l++) {
        String b = tower + "encoder.layers." + l + ".";
        for (String n : new String[] {"layer_norm1", "layer_norm2"}) {
          shapes.put(b + n + ".weight", new long[] {d});
          shapes.put(b + n + ".bias", new long[] {d});
        }
        for (String n : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
          shapes.put(b + "self_attn." + n + ".weight", new long[] {d, d});
          shapes.put(b + "self_attn." + n + ".bias", new long[] {d});
        }
        shapes.put(b + "mlp.fc1.weight", new long[] {t.ffn(), d});
        shapes.put(b + "mlp.fc1.bias", new long[] {t.ffn()});
        shapes.put(b + "mlp.fc2.weight", new long[] {d, t.ffn()});
        shapes.put(b + "mlp.fc2.bias", new long[] {d});
      }
    }

    @Override public Set<String> names() { return shapes.keySet(); }
    @Override public boolean has(String name) { return shapes.containsKey(name); }
    @Override public long[] shape(String name) { return shapes.get(name).clone(); }
    @Override public DType dtype(String name) { return DType.F16; }

    @Override
    public float[] floats(String name) {
      long[] s = shapes.get(name);
      int n = 1;
      for (long d : s) n *= (int) d;
      float[] f = new float[n];
      boolean norm = name.contains("norm") && name.endsWith(".weight");
      for (int i = 0; i < n; i++) f[i] = name.equals("logit_scale") ? 4.6f : norm ? 1f + 0.1f * (float) (rnd.nextDouble() - 0.5) : 0.02f * (float) (rnd.nextDouble() * 2 - 1);
      return f;
    }

    @Override
    public char[] bits16(String name) {
      float[] f = floats(name);
      char[] h = new char[f.length];
      for (int i = 0; i < f.length; i++) h[i] = dev.sparkinfer.kernels.DType.F16.fromFloat(f[i]);
      return h;
    }

    @Override public long[] longs(String name) { throw new UnsupportedOperationException(name); }
    @Override public String origin() { return "random ViT-B/32-shaped CLIP"; }
  }
}
