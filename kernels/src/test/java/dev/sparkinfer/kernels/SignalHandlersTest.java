package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.Test;

/**
 * The JVM's own signal handling survives the OpenCL driver (SignalChaining): Java integer division by zero in compiled
 * code still throws ArithmeticException after the devices were listed and after an engine built its kernels. Without
 * libjsig preloaded (the test runs set LD_PRELOAD in the parent pom) PoCL's SIGFPE handler, installed when its platform
 * loads, skips the division instead (measured: 1,720 of 2,000 threw before the engine, 0 of 2,000 after it). And two
 * threads taking their first implicit null check at the same moment after the engine built its kernels (LLVM's
 * one-shot SIGSEGV handler in place) do not kill the JVM: without libjsig 9 of 15 such JVMs died of SIGSEGV with no
 * hs_err file (exit 139), the crash once seen in the models tests; with it, 0 of 15.
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

  static int length(int[] a) { return a.length; }

  private static volatile boolean go;

  /** The child JVM: compiles {@link #length} with an implicit null check, opens the engine, then two threads pass null. */
  public static void main(String[] args) throws Exception {
    int[] three = new int[3];
    long sum = 0;
    for (int i = 0; i < 5_000_000; i++) sum += length(three);
    try (AparapiOps ops = new AparapiOps(Devices.best(), true); Ops.Scope s = ops.scope()) {
      Tensor t = ops.alloc(8);
      ops.write(t, new float[8]);
      ops.read(t);
    }
    CyclicBarrier ready = new CyclicBarrier(3);
    Thread[] threads = new Thread[2];
    for (int i = 0; i < threads.length; i++) {
      threads[i] = new Thread(() -> {
        try {
          ready.await();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        while (!go) Thread.onSpinWait();
        try {
          length(null);
        } catch (NullPointerException expected) {
          // the JVM's SIGSEGV handler turned the fault into this
        }
      });
      threads[i].start();
    }
    ready.await();
    Thread.sleep(20);
    go = true;
    for (Thread t : threads) t.join();
    System.out.println("survived " + sum);
  }

  @Test
  void twoThreadsFaultingAtOnceAfterTheKernelsBuiltDoNotKillTheJvm() throws Exception {
    OpenCLTestSupport.device();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    for (int run = 0; run < 6; run++) {
      ProcessBuilder pb = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "-cp",
          System.getProperty("java.class.path"), SignalHandlersTest.class.getName());
      pb.redirectErrorStream(true); // the child inherits this JVM's environment: LD_PRELOAD of libjsig
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes());
      assertEquals(0, p.waitFor(), "child JVM " + run + " (exit 139: SIGSEGV with no hs_err): " + out);
      assertTrue(out.contains("survived"), out);
    }
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
