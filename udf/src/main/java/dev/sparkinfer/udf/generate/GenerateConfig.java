package dev.sparkinfer.udf.generate;

import dev.sparkinfer.models.decoder.Generator;
import java.io.Serializable;

/**
 * A generate run's settings, shipped with the task factory.
 *
 * @param capacity  prompt tokens + new tokens a sequence may hold (longer prompts are rejected)
 * @param batch     sequences decoded together (the KV cache entries)
 */
public record GenerateConfig(String modelDir, String loraDir, int maxNewTokens, float temperature, float topP, long seed,
                             boolean stopAtEos, int capacity, int batch, int maxTextChars) implements Serializable {
  public GenerateConfig {
    new Generator.Settings(maxNewTokens, temperature, topP, seed, stopAtEos, new int[0]); // the same checks, up front
    if (capacity <= maxNewTokens) throw new IllegalArgumentException("the context (" + capacity + " tokens) leaves no room for a prompt and "
        + maxNewTokens + " new tokens");
    if (batch < 1) throw new IllegalArgumentException("batch must be at least 1, got " + batch);
  }
}
