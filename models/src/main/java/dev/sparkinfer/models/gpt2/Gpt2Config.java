package dev.sparkinfer.models.gpt2;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.Activation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** GPT-2's config.json (Hugging Face GPT2LMHeadModel). */
public record Gpt2Config(int vocabSize, int positions, int dim, int layers, int heads, int inner, float eps,
                         Activation activation, boolean tied) {
  public int headDim() { return dim / heads; }

  public static Gpt2Config read(Path dir) {
    Path file = dir.resolve("config.json");
    JsonNode c;
    try {
      c = new ObjectMapper().readTree(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read the model's config.json (" + e.getMessage() + ")", e);
    }
    if (!"gpt2".equals(c.path("model_type").asText())) {
      throw new IllegalArgumentException(file + ": model_type is '" + c.path("model_type").asText() + "', not gpt2");
    }
    int dim = c.path("n_embd").asInt();
    int heads = c.path("n_head").asInt();
    if (dim <= 0 || heads <= 0 || dim % heads != 0) throw new IllegalArgumentException(file + ": n_embd " + dim + " is not a multiple of n_head " + heads);
    String act = c.path("activation_function").asText("gelu_new");
    Activation a = switch (act) {
      case "gelu_new", "gelu_pytorch_tanh" -> Activation.GELU_TANH;
      case "gelu" -> Activation.GELU_ERF;
      case "relu" -> Activation.RELU;
      default -> throw new IllegalArgumentException(file + ": activation_function '" + act + "' is not supported (gelu_new, gelu, relu)");
    };
    int inner = c.path("n_inner").isNumber() ? c.path("n_inner").asInt() : 4 * dim;
    return new Gpt2Config(c.path("vocab_size").asInt(), c.path("n_positions").asInt(), dim, c.path("n_layer").asInt(), heads, inner,
        (float) c.path("layer_norm_epsilon").asDouble(1e-5), a, c.path("tie_word_embeddings").asBoolean(true));
  }
}
