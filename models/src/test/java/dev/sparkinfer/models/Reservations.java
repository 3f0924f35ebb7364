package dev.sparkinfer.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.models.weights.WeightMemory;
import dev.sparkinfer.models.weights.WeightSource;
import java.util.function.Function;

/**
 * Checks that a model loader reserved room for its weights before loading them: a bank that grows instead ends up to
 * half as much again as the weights need (the growth step), which on a real model is hundreds of MB.
 */
public final class Reservations {
  private Reservations() {}

  /**
   * The engine's 16-bit banks, float banks and byte memory hold at most about what the tensors of {@code w} need,
   * loaded as the test says ({@code how}, {@code q} for the quantized ones; counted by {@link WeightMemory#of}: each an
   * upper bound). For the Java and CPU engines: OpenCL banks are at least half a G1 region (non-moving host mirrors),
   * larger than the fixtures' weights.
   */
  public static void assertBanksFit(Ops ops, WeightSource w, Quantization q, Function<String, WeightMemory.Load> how, String what) {
    WeightMemory need = WeightMemory.of(ops, w, q, how);
    Ops.MemoryUse m = ops.memoryUse();
    long held16 = m.weights16Bytes() / 2, held32 = m.weights32Bytes() / 4;
    assertTrue(held16 <= need.values16() * 1.1 + 4096, what + ": the 16-bit banks hold " + held16 + " values for about "
        + need.values16() + " (the loader did not reserve room for them all: the bank grew)");
    assertTrue(held32 <= need.values32() * 1.1 + 4096, what + ": the float banks hold " + held32 + " values for about "
        + need.values32() + " (the loader did not reserve room for them all: the bank grew)");
    assertTrue(m.weights8Bytes() <= need.bytes() * 1.1 + 4096, what + ": the byte memory holds " + m.weights8Bytes()
        + " bytes for about " + need.bytes() + " (the loader did not reserve room for them all: it grew)");
  }
}
