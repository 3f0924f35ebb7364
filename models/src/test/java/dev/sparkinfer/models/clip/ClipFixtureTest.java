package dev.sparkinfer.models.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.Fixtures;
import dev.sparkinfer.models.weights.SafeTensors;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Both CLIP towers against OpenAI's clip/model.py on clip-tiny-hf (HF naming) and clip-tiny-openclip (OpenCLIP naming,
 * fused in_proj; the same f16 weights), on every engine, from each fixture's own preprocessed pixels and token ids: image and text embeddings and logits_per_image within 1e-4 x max(1, |value|).
 */
class ClipFixtureTest {
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"clip-tiny-hf java", "clip-tiny-openclip java", "clip-tiny-hf cpu", "clip-tiny-openclip cpu",
      "clip-tiny-hf opencl", "clip-tiny-openclip opencl"})
  void towersMatchTheReference(String fixtureAndEngine) {
    String fixture = fixtureAndEngine.split(" ")[0], engine = fixtureAndEngine.split(" ")[1];
    Path dir = Fixtures.require(fixture);
    if (engine.equals("opencl")) assumeTrue(Devices.openclRuns() || Boolean.getBoolean("sparkinfer.requireOpenCL"), "no OpenCL device");
    try (Ops ops = Devices.open(DeviceChoice.parse(engine), EngineConfig.defaults().withCpuThreads(2));
         SafeTensors want = SafeTensors.open(dir.resolve("expected.safetensors"))) {
      // the engine asked for is the one that runs (opencl is strict: a kernel falling back to Java threads throws)
      assertEquals(engine.equals("java") ? "java" : engine, ops.device().kind(), "engine " + ops.device());
      ClipModel clip = ClipModel.load(dir, ops);
      int n = 6, size = clip.config().imageSize(), px = 3 * size * size;
      float[] pixels = want.floats("pixel_values");
      float[][] images = new float[n][];
      for (int i = 0; i < n; i++) images[i] = java.util.Arrays.copyOfRange(pixels, i * px, (i + 1) * px);
      long[] idsFlat = want.longs("input_ids");
      int[][] ids = new int[n][77];
      for (int i = 0; i < n; i++) for (int j = 0; j < 77; j++) ids[i][j] = (int) idsFlat[i * 77 + j];
      float[][] img = clip.encodeImages(images), txt = clip.encodeTexts(ids);
      // the whole path too: image files, this layout's preprocessing, the tower; texts through the CLIP tokenizer
      var pre = dev.sparkinfer.models.image.ClipImagePreprocessor.fromModelDir(dir);
      var json = new com.fasterxml.jackson.databind.ObjectMapper();
      com.fasterxml.jackson.databind.JsonNode meta;
      try {
        meta = json.readTree(java.nio.file.Files.readAllBytes(dir.resolve("expected.json")));
        float[][] fromFiles = new float[n][];
        for (int i = 0; i < n; i++) {
          fromFiles[i] = pre.preprocess(java.nio.file.Files.readAllBytes(dir.resolve(meta.path("image_dir").asText()).resolve(meta.path("images").get(i).asText())));
        }
        compare(fixture + " image_embeds from the image files on " + engine, want.floats("image_embeds"), clip.encodeImages(fromFiles));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      Path tokDir = Fixtures.require("clip-tiny-hf"); // the same vocabulary in both layouts
      ClipTokenizer tok = ClipTokenizer.fromVocabAndMerges(tokDir.resolve("vocab.json"), tokDir.resolve("merges.txt"));
      int[][] fromText = new int[n][];
      for (int i = 0; i < n; i++) fromText[i] = tok.context(meta.path("texts").get(i).asText(), null);
      compare(fixture + " text_embeds from the texts on " + engine, want.floats("text_embeds"), clip.encodeTexts(fromText));
      compare(fixture + " image_embeds on " + engine, want.floats("image_embeds"), img);
      compare(fixture + " text_embeds on " + engine, want.floats("text_embeds"), txt);
      float[] logits = want.floats("logits_per_image");
      float[][] ours = new float[n][n];
      for (int i = 0; i < n; i++) for (int t = 0; t < n; t++) ours[i][t] = (float) (clip.logitScale() * ClipModel.cosine(img[i], txt[t]));
      compare(fixture + " logits_per_image on " + engine, logits, ours);
    }
  }

  /**
   * The loader reserves room for its weights before loading: the 16-bit ones (all of them; with --quantize int8 or int4
   * all but the blocks' Linear weights, which it reserves as bytes): the banks do not grow by half again. OpenCLIP's
   * weights answer to the names
   * the model reads, and those names cover every stored 16-bit value (the fused in_proj as q, k and v).
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"clip-tiny-hf java none", "clip-tiny-openclip java none", "clip-tiny-hf cpu none",
      "clip-tiny-openclip cpu none", "clip-tiny-hf cpu int8", "clip-tiny-openclip cpu int8", "clip-tiny-hf java int4"})
  void weightsFitWhatTheLoaderReserved(String fixtureEngineQuantize) {
    String[] a = fixtureEngineQuantize.split(" ");
    Path dir = Fixtures.require(a[0]);
    var q = dev.sparkinfer.kernels.Quantization.parse(a[2]);
    boolean openClip = OpenClipWeights.isOpenClip(dir);
    try (Ops ops = Devices.open(DeviceChoice.parse(a[1]), EngineConfig.defaults().withCpuThreads(2));
         dev.sparkinfer.models.weights.WeightSource w = openClip ? OpenClipWeights.open(dir) : SafeTensors.openModelDir(dir)) {
      ClipModel.load(dir, ops, q, dev.sparkinfer.kernels.Pruning.NONE);
      java.util.regex.Pattern blockLinear = java.util.regex.Pattern.compile(".*encoder\\.layers\\.\\d+\\.(self_attn\\.\\w+_proj|mlp\\.fc[12])\\.weight");
      dev.sparkinfer.models.Reservations.assertBanksFit(ops, w, q,
          n -> q != dev.sparkinfer.kernels.Quantization.NONE && blockLinear.matcher(n).matches() ? dev.sparkinfer.models.weights.WeightMemory.Load.QUANTIZED : dev.sparkinfer.models.weights.WeightMemory.Load.LINEAR,
          fixtureEngineQuantize);
      if (openClip) {
        try (SafeTensors stored = SafeTensors.open(dir.resolve("open_clip_model.safetensors"))) {
          assertEquals(elements16(stored, stored.names()), elements16(w, w.names()), "16-bit values under the names ClipModel reads");
        }
      }
    }
  }

  private static long elements16(dev.sparkinfer.models.weights.WeightSource w, java.util.Set<String> names) {
    long n = 0;
    for (String name : names) {
      var t = w.dtype(name);
      if (t != dev.sparkinfer.models.weights.DType.F16 && t != dev.sparkinfer.models.weights.DType.BF16) continue;
      long e = 1;
      for (long d : w.shape(name)) e *= d;
      n += e;
    }
    return n;
  }

  /**
   * A caption's embedding is the same bits whatever batch it comes in: the text tower runs length-sorted groups of a
   * batch, each padded to its own longest, and 60 captions of 2 to 77 tokens (several groups) give what each gives
   * beside 31 captions of 77 tokens (32 rows into the projection, groups of 256 rows or more: the CPU engine's 16-bit
   * Linear sums each row in one order whatever the row count).
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"java", "cpu"})
  void textEmbeddingsDoNotDependOnTheBatch(String engine) {
    Path dir = Fixtures.require("clip-tiny-hf");
    try (Ops ops = Devices.open(DeviceChoice.parse(engine), EngineConfig.defaults().withCpuThreads(2))) {
      ClipModel clip = ClipModel.load(dir, ops);
      ClipConfig c = clip.config();
      java.util.Random r = new java.util.Random(5);
      int n = 60, rows = 0;
      int[][] ids = new int[n][];
      for (int i = 0; i < n; i++) {
        int len = i % 7 == 0 ? c.contextLength() : 2 + r.nextInt(i % 3 == 0 ? c.contextLength() - 1 : 12);
        ids[i] = new int[len + r.nextInt(3)]; // sometimes padding after the EOT, as the tokenizer's context gives
        for (int j = 0; j < len - 1; j++) {
          int t;
          do t = r.nextInt(c.vocabSize()); while (t == c.eosTokenId());
          ids[i][j] = t;
        }
        ids[i][len - 1] = c.eosTokenId();
        rows += len;
      }
      assertTrue(rows > 2 * ClipModel.GROUP_ROWS, "several groups: " + rows + " rows");
      float[][] all = clip.encodeTexts(ids);
      for (int i = 0; i < n; i++) {
        int[][] batch = new int[32][];
        java.util.Arrays.fill(batch, ids[0]); // 77 tokens
        batch[0] = ids[i];
        float[] beside = clip.encodeTexts(batch)[0];
        assertTrue(java.util.Arrays.equals(all[i], beside), "caption " + i + " (" + ids[i].length + " ids) on " + engine);
      }
    }
  }

  private static void compare(String what, float[] want, float[][] got) {
    int w = got[0].length;
    assertEquals(want.length, got.length * w, what + ": size");
    double worst = 0;
    for (int i = 0; i < got.length; i++) {
      for (int j = 0; j < w; j++) {
        double ref = want[i * w + j], err = Math.abs(ref - got[i][j]) / Math.max(1, Math.abs(ref));
        worst = Math.max(worst, err);
        assertTrue(err <= 1e-4, what + "[" + i + "][" + j + "]: " + got[i][j] + ", reference " + ref);
      }
    }
    System.out.printf("%s: max relative |diff| %.3g%n", what, worst);
  }
}
