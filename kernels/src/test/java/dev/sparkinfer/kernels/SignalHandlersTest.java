package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The JVM's own signal handling survives the OpenCL driver (SignalChaining): Java integer division by zero in compiled
 * code still throws ArithmeticException after the devices were listed and after an engine built its kernels. Without
 * libjsig preloaded (the test runs set LD_PRELOAD in the parent pom) PoCL's SIGFPE handler, installed when its platform
 * loads, skips the division instead (measured: 1,720 of 2,000 threw before the engine, 0 of 2,000 after it).
 */
class SignalHandlersTest {
  static int divide(int a, int b) { return a / b; }

  /** Divisions in a hot loop (compiled by the JIT, where a zero divisor traps with SIGFPE): how many threw. */
  static int thrownOf(int n) {
    int thrown = 0;
    for (int i = 0; i < n; i++) {
      try {
        divide(i, i % 1000 == 7 ? 0 : 3);
      } catch (ArithmeticException e) {
        thrown++;
      }
    }
    return thrown;
  }

  @Test
  void integerDivisionByZeroStillThrowsAfterTheOpenCLEngineOpened() {
    var device = OpenCLTestSupport.device();
    assertTrue(SignalChaining.active(), "the test JVM runs with libjsig preloaded (parent pom's surefire LD_PRELOAD); "
        + SignalChaining.warning());
    assertEquals(2000, thrownOf(2_000_000), "after listing the OpenCL devices, before the engine");
    try (AparapiOps ops = new AparapiOps(device, true); Ops.Scope s = ops.scope()) {
      Tensor t = ops.alloc(8);
      ops.write(t, new float[] {1, 2, 3, 4, 5, 6, 7, 8});
      assertEquals(8f, ops.read(t)[7]);
    }
    for (int round = 0; round < 3; round++) {
      assertEquals(2000, thrownOf(2_000_000), "divisions by zero that threw after the OpenCL engine opened, round " + round);
    }
  }
}
