package dev.sparkinfer.models.bert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How token vectors become one sentence vector, as sentence-transformers configures it: {@code 1_Pooling/config.json}
 * (mean or CLS), a {@code Normalize} module in {@code modules.json}, {@code max_seq_length} in
 * {@code sentence_bert_config.json}.
 */
public record Pooling(Mode mode, boolean normalize, int maxSeqLength) {
  public enum Mode { MEAN, CLS }

  /** all-MiniLM-L6-v2 as sentence-transformers ships it. */
  public static final Pooling MINILM = new Pooling(Mode.MEAN, true, 256);

  /**
   * Reads a model folder's sentence-transformers files. Without them: mean pooling, L2-normalised, and the model's
   * own position limit ({@code maxSeqLength} 0 = take it from config.json).
   */
  public static Pooling fromFolder(Path dir) {
    ObjectMapper om = new ObjectMapper();
    Mode mode = Mode.MEAN;
    boolean normalize = true;
    int maxLen = 0;
    try {
      Path pool = dir.resolve("1_Pooling/config.json");
      if (Files.isRegularFile(pool)) {
        JsonNode p = om.readTree(pool.toFile());
        if (p.path("pooling_mode_cls_token").asBoolean(false)) mode = Mode.CLS;
        else if (p.path("pooling_mode_mean_tokens").asBoolean(false)) mode = Mode.MEAN;
        else throw new IllegalArgumentException(pool + ": only CLS or mean pooling is supported");
      }
      Path modules = dir.resolve("modules.json");
      if (Files.isRegularFile(modules)) {
        normalize = false;
        for (JsonNode m : om.readTree(modules.toFile())) {
          if (m.path("type").asText().endsWith("Normalize")) normalize = true;
        }
      }
      Path st = dir.resolve("sentence_bert_config.json");
      if (Files.isRegularFile(st)) maxLen = om.readTree(st.toFile()).path("max_seq_length").asInt(0);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the sentence-transformers files of " + dir + ": " + e.getMessage(), e);
    }
    return new Pooling(mode, normalize, maxLen);
  }
}
