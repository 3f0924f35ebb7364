package dev.sparkinfer.jobs.cli;

import picocli.CommandLine.Option;

/** How new tokens are chosen, for the jobs that generate (generate, caption). */
public final class DecodingOptions {
  @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "64", description = "length limit in new tokens (default: ${DEFAULT-VALUE})")
  int maxNewTokens;

  @Option(names = "--greedy", description = "argmax decoding (the default when no --temperature is given)")
  boolean greedy;

  @Option(names = "--temperature", paramLabel = "T", defaultValue = "0", description = "sampling temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
  float temperature;

  @Option(names = "--top-p", paramLabel = "P", defaultValue = "1.0", description = "nucleus sampling mass (default: ${DEFAULT-VALUE})")
  float topP;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
      description = "sampling seed; each row's stream is seeded by it and the row's id (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--stop-at-eos", paramLabel = "BOOL", defaultValue = "true", arity = "1",
      description = "end a sequence at the end-of-text token (default: ${DEFAULT-VALUE})")
  boolean stopAtEos;

  /** The sampling temperature (0: greedy), after checking --greedy does not contradict it. */
  float temperature() {
    if (greedy && temperature != 0) throw new IllegalArgumentException("--greedy and --temperature " + temperature + " contradict each other");
    return greedy ? 0f : temperature;
  }
}
