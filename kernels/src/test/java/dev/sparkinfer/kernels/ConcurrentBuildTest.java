package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Two jobs (or executors) on one machine build the kernels at the same moment into one OpenCL kernel cache (issue 8,
 * case 14: once, one of two failed in PoCL's cache rename). Three JVMs start together on an empty cache; each must
 * build and run strict. (The engine retries a failed first build once: AparapiOps.)
 */
class ConcurrentBuildTest {
  /** The child JVM: opens the engine strict and says where it ran. */
  public static void main(String[] args) {
    try (AparapiOps ops = new AparapiOps(Devices.best(), true)) {
      System.out.println("built on " + ops.device() + " fellBack=" + ops.fellBack());
    }
  }

  @Test
  void processesBuildingAtOnceIntoOneCacheAllSucceed() throws Exception {
    OpenCLTestSupport.device();
    Path cache = Files.createTempDirectory("pocl-cache-");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<Process> procs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ProcessBuilder pb = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
          ConcurrentBuildTest.class.getName());
      pb.environment().put("POCL_CACHE_DIR", cache.toString());
      pb.redirectErrorStream(true);
      procs.add(pb.start());
    }
    for (Process p : procs) {
      String out = new String(p.getInputStream().readAllBytes());
      assertEquals(0, p.waitFor(), out);
      assertTrue(out.contains("built on opencl") && out.contains("fellBack=false"), out);
    }
  }
}
