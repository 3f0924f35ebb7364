package dev.sparkinfer.udf.clip;

import dev.sparkinfer.schemas.ClipScoresTable.EmbeddingDtype;
import java.io.Serializable;
import java.util.List;

/**
 * What a CLIP task is told: the model, how images are checked, and the job's own settings.
 *
 * @param modelDir        a CLIP folder (Hugging Face CLIPModel, or OpenCLIP: open_clip_config.json + weights)
 * @param tokenizerDir    where the tokenizer files are (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz);
 *                        usually modelDir
 * @param maxPixels       images with more pixels (from the header) are rejected before decoding
 * @param embeddings      clip-score: emit the embeddings in this dtype; null: no embedding columns
 * @param labels          clip-classify: the class names, in order; null for clip-score
 * @param template        clip-classify: the prompt, {@code {}} replaced by each label
 * @param topK            clip-classify: labels kept per image
 * @param temperature     clip-classify: softmax(logit_scale · cos / T)
 * @param softLabels      clip-classify: write every label's probability
 */
public record ClipTaskConfig(String modelDir, String tokenizerDir, long maxPixels, EmbeddingDtype embeddings,
    List<String> labels, String template, int topK, float temperature, boolean softLabels) implements Serializable {

  /** Pillow's Image.MAX_IMAGE_PIXELS (1024 · 1024 · 1024 / 4 / 3), the default pixel limit. */
  public static final long DEFAULT_MAX_PIXELS = 89_478_485L;
  public static final String DEFAULT_TEMPLATE = "a photo of a {}.";

  public ClipTaskConfig {
    if (maxPixels < 1) throw new IllegalArgumentException("--max-pixels must be positive, got " + maxPixels);
    if (labels != null) {
      if (labels.isEmpty()) throw new IllegalArgumentException("--labels names no label");
      if (template == null || !template.contains("{}")) {
        throw new IllegalArgumentException("--template must contain {} where the label goes, got '" + template + "'");
      }
      if (topK < 1) throw new IllegalArgumentException("--top-k must be at least 1, got " + topK);
      if (!(temperature > 0) || Float.isInfinite(temperature)) {
        throw new IllegalArgumentException("--temperature must be a positive number, got " + temperature);
      }
      labels = List.copyOf(labels);
    }
  }

  public static ClipTaskConfig score(String modelDir, String tokenizerDir, long maxPixels, EmbeddingDtype embeddings) {
    return new ClipTaskConfig(modelDir, tokenizerDir, maxPixels, embeddings, null, null, 0, 1, false);
  }

  public static ClipTaskConfig classify(String modelDir, String tokenizerDir, long maxPixels, List<String> labels, String template,
      int topK, float temperature, boolean softLabels) {
    return new ClipTaskConfig(modelDir, tokenizerDir, maxPixels, null, labels, template, topK, temperature, softLabels);
  }

  public boolean classifies() { return labels != null; }

  /** The prompts, one per label. */
  public List<String> prompts() { return labels.stream().map(l -> template.replace("{}", l)).toList(); }
}
