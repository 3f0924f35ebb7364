package dev.sparkinfer.models.llava;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sparkinfer.kernels.Activation;
import dev.sparkinfer.models.clip.ClipConfig;
import dev.sparkinfer.models.llama.LlamaConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * config.json of a Hugging Face {@code LlavaForConditionalGeneration}: a CLIP vision tower ({@code vision_config}), a
 * LLaMA language model ({@code text_config}) and the projector between them.
 *
 * @param featureLayers   {@code vision_feature_layer}: the vision hidden states whose patches feed the projector, as HF
 *                        indexes {@code hidden_states} (0 the embeddings after the pre-LayerNorm, k the output of
 *                        block k; negative from the end: -1 the last block's, -2 the one before); several are
 *                        concatenated along the features
 * @param keepClassToken  {@code vision_feature_select_strategy} {@code full}; {@code default} drops the class token
 * @param projectorAct    {@code projector_hidden_act} between linear_1 and linear_2 ({@code gelu}: the exact erf GELU)
 * @param imageToken      {@code image_token_index}: the id whose positions take the image features
 * @param projectorBias   {@code multimodal_projector_bias}
 */
public record LlavaConfig(ClipConfig.Tower vision, int imageSize, int patchSize, LlamaConfig text, int[] featureLayers,
                          boolean keepClassToken, Activation projectorAct, int imageToken, boolean projectorBias) {
  /** The feature layers as non-negative indices of hidden_states (0 .. vision layers). */
  public int[] hiddenStateIndices() {
    int[] k = new int[featureLayers.length];
    for (int i = 0; i < k.length; i++) k[i] = featureLayers[i] < 0 ? vision.layers() + 1 + featureLayers[i] : featureLayers[i];
    return k;
  }

  /** Vision blocks the features need (the deepest feature layer); the blocks after it never run. */
  public int visionBlocksUsed() { return Arrays.stream(hiddenStateIndices()).max().orElseThrow(); }

  /** Patches per image. */
  public int patches() { return (imageSize / patchSize) * (imageSize / patchSize); }

  /** Image positions (and projected features) per image: one per patch, plus the class token's under {@code full}. */
  public int tokensPerImage() { return patches() + (keepClassToken ? 1 : 0); }

  /** Width of what the projector reads: the vision width times the number of feature layers. */
  public int projectorIn() { return vision.width() * featureLayers.length; }

  public static LlavaConfig read(Path dir) {
    Path file = dir.resolve("config.json");
    JsonNode c;
    try {
      c = new ObjectMapper().readTree(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read the model's config.json (" + e.getMessage() + ")", e);
    }
    if (!"llava".equals(c.path("model_type").asText())) throw new IllegalArgumentException(file + ": model_type is '" + c.path("model_type").asText() + "', not llava");
    JsonNode v = c.path("vision_config");
    String vt = v.path("model_type").asText("clip_vision_model");
    if (!vt.equals("clip_vision_model")) throw new IllegalArgumentException(file + ": vision_config model_type '" + vt + "' is not supported (clip_vision_model)");
    ClipConfig.Tower vision = ClipConfig.visionTower(file, v);
    LlamaConfig text = LlamaConfig.of(withLlamaDefaults(c.path("text_config"), c.path("tie_word_embeddings").asBoolean(false)), file + " text_config");
    JsonNode fl = c.path("vision_feature_layer");
    int[] layers;
    if (fl.isArray()) {
      layers = new int[fl.size()];
      for (int i = 0; i < layers.length; i++) layers[i] = fl.get(i).asInt();
    } else {
      layers = new int[] {fl.asInt(-2)};
    }
    if (layers.length == 0) throw new IllegalArgumentException(file + ": vision_feature_layer is an empty list");
    for (int k : layers) {
      if (k < -(vision.layers() + 1) || k > vision.layers()) {
        throw new IllegalArgumentException(file + ": vision_feature_layer " + k + " is outside the vision tower's hidden states 0.." + vision.layers()
            + " (or -1..-" + (vision.layers() + 1) + ")");
      }
    }
    String strategy = c.path("vision_feature_select_strategy").asText("default");
    if (!strategy.equals("default") && !strategy.equals("full")) throw new IllegalArgumentException(file + ": vision_feature_select_strategy '" + strategy + "' is not default or full");
    String act = c.path("projector_hidden_act").asText("gelu");
    Activation a = switch (act) {
      case "gelu" -> Activation.GELU_ERF;
      case "gelu_new", "gelu_pytorch_tanh" -> Activation.GELU_TANH;
      case "quick_gelu" -> Activation.QUICK_GELU;
      case "silu" -> Activation.SILU;
      case "relu" -> Activation.RELU;
      default -> throw new IllegalArgumentException(file + ": projector_hidden_act '" + act + "' is not supported (gelu, gelu_new, quick_gelu, silu, relu)");
    };
    int imageToken = c.has("image_token_index") ? c.path("image_token_index").asInt() : c.path("image_token_id").asInt(32000);
    if (imageToken < 0 || imageToken >= text.vocabSize()) throw new IllegalArgumentException(file + ": image_token_index " + imageToken + " is outside the vocabulary of " + text.vocabSize());
    return new LlavaConfig(vision, v.path("image_size").asInt(224), v.path("patch_size").asInt(32), text, layers,
        strategy.equals("full"), a, imageToken, c.path("multimodal_projector_bias").asBoolean(true));
  }

  /**
   * The text_config with HF LlamaConfig's defaults for what released LLaVA configs leave out (they name only what
   * differs), and tied embeddings when the top-level config ties them.
   */
  private static JsonNode withLlamaDefaults(JsonNode t, boolean tiedAtTop) {
    ObjectNode n = t.isObject() ? ((ObjectNode) t).deepCopy() : new ObjectMapper().createObjectNode();
    if (!n.has("model_type")) n.put("model_type", "llama");
    if (!n.has("vocab_size")) n.put("vocab_size", 32000);
    if (!n.has("hidden_size")) n.put("hidden_size", 4096);
    if (!n.has("intermediate_size")) n.put("intermediate_size", 11008);
    if (!n.has("num_hidden_layers")) n.put("num_hidden_layers", 32);
    if (!n.has("num_attention_heads")) n.put("num_attention_heads", 32);
    if (!n.has("max_position_embeddings")) n.put("max_position_embeddings", 2048);
    if (!n.has("rms_norm_eps")) n.put("rms_norm_eps", 1e-6);
    if (tiedAtTop) n.put("tie_word_embeddings", true);
    return n;
  }
}
