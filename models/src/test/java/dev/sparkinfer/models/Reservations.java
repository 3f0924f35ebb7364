package dev.sparkinfer.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.decoder.Embedding;
import dev.sparkinfer.models.weights.WeightSource;
import java.util.function.Predicate;

/**
 * Checks that a model loader reserved room for its 16-bit weights before loading them: a bank that grows instead ends
 * up to half as much again as the weights need (the growth step), which on a real model is hundreds of MB.
 */
public final class Reservations {
  private Reservations() {}

  /**
   * The engine's 16-bit banks hold at most about what the tensors of {@code w} that {@code loaded16} names need (each at
   * most a Linear weight either way round, padded as the engine pads, plus alignment). For the Java and CPU engines:
   * OpenCL banks are at least half a G1 region (non-moving host mirrors), larger than the fixtures' weights.
   */
  public static void assertBanksFit(Ops ops, WeightSource w, Predicate<String> loaded16, String what) {
    long need = 0;
    for (String n : w.names()) if (loaded16.test(n)) need += Embedding.params16(ops, w, n) + 64;
    long held = ops.memoryUse().weights16Bytes() / 2;
    assertTrue(held <= need * 1.1 + 4096, what + ": the 16-bit banks hold " + held + " values for about " + need
        + " (the loader did not reserve room for them all: the bank grew)");
  }
}
