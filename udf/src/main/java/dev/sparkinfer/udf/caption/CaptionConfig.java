package dev.sparkinfer.udf.caption;

import dev.sparkinfer.models.decoder.Generator;
import java.io.Serializable;

/**
 * A caption run's settings, shipped with the task factory.
 *
 * @param prompt       the prompt, {@code <image>} where the image goes, e.g. {@code USER: <image>\nDescribe this image. ASSISTANT:}
 * @param promptTokens the prompt's length in tokens, image positions included (the KV cache holds it plus the new tokens)
 * @param batch        images captioned together (the KV cache entries)
 * @param maxPixels    images with more pixels (from the header) are rejected before decoding
 * @param beams        beam search width (1: greedy or sampling); each image's beams take that many cache entries
 */
public record CaptionConfig(String modelDir, String prompt, int promptTokens, int maxNewTokens, float temperature, float topP,
    long seed, boolean stopAtEos, int batch, long maxPixels, int beams, float lengthPenalty) implements Serializable {
  public CaptionConfig {
    settings(maxNewTokens, temperature, topP, seed, stopAtEos, new int[0], beams, lengthPenalty); // the same checks, up front
    if (batch < 1) throw new IllegalArgumentException("--captions-per-pass must be at least 1, got " + batch);
    if (maxPixels < 1) throw new IllegalArgumentException("--max-pixels must be positive, got " + maxPixels);
    if (prompt == null || !prompt.contains("<image>")) {
      throw new IllegalArgumentException("--prompt must hold <image> where the image goes, e.g. \"USER: <image>\\nDescribe this image. ASSISTANT:\"");
    }
    if (prompt.indexOf("<image>") != prompt.lastIndexOf("<image>")) {
      throw new IllegalArgumentException("--prompt holds <image> more than once: one image per row");
    }
  }

  static Generator.Settings settings(int maxNewTokens, float temperature, float topP, long seed, boolean stopAtEos, int[] eos, int beams,
      float lengthPenalty) {
    return new Generator.Settings(maxNewTokens, temperature, topP, seed, stopAtEos, eos, beams, lengthPenalty);
  }

  /** The generator's settings with the model's end tokens. */
  public Generator.Settings settings(int[] eos) {
    return settings(maxNewTokens, temperature, topP, seed, stopAtEos, eos, beams, lengthPenalty);
  }

  /** KV cache entries: the captions run together, or one image's beams. */
  public int entries() { return Math.max(batch, beams); }

  /** KV cache positions per sequence. */
  public int capacity() { return promptTokens + maxNewTokens; }
}
