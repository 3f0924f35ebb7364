package dev.sparkinfer.models.llava;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.Fixtures;
import dev.sparkinfer.models.image.ClipImagePreprocessor;
import dev.sparkinfer.models.weights.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * LLaVA against transformers' LlavaForConditionalGeneration on llava-tiny, on every engine, from the image files
 * through the HF CLIP preprocessing: projected image features within 1e-4 x max(1, |value|), the top-20 (id, log-prob)
 * pairs at the last prompt position within 1e-4 x max(1, |log-prob|) (neighbours closer than that may swap), 24 greedy
 * tokens exact; all four images' prompts as one batch, and one prompt alone.
 */
class LlavaFixtureTest {
  static final double TOL = 1e-4;

  /** The fixture's ids are the reference processor's expansion of this prompt (their decoding below says so). */
  static final String PROMPT = "USER: <image>\nDescribe this image. ASSISTANT:";

  @Test
  void promptExpandsToTheReferenceIds() throws Exception {
    Path dir = Fixtures.require("llava-tiny");
    JsonNode meta = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("expected.json")));
    LlavaConfig c = LlavaConfig.read(dir);
    assertEquals(16, c.tokensPerImage());
    assertEquals(1, c.visionBlocksUsed()); // vision_feature_layer -2 of 2 blocks: hidden_states[1]
    LlavaPrompt prompt = LlavaPrompt.load(dir, c);
    int[] want = ids(meta.path("input_ids"));
    assertArrayEquals(want, prompt.encode(PROMPT));
    assertEquals(1, LlavaPrompt.images(PROMPT));
    assertEquals("USER: \nDescribe this image. ASSISTANT:", prompt.decode(want)); // image tokens are special: left out
  }

  /**
   * The loader reserves room for the weights of all three parts (vision tower, projector, language model) before
   * loading any: the banks do not grow by half again when the tower follows the language model. Not counted: the vision
   * blocks after the feature layer and the post-LayerNorm (never loaded); with --quantize int8 or int4 the blocks' and
   * layers' Linear weights count as bytes.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"java none", "cpu none", "cpu int8", "java int4"})
  void weightsFitWhatTheLoaderReserved(String engineQuantize) {
    Path dir = Fixtures.require("llava-tiny");
    String engine = engineQuantize.split(" ")[0];
    var q = dev.sparkinfer.kernels.Quantization.parse(engineQuantize.split(" ")[1]);
    LlavaConfig c = LlavaConfig.read(dir);
    var unused = java.util.regex.Pattern.compile(".*vision_model\\.(post_layernorm\\..*|encoder\\.layers\\.(\\d+)\\..*)");
    var layerLinear = java.util.regex.Pattern.compile(".*layers\\.\\d+\\.(self_attn\\.\\w+_proj|mlp\\.\\w+)\\.weight");
    try (Ops ops = Devices.open(DeviceChoice.parse(engine), EngineConfig.defaults().withCpuThreads(2));
         var w = SafeTensors.openModelDir(dir)) {
      LlavaModel.load(dir, ops, 1, 64, q, dev.sparkinfer.kernels.Pruning.NONE);
      dev.sparkinfer.models.Reservations.assertBanksFit(ops, w, q, n -> {
        var m = unused.matcher(n);
        if (m.matches() && (m.group(2) == null || Integer.parseInt(m.group(2)) >= c.visionBlocksUsed())) return dev.sparkinfer.models.weights.WeightMemory.Load.NONE;
        return q != dev.sparkinfer.kernels.Quantization.NONE && layerLinear.matcher(n).matches() ? dev.sparkinfer.models.weights.WeightMemory.Load.QUANTIZED : dev.sparkinfer.models.weights.WeightMemory.Load.LINEAR;
      }, "llava-tiny on " + engineQuantize);
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"java", "cpu", "opencl"})
  void matchesTheReference(String engine) throws Exception {
    Path dir = Fixtures.require("llava-tiny");
    if (engine.equals("opencl")) assumeTrue(Devices.openclRuns() || Boolean.getBoolean("sparkinfer.requireOpenCL"), "no OpenCL device");
    JsonNode meta = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("expected.json")));
    int n = meta.path("images").size(), k = meta.path("top_k").asInt(), steps = meta.path("greedy_new_tokens").asInt();
    int[] prompt = ids(meta.path("input_ids"));
    ClipImagePreprocessor pre = ClipImagePreprocessor.fromModelDir(dir);
    float[][] pixels = new float[n][];
    for (int i = 0; i < n; i++) {
      pixels[i] = pre.preprocess(Files.readAllBytes(dir.resolve(meta.path("image_dir").asText()).resolve(meta.path("images").get(i).asText())));
    }
    try (Ops ops = Devices.open(DeviceChoice.parse(engine), EngineConfig.defaults().withCpuThreads(2));
         SafeTensors want = SafeTensors.open(dir.resolve("expected.safetensors"))) {
      // the engine asked for is the one that runs (opencl is strict: a kernel falling back to Java threads throws)
      assertEquals(engine, ops.device().kind(), "engine " + ops.device());
      LlavaModel llava = LlavaModel.load(dir, ops, n, prompt.length + steps);
      int vocab = llava.languageModel().vocabSize();
      // projected image features, all images in one pass
      float[][][] features = llava.features(pixels);
      for (int i = 0; i < n; i++) compare("image" + i + "_features on " + engine, want.floats("image" + i + "_features"), features[i]);
      // every image's prompt in one batch: the last position's top-k
      int[][] prompts = new int[n][];
      float[][][] images = new float[n][][];
      for (int i = 0; i < n; i++) {
        prompts[i] = prompt;
        images[i] = new float[][] {pixels[i]};
      }
      float[] logits = llava.prefill(prompts, images);
      LlavaModel.TopK[] top = llava.lastTopK(prompts, images, k);
      for (int i = 0; i < n; i++) {
        compareTopK("image" + i + " last top-" + k + " on " + engine, want.longs("image" + i + "_last_topk_ids"),
            want.floats("image" + i + "_last_topk_logprobs"), java.util.Arrays.copyOfRange(logits, i * vocab, (i + 1) * vocab), top[i]);
      }
      // greedy: all prompts batched, then the last one alone
      int[][] greedy = llava.greedy(prompts, images, steps);
      for (int i = 0; i < n; i++) assertArrayEquals(ids(want.longs("image" + i + "_greedy_ids")), greedy[i], "image" + i + " greedy ids (batched) on " + engine);
      int last = n - 1;
      int[][] alone = llava.greedy(new int[][] {prompt}, new float[][][] {{pixels[last]}}, steps);
      assertArrayEquals(ids(want.longs("image" + last + "_greedy_ids")), alone[0], "image" + last + " greedy ids (alone) on " + engine);
      System.out.printf("llava-tiny greedy ids on %s: all %d images exact (24 tokens each)%n", engine, n);
    }
  }

  /** The same checkpoint as current transformers saves it (model.vision_tower.*, model.language_model.*, ...) gives the same. */
  @Test
  void currentTransformersLayoutGivesTheSame() throws Exception {
    Path dir = Fixtures.require("llava-tiny");
    JsonNode meta = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("expected.json")));
    int[] prompt = ids(meta.path("input_ids"));
    int steps = meta.path("greedy_new_tokens").asInt();
    float[] pixels = ClipImagePreprocessor.fromModelDir(dir).preprocess(
        Files.readAllBytes(dir.resolve(meta.path("image_dir").asText()).resolve(meta.path("images").get(0).asText())));
    try (Ops ops = Devices.open(DeviceChoice.parse("java"), EngineConfig.defaults());
         SafeTensors released = SafeTensors.open(dir.resolve("model.safetensors"));
         SafeTensors want = SafeTensors.open(dir.resolve("expected.safetensors"))) {
      var current = dev.sparkinfer.models.weights.RenamedWeights.of(released, "model.vision_tower.", "vision_tower.",
          "model.multi_modal_projector.", "multi_modal_projector.", "model.language_model.", "language_model.model.");
      assertTrue(current.has("model.language_model.embed_tokens.weight") && !current.has("language_model.model.embed_tokens.weight"));
      LlavaModel llava = LlavaModel.load(dir, ops, current, 1, prompt.length + steps);
      compare("image0_features (current layout)", want.floats("image0_features"), llava.features(new float[][] {pixels})[0]);
      assertArrayEquals(ids(want.longs("image0_greedy_ids")), llava.greedy(new int[][] {prompt}, new float[][][] {{pixels}}, steps)[0]);
    }
  }

  private static int[] ids(JsonNode a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
    return out;
  }

  private static int[] ids(long[] a) {
    int[] out = new int[a.length];
    for (int i = 0; i < out.length; i++) out[i] = Math.toIntExact(a[i]);
    return out;
  }

  private static void compare(String what, float[] want, float[][] got) {
    int w = got[0].length;
    assertEquals(want.length, got.length * w, what + ": size");
    double worst = 0;
    for (int i = 0; i < got.length; i++) {
      for (int j = 0; j < w; j++) {
        double ref = want[i * w + j], err = Math.abs(ref - got[i][j]) / Math.max(1, Math.abs(ref));
        worst = Math.max(worst, err);
        assertTrue(err <= TOL, what + "[" + i + "][" + j + "]: " + got[i][j] + ", reference " + ref);
      }
    }
    System.out.printf("%s: max relative |diff| %.3g%n", what, worst);
  }

  /** Each reference (id, log-prob) pair against our log-prob of that id; our rank-j id is the reference's or as likely. */
  private static void compareTopK(String what, long[] wantIds, float[] wantLp, float[] logits, LlavaModel.TopK ours) {
    double mx = Double.NEGATIVE_INFINITY, sum = 0;
    for (float l : logits) mx = Math.max(mx, l);
    for (float l : logits) sum += Math.exp(l - mx);
    double lse = mx + Math.log(sum), worst = 0;
    for (int j = 0; j < wantIds.length; j++) {
      int id = (int) wantIds[j];
      double ref = wantLp[j], lp = logits[id] - lse, tol = TOL * Math.max(1, Math.abs(ref));
      worst = Math.max(worst, Math.abs(lp - ref));
      assertTrue(Math.abs(lp - ref) <= tol, what + ": rank " + j + " id " + id + ": log-prob " + lp + ", reference " + ref);
      assertTrue(ours.ids()[j] == id || Math.abs(ours.logprobs()[j] - ref) <= tol, what + ": rank " + j + ": id " + ours.ids()[j]
          + " (" + ours.logprobs()[j] + "), reference id " + id + " (" + ref + ")");
    }
    System.out.printf("%s: max |log-prob diff| %.3g%n", what, worst);
  }
}
