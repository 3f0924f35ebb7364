package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Pruning;
import dev.sparkinfer.kernels.Quantization;
import picocli.CommandLine.Option;

/**
 * How a model's Linear weights are changed at load: {@code --quantize} and {@code --prune}. They go into the job's
 * {@link EngineConfig}, which travels to the executors with the job (no JVM-wide property is set); unset, the driver's
 * {@code -Dsparkinfer.quantize} / {@code -Dsparkinfer.prune} apply, else none.
 */
public final class WeightOptions {
  @Option(names = "--quantize", paramLabel = "none|int8|int4",
      description = "quantize the Linear weights at load: int8 (a scale per output channel) or int4 (a scale per 128 inputs); "
          + "embeddings, norms and the head keep their precision (default: none)")
  String quantize;

  @Option(names = "--prune", paramLabel = "none|unstructured:F|2:4",
      description = "magnitude-prune the Linear weights at load, before quantizing: unstructured:F zeroes the fraction F of each "
          + "weight matrix, 2:4 the 2 smallest of every 4 inputs. Measures quality only: the kernels do not skip zeros, "
          + "so it saves no time or memory (default: none)")
  String prune;

  /** The driver's engine config with these flags applied; a bad value fails, naming the flag, before any job runs. */
  EngineConfig engine() {
    EngineConfig e = EngineConfig.fromSystemProperties();
    if (quantize != null) e = e.withQuantize(Quantization.parse(quantize));
    if (prune != null) e = e.withPrune(Pruning.parse(prune));
    return e;
  }
}
