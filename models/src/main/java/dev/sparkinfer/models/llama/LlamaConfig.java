package dev.sparkinfer.models.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.Rope;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * config.json of the LLaMA family (Hugging Face LlamaForCausalLM, MistralForCausalLM, MixtralForCausalLM).
 *
 * @param window   sliding-window attention (Mistral, Mixtral): 0 when none
 * @param experts  experts of the sparse MoE feed-forward (Mixtral): 0 for a dense SwiGLU feed-forward
 * @param topExperts experts each token is routed to
 * @param scaling  the {@code llama3} rope_scaling, or null
 */
public record LlamaConfig(String type, int vocabSize, int dim, int ffn, int layers, int heads, int kvHeads, int headDim,
                          float eps, double theta, Rope.Llama3Scaling scaling, int positions, boolean tied,
                          boolean attentionBias, int window, int experts, int topExperts) {
  public int qDim() { return heads * headDim; }

  public int kvDim() { return kvHeads * headDim; }

  public static LlamaConfig read(Path dir) {
    Path file = dir.resolve("config.json");
    JsonNode c;
    try {
      c = new ObjectMapper().readTree(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read the model's config.json (" + e.getMessage() + ")", e);
    }
    return of(c, file.toString());
  }

  /** From a parsed config ({@code origin} names it in errors), e.g. the {@code text_config} a LLaVA config nests. */
  public static LlamaConfig of(JsonNode c, String file) {
    String type = c.path("model_type").asText();
    if (!type.equals("llama") && !type.equals("mistral") && !type.equals("mixtral")) {
      throw new IllegalArgumentException(file + ": model_type is '" + type + "', not llama, mistral or mixtral");
    }
    String act = c.path("hidden_act").asText("silu");
    if (!act.equals("silu")) throw new IllegalArgumentException(file + ": hidden_act '" + act + "' is not supported (silu)");
    if (c.path("mlp_bias").asBoolean(false)) throw new IllegalArgumentException(file + ": mlp_bias true is not supported");
    int dim = c.path("hidden_size").asInt(), heads = c.path("num_attention_heads").asInt();
    int kvHeads = c.path("num_key_value_heads").asInt(heads);
    int headDim = c.path("head_dim").isNumber() ? c.path("head_dim").asInt() : dim / heads;
    if (dim <= 0 || heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || headDim <= 0 || headDim % 2 != 0) {
      throw new IllegalArgumentException(file + ": inconsistent attention shape: hidden_size " + dim + ", heads " + heads
          + ", key/value heads " + kvHeads + ", head_dim " + headDim);
    }
    Rope.Llama3Scaling scaling = null;
    JsonNode rs = c.path("rope_scaling");
    if (rs.isObject()) {
      String rt = rs.path("rope_type").asText(rs.path("type").asText());
      if (!rt.equals("llama3")) throw new IllegalArgumentException(file + ": rope_scaling type '" + rt + "' is not supported (llama3)");
      scaling = new Rope.Llama3Scaling(rs.path("factor").asDouble(), rs.path("low_freq_factor").asDouble(),
          rs.path("high_freq_factor").asDouble(), rs.path("original_max_position_embeddings").asInt());
    }
    int window = c.path("sliding_window").isNumber() ? c.path("sliding_window").asInt() : 0;
    int experts = c.path("num_local_experts").asInt(0), top = c.path("num_experts_per_tok").asInt(0);
    if (experts > 0 && (top <= 0 || top > experts)) throw new IllegalArgumentException(file + ": num_experts_per_tok " + top + " of " + experts + " experts");
    return new LlamaConfig(type, c.path("vocab_size").asInt(), dim, c.path("intermediate_size").asInt(), c.path("num_hidden_layers").asInt(),
        heads, kvHeads, headDim, (float) c.path("rms_norm_eps").asDouble(1e-5), c.path("rope_theta").asDouble(10000), scaling,
        c.path("max_position_embeddings").asInt(), c.path("tie_word_embeddings").asBoolean(false),
        c.path("attention_bias").asBoolean(false), window, experts, top);
  }
}
