package dev.sparkinfer.models.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.Activation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A CLIP model's config.json (Hugging Face CLIPModel): the two towers' shapes and the shared projection width. */
public record ClipConfig(Tower text, Tower vision, int projection, int vocabSize, int contextLength, int eosTokenId,
                         int imageSize, int patchSize) {
  /** One transformer tower. */
  public record Tower(int width, int layers, int heads, int ffn, float eps, Activation act) {
    public int headDim() { return width / heads; }
  }

  public int patches() { return (imageSize / patchSize) * (imageSize / patchSize); }

  public static ClipConfig read(Path dir) {
    Path file = dir.resolve("config.json");
    JsonNode c;
    try {
      c = new ObjectMapper().readTree(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read the model's config.json (" + e.getMessage() + ")", e);
    }
    if (!"clip".equals(c.path("model_type").asText())) throw new IllegalArgumentException(file + ": model_type is '" + c.path("model_type").asText() + "', not clip");
    JsonNode t = c.path("text_config"), v = c.path("vision_config");
    int proj = c.path("projection_dim").asInt(512);
    return new ClipConfig(tower(file, t, 512, 8, 12), tower(file, v, 768, 12, 12), proj, t.path("vocab_size").asInt(49408),
        t.path("max_position_embeddings").asInt(77), t.path("eos_token_id").asInt(49407), v.path("image_size").asInt(224),
        v.path("patch_size").asInt(32));
  }

  /**
   * The vision tower of a {@code vision_config} on its own (LLaVA nests one): HF CLIPVisionConfig's defaults (ViT-B/32)
   * for what it leaves out.
   */
  public static Tower visionTower(Path file, JsonNode visionConfig) { return tower(file, visionConfig, 768, 12, 12); }

  private static Tower tower(Path file, JsonNode n, int width, int heads, int layers) {
    int w = n.path("hidden_size").asInt(width), h = n.path("num_attention_heads").asInt(heads);
    if (w % h != 0) throw new IllegalArgumentException(file + ": hidden_size " + w + " is not a multiple of num_attention_heads " + h);
    String act = n.path("hidden_act").asText("quick_gelu");
    Activation a = switch (act) {
      case "quick_gelu" -> Activation.QUICK_GELU;
      case "gelu" -> Activation.GELU_ERF;
      default -> throw new IllegalArgumentException(file + ": hidden_act '" + act + "' is not supported (quick_gelu, gelu)");
    };
    return new Tower(w, n.path("num_hidden_layers").asInt(layers), h, n.path("intermediate_size").asInt(4 * w),
        (float) n.path("layer_norm_eps").asDouble(1e-5), a);
  }
}
