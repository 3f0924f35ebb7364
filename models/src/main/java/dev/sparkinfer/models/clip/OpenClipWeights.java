package dev.sparkinfer.models.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.Activation;
import dev.sparkinfer.models.weights.DType;
import dev.sparkinfer.models.weights.SafeTensors;
import dev.sparkinfer.models.weights.WeightSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An OpenCLIP / OpenAI checkpoint ({@code open_clip_model.safetensors}, {@code open_clip_config.json}) seen under the
 * Hugging Face CLIPModel names {@link ClipModel} reads: the fused attention {@code in_proj_weight} [3d, d] split into
 * q, k and v rows, the projections {@code visual.proj} / {@code text_projection} ([width, embed]) transposed, the other
 * tensors renamed (the table below, in the checkpoint's own naming).
 */
final class OpenClipWeights implements WeightSource {
  private final SafeTensors w;

  private OpenClipWeights(SafeTensors w) { this.w = w; }

  static boolean isOpenClip(Path dir) {
    return Files.isRegularFile(dir.resolve("open_clip_config.json")) && Files.isRegularFile(dir.resolve("open_clip_model.safetensors"));
  }

  static OpenClipWeights open(Path dir) { return new OpenClipWeights(SafeTensors.open(dir.resolve("open_clip_model.safetensors"))); }

  /** The model_cfg of open_clip_config.json as a ClipConfig (vision heads = width / 64, OpenCLIP's head width). */
  static ClipConfig config(Path dir) {
    Path file = dir.resolve("open_clip_config.json");
    JsonNode m;
    try {
      m = new ObjectMapper().readTree(Files.readAllBytes(file)).path("model_cfg");
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read it (" + e.getMessage() + ")", e);
    }
    JsonNode v = m.path("vision_cfg"), t = m.path("text_cfg");
    Activation act = m.path("quick_gelu").asBoolean(false) ? Activation.QUICK_GELU : Activation.GELU_ERF;
    int vw = v.path("width").asInt(768), tw = t.path("width").asInt(512);
    double ratio = v.path("mlp_ratio").asDouble(4.0);
    ClipConfig.Tower vision = new ClipConfig.Tower(vw, v.path("layers").asInt(12), vw / v.path("head_width").asInt(64),
        (int) (vw * ratio), 1e-5f, act);
    ClipConfig.Tower text = new ClipConfig.Tower(tw, t.path("layers").asInt(12), t.path("heads").asInt(8),
        (int) (tw * t.path("mlp_ratio").asDouble(4.0)), 1e-5f, act);
    return new ClipConfig(text, vision, m.path("embed_dim").asInt(512), t.path("vocab_size").asInt(49408),
        t.path("context_length").asInt(77), 49407, v.path("image_size").asInt(224), v.path("patch_size").asInt(32));
  }

  /** A name ClipModel asks for, as (checkpoint tensor, rows slice of 3 (q 0, k 1, v 2) or -1, transposed). */
  private record Source(String name, int third, boolean transposed) {}

  /** The names outside the towers. */
  private static final Map<String, Source> TOP = Map.of(
      "logit_scale", new Source("logit_scale", -1, false),
      "text_projection.weight", new Source("text_projection", -1, true),
      "visual_projection.weight", new Source("visual.proj", -1, true));

  /** Each tower's own tensors (after {@link ClipModel#TEXT} / {@link ClipModel#VISION}), outside its blocks. */
  private static final Map<String, String> TEXT_PARTS = Map.of(
      "embeddings.token_embedding.weight", "token_embedding.weight",
      "embeddings.position_embedding.weight", "positional_embedding",
      "final_layer_norm.weight", "ln_final.weight",
      "final_layer_norm.bias", "ln_final.bias");
  private static final Map<String, String> VISION_PARTS = Map.of(
      "embeddings.position_embedding.weight", "visual.positional_embedding",
      "embeddings.class_embedding", "visual.class_embedding",
      "embeddings.patch_embedding.weight", "visual.conv1.weight",
      "pre_layrnorm.weight", "visual.ln_pre.weight",
      "pre_layrnorm.bias", "visual.ln_pre.bias",
      "post_layernorm.weight", "visual.ln_post.weight",
      "post_layernorm.bias", "visual.ln_post.bias");

  /** A block's tensors (after {@code encoder.layers.N.}), as parts of OpenCLIP's block (after {@code transformer.resblocks.N.}). */
  private static final Map<String, Source> BLOCK = Map.ofEntries(
      Map.entry("layer_norm1.weight", new Source("ln_1.weight", -1, false)),
      Map.entry("layer_norm1.bias", new Source("ln_1.bias", -1, false)),
      Map.entry("layer_norm2.weight", new Source("ln_2.weight", -1, false)),
      Map.entry("layer_norm2.bias", new Source("ln_2.bias", -1, false)),
      Map.entry("self_attn.q_proj.weight", new Source("attn.in_proj_weight", 0, false)),
      Map.entry("self_attn.k_proj.weight", new Source("attn.in_proj_weight", 1, false)),
      Map.entry("self_attn.v_proj.weight", new Source("attn.in_proj_weight", 2, false)),
      Map.entry("self_attn.q_proj.bias", new Source("attn.in_proj_bias", 0, false)),
      Map.entry("self_attn.k_proj.bias", new Source("attn.in_proj_bias", 1, false)),
      Map.entry("self_attn.v_proj.bias", new Source("attn.in_proj_bias", 2, false)),
      Map.entry("self_attn.out_proj.weight", new Source("attn.out_proj.weight", -1, false)),
      Map.entry("self_attn.out_proj.bias", new Source("attn.out_proj.bias", -1, false)),
      Map.entry("mlp.fc1.weight", new Source("mlp.c_fc.weight", -1, false)),
      Map.entry("mlp.fc1.bias", new Source("mlp.c_fc.bias", -1, false)),
      Map.entry("mlp.fc2.weight", new Source("mlp.c_proj.weight", -1, false)),
      Map.entry("mlp.fc2.bias", new Source("mlp.c_proj.bias", -1, false)));

  private static Source source(String hf) {
    Source top = TOP.get(hf);
    if (top != null) return top;
    boolean text = hf.startsWith(ClipModel.TEXT);
    if (!text && !hf.startsWith(ClipModel.VISION)) throw new IllegalArgumentException("no OpenCLIP tensor for " + hf);
    String rest = hf.substring((text ? ClipModel.TEXT : ClipModel.VISION).length());
    String part = (text ? TEXT_PARTS : VISION_PARTS).get(rest);
    if (part != null) return new Source(part, -1, false);
    String[] parts = rest.startsWith("encoder.layers.") ? rest.substring("encoder.layers.".length()).split("\\.", 2) : null;
    Source in = parts == null || parts.length < 2 ? null : BLOCK.get(parts[1]);
    if (in == null) throw new IllegalArgumentException("no OpenCLIP tensor for " + hf);
    return new Source((text ? "" : "visual.") + "transformer.resblocks." + parts[0] + "." + in.name(), in.third(), false);
  }

  /**
   * The Hugging Face names this checkpoint answers to (the ones {@link ClipModel} reads; a fused in_proj is three), so
   * that what is counted by name (the weights a model reserves room for) is what is read.
   */
  @Override
  public Set<String> names() {
    Set<String> out = new TreeSet<>(TOP.keySet());
    for (String n : TEXT_PARTS.keySet()) out.add(ClipModel.TEXT + n);
    for (String n : VISION_PARTS.keySet()) out.add(ClipModel.VISION + n);
    Pattern block = Pattern.compile("(visual\\.)?transformer\\.resblocks\\.(\\d+)\\..*");
    for (String stored : w.names()) {
      Matcher m = block.matcher(stored);
      if (!m.matches()) continue;
      String prefix = (m.group(1) == null ? ClipModel.TEXT : ClipModel.VISION) + "encoder.layers." + m.group(2) + ".";
      for (String what : BLOCK.keySet()) out.add(prefix + what);
    }
    out.removeIf(n -> !has(n));
    return out;
  }

  @Override public boolean has(String name) { return w.has(source(name).name()); }

  @Override
  public long[] shape(String name) {
    Source s = source(name);
    long[] shape = w.shape(s.name());
    if (s.third() >= 0) shape[0] /= 3;
    if (s.transposed()) shape = new long[] {shape[1], shape[0]};
    return shape;
  }

  @Override public DType dtype(String name) { return w.dtype(source(name).name()); }

  @Override
  public float[] floats(String name) {
    Source s = source(name);
    float[] all = w.floats(s.name());
    int[] from = order(s, all.length);
    if (from == null) return all;
    float[] out = new float[from.length];
    for (int i = 0; i < out.length; i++) out[i] = all[from[i]];
    return out;
  }

  @Override
  public char[] bits16(String name) {
    Source s = source(name);
    char[] all = w.bits16(s.name());
    int[] from = order(s, all.length);
    if (from == null) return all;
    char[] out = new char[from.length];
    for (int i = 0; i < out.length; i++) out[i] = all[from[i]];
    return out;
  }

  /**
   * Where each element of our tensor comes from in the stored one (of {@code length} elements): one third of a fused
   * in_proj, or the transpose of a 2-D weight; null when it is the stored tensor as it is.
   */
  private int[] order(Source s, int length) {
    if (s.third() >= 0) {
      int n = length / 3;
      int[] from = new int[n];
      for (int i = 0; i < n; i++) from[i] = s.third() * n + i;
      return from;
    }
    if (s.transposed()) {
      long[] shape = w.shape(s.name());
      int r = (int) shape[0], c = (int) shape[1];
      int[] from = new int[length];
      for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) from[j * r + i] = i * c + j;
      return from;
    }
    return null;
  }

  @Override public long[] longs(String name) { return w.longs(source(name).name()); }

  @Override public String origin() { return w.origin(); }

  @Override public void close() { w.close(); }
}
