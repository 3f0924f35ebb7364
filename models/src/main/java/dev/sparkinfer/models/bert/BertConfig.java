package dev.sparkinfer.models.bert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A BERT-family encoder's hyper-parameters, from Hugging Face's config.json.
 *
 * @param maxSeqLength tokens per text the model is run with (sentence-transformers' max_seq_length: 256 for
 *                     all-MiniLM-L6-v2; else max_position_embeddings)
 */
public record BertConfig(int vocabSize, int hidden, int layers, int heads, int intermediate, int maxPositions,
                         int typeVocabSize, float layerNormEps, String hiddenAct, int maxSeqLength) {

  public int headDim() { return hidden / heads; }

  public BertConfig withMaxSeqLength(int n) {
    if (n < 2 || n > maxPositions) {
      throw new IllegalArgumentException("max sequence length " + n + " must be in [2, " + maxPositions + "] for this model");
    }
    return new BertConfig(vocabSize, hidden, layers, heads, intermediate, maxPositions, typeVocabSize, layerNormEps, hiddenAct, n);
  }

  public static BertConfig fromJson(InputStream in, String origin) {
    try {
      JsonNode j = new ObjectMapper().readTree(in);
      String type = j.path("model_type").asText("bert");
      int hidden = req(j, "hidden_size", origin);
      int heads = req(j, "num_attention_heads", origin);
      if (hidden % heads != 0) throw new IllegalArgumentException(origin + ": hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
      String act = j.path("hidden_act").asText("gelu");
      if (!act.equals("gelu") && !act.equals("gelu_new") && !act.equals("relu")) {
        throw new IllegalArgumentException(origin + ": hidden_act '" + act + "' is not supported (gelu, gelu_new, relu)");
      }
      // Only the BERT architecture is wired up; RoBERTa-style encoders differ in position ids and would be silently wrong.
      if (!type.equals("bert")) throw new IllegalArgumentException(origin + ": model_type '" + type + "' is not supported yet (only 'bert')");
      int maxPos = j.path("max_position_embeddings").asInt(512);
      return new BertConfig(req(j, "vocab_size", origin), hidden, req(j, "num_hidden_layers", origin), heads,
          req(j, "intermediate_size", origin), maxPos, j.path("type_vocab_size").asInt(2),
          (float) j.path("layer_norm_eps").asDouble(1e-12), act, maxPos);
    } catch (IOException e) {
      throw new UncheckedIOException(origin + " is not valid JSON: " + e.getMessage(), e);
    }
  }

  public static BertConfig fromFile(Path configJson) {
    try (InputStream in = Files.newInputStream(configJson)) {
      return fromJson(in, configJson.toString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + configJson + ": " + e.getMessage(), e);
    }
  }

  private static int req(JsonNode j, String key, String origin) {
    if (!j.hasNonNull(key)) throw new IllegalArgumentException(origin + " lacks '" + key + "'");
    return j.get(key).asInt();
  }
}
