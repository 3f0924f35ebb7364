package dev.sparkinfer.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether the JVM keeps its own signal handlers when an OpenCL driver installs others. PoCL installs a SIGFPE handler
 * when its platform loads, i.e. as soon as the devices are listed (it skips the faulting instruction of an integer
 * division by zero, meant for kernels), and its in-process LLVM compiler installs handlers for SIGSEGV, SIGBUS, SIGILL,
 * SIGUSR2 and others (SA_RESETHAND: one shot, then the default action). The JVM uses SIGFPE and SIGSEGV itself: after
 * that, Java integer division by zero in compiled code silently gives a wrong value instead of throwing
 * ArithmeticException (measured: SignalHandlersTest), and a SIGSEGV the JVM expects (an implicit null check, a safepoint
 * poll) that arrives while LLVM's one-shot handler is being reset kills the JVM with no hs_err file: the two JVM deaths
 * (SIGSEGV, no hs_err) after OpenCL engines in the models tests; reproduced by two threads taking their first implicit
 * null check at once after the kernels built (9 of 15 JVMs died; with libjsig 0 of 15: SignalHandlersTest). {@code libjsig.so}, preloaded, keeps
 * the JVM's handlers installed and chains the libraries' behind them (HotSpot's remedy: -Xcheck:jni says "SIGSEGV
 * handler modified! ... Consider using jsig library", and says nothing with it). bin/pipeline, the deploy scripts and
 * the test runs preload it; a JVM without it gets a warning once OpenCL devices were listed.
 */
final class SignalChaining {
  private SignalChaining() {}

  private static volatile boolean warned;

  /** True when libjsig is loaded in this process (Linux: /proc/self/maps); true elsewhere (not checked there). */
  static boolean active() {
    Path maps = Path.of("/proc/self/maps");
    if (!Files.isReadable(maps)) return true;
    try (var lines = Files.lines(maps)) {
      return lines.anyMatch(l -> l.endsWith("/libjsig.so"));
    } catch (IOException | RuntimeException e) {
      return true;
    }
  }

  static String warning() {
    String jsig = Path.of(System.getProperty("java.home"), "lib", "libjsig.so").toString();
    return "*** sparkinfer: this JVM loaded the OpenCL driver without libjsig: the driver (PoCL and its LLVM compiler) "
        + "replaces the JVM's SIGFPE and SIGSEGV handlers when it loads and builds kernels, after which Java integer division "
        + "by zero no longer throws and the JVM can die of SIGSEGV without an hs_err file. Start the JVM with LD_PRELOAD=" + jsig
        + " (bin/pipeline and the deploy scripts do; with spark-submit set it in the driver's environment and "
        + "spark.executorEnv.LD_PRELOAD).";
  }

  /** Warns once per JVM when OpenCL devices were listed (the driver loaded) without libjsig. */
  static void warnIfMissing() {
    if (warned || active()) return;
    warned = true;
    System.err.println(warning());
    System.getLogger("dev.sparkinfer.kernels").log(System.Logger.Level.WARNING, warning());
  }
}
