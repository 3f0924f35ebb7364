package dev.sparkinfer.udf;

import java.io.Serializable;

/**
 * Tunables of the batch tasks, with their defaults (the one place they live). The job CLI overrides them from flags;
 * system properties {@code sparkinfer.maxTextChars} and {@code sparkinfer.maxConsecutiveRowFailures} override the
 * defaults for the SQL UDFs.
 *
 * @param maxTextChars              texts longer than this are cut before tokenizing (and flagged {@code truncated});
 *                                  far above any model's token limit, it only protects memory from huge lines
 * @param maxConsecutiveRowFailures rows in a row on which the model may fail (each sent to rejects) before the task
 *                                  decides the model itself is broken and fails the job
 */
public record TaskConfig(int maxTextChars, int maxConsecutiveRowFailures) implements Serializable {
  public static final int DEFAULT_MAX_TEXT_CHARS = 100_000;
  public static final int DEFAULT_MAX_CONSECUTIVE_ROW_FAILURES = 1_000;

  public TaskConfig {
    if (maxTextChars < 1) throw new IllegalArgumentException("maxTextChars must be >= 1, got " + maxTextChars);
    if (maxConsecutiveRowFailures < 1) {
      throw new IllegalArgumentException("maxConsecutiveRowFailures must be >= 1, got " + maxConsecutiveRowFailures);
    }
  }

  public static TaskConfig defaults() {
    return new TaskConfig(
        Integer.getInteger("sparkinfer.maxTextChars", DEFAULT_MAX_TEXT_CHARS),
        Integer.getInteger("sparkinfer.maxConsecutiveRowFailures", DEFAULT_MAX_CONSECUTIVE_ROW_FAILURES));
  }
}
