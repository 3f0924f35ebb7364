package dev.sparkinfer.kernels;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;

/**
 * Sizes for the Java arrays that Aparapi binds to device buffers, so the garbage collector never moves them.
 *
 * <p>Why: Aparapi creates an array's OpenCL buffer at the array's address (CL_MEM_USE_HOST_PTR on shared-memory
 * devices such as PoCL, CL_MEM_COPY_HOST_PTR on GPUs) and only notices a move at the next kernel launch. An explicit
 * {@code get()} after a move reads through the buffer made at the old address (stale or freed heap: wrong data or a
 * crash), and on a GPU the next launch re-creates the device buffer from the stale host copy. G1, the JVM's default
 * collector, never moves humongous objects (at least half a heap region), so every bound array is allocated at least
 * that large, and other collectors are refused.
 */
final class NonMovingArrays {
  private NonMovingArrays() {}

  private static final long REGION_BYTES = regionBytes();

  private static long regionBytes() {
    try {
      HotSpotDiagnosticMXBean hs = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
      if (!"true".equals(hs.getVMOption("UseG1GC").getValue())) return -1;
      return Long.parseLong(hs.getVMOption("G1HeapRegionSize").getValue());
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /** Fails, saying what to change, unless the JVM runs G1 (whose humongous objects never move) on Java 17 to 20. */
  static void requireG1() { requireNonMoving(Runtime.version().feature()); }

  /**
   * From Java 21 on, G1's last-ditch full GC (the one before an OutOfMemoryError) may move humongous objects
   * (JDK-8191565, integrated in 2023 for JDK 21): an array bound to a device buffer could move under Aparapi, and the
   * next read would be wrong or crash. Until the engine keeps device buffers independent of Java arrays, the OpenCL
   * engine refuses to start there.
   */
  static void requireNonMoving(int javaFeature) {
    String why = refusal(javaFeature);
    if (why != null) throw new IllegalStateException(why);
  }

  /** Why the OpenCL ops cannot run in a JVM of this Java version (and this JVM's collector), or null when they can. */
  static String refusal(int javaFeature) {
    if (javaFeature >= 21) {
      return "the OpenCL ops run on Java 17 to 20 only: this JVM is Java " + javaFeature
          + ", whose G1 may move large arrays in a last-ditch full GC (JDK-8191565), and Aparapi binds device buffers to "
          + "Java arrays; run the job (driver and executors) on Java 17 to 20, or use --device cpu (the CPU engine, any Java "
          + "from 17) or --device java";
    }
    if (REGION_BYTES <= 0) {
      return "the OpenCL ops need the G1 garbage collector (the JVM's default): Aparapi binds device "
          + "buffers to Java arrays, and only G1 guarantees that large arrays never move; remove -XX:+UseParallelGC, "
          + "-XX:+UseZGC or similar from the JVM options, or use --device java";
    }
    return null;
  }

  /** The least element count of an array of {@code bytesPerElement} that G1 allocates as humongous (never moved). */
  static int minElements(int bytesPerElement) {
    long bytes = REGION_BYTES / 2 + 64; // over half a region, header included
    return (int) ((bytes + bytesPerElement - 1) / bytesPerElement);
  }
}
