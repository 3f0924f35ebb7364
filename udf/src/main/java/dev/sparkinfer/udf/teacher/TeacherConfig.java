package dev.sparkinfer.udf.teacher;

import dev.sparkinfer.models.decoder.TeacherLabeler;
import dev.sparkinfer.schemas.TeacherLabelsTable.LogprobEncoding;
import java.io.Serializable;

/**
 * A teacher-labels run's settings, shipped to executors with the task factory, and written beside the output
 * ({@code _TEACHER_CONFIG.json}) so that a trainer can check that its settings match the labels'.
 *
 * @param modelDir   the Hugging Face folder of the teacher (absolute)
 * @param loraDir    a PEFT LoRA adapter merged into it, or null
 * @param windowsPerPass windows one forward pass runs at once (the KV cache entries)
 * @param maxTextChars  texts are cut here first (a safety bound, flagged in {@code note})
 */
public record TeacherConfig(String modelDir, String loraDir, int topK, float temperature, int maxLength, int stride,
                            LogprobEncoding encoding, int windowsPerPass, int maxTextChars) implements Serializable {
  public TeacherConfig {
    new TeacherLabeler.Settings(topK, temperature, maxLength, stride); // the same checks, before any Spark job
    if (windowsPerPass < 1) throw new IllegalArgumentException("windows per pass must be at least 1, got " + windowsPerPass);
    if (maxTextChars < 1) throw new IllegalArgumentException("--max-text-chars must be at least 1, got " + maxTextChars);
  }

  public TeacherLabeler.Settings settings() { return new TeacherLabeler.Settings(topK, temperature, maxLength, stride); }

  /** Bytes stored per labelled token: token id, k ids, k encoded log-probs, the target log-prob. */
  public int bytesPerToken() { return 4 + topK * (4 + encoding.bytes) + 4; }
}
