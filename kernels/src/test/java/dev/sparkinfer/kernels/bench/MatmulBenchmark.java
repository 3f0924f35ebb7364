package dev.sparkinfer.kernels.bench;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import java.util.Random;

/**
 * GFLOP/s of the matmul kernel on BERT-shaped problems, OpenCL device and Java reference in the same run.
 *
 * <pre>
 * mvn -q -pl kernels test-compile exec:java -Dexec.classpathScope=test -Dexec.mainClass=dev.sparkinfer.kernels.bench.MatmulBenchmark
 * </pre>
 */
public final class MatmulBenchmark {
  public static void main(String[] args) {
    int[][] shapes = {{1280, 1152, 384}, {1280, 1536, 384}, {1280, 384, 1536}};
    for (String d : args.length > 0 ? args : new String[] {"opencl", "java"}) {
      try (Ops ops = Devices.open(DeviceChoice.parse(d))) {
        Random r = new Random(1);
        for (int[] s : shapes) {
          int m = s[0], n = s[1], k = s[2];
          float[] w = new float[n * k];
          for (int i = 0; i < w.length; i++) w[i] = r.nextFloat() - 0.5f;
          try (Ops.Scope sc = ops.scope()) {
            Tensor a = ops.alloc(m * k), out = ops.alloc(m * n), b = ops.alloc(n * k);
            ops.write(b, w);
            boolean transB = !Boolean.getBoolean("kn");
            ops.matmul(out, a, b, null, m, n, k, transB);
            int reps = d.equals("java") ? 1 : 5;
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) ops.matmul(out, a, b, null, m, n, k, transB);
            ops.read(out.slice(0, 1));
            double sec = (System.nanoTime() - t0) / 1e9 / reps;
            System.out.printf("%-6s transB=" + transB + " matmul %dx%dx%d: %.2f ms, %.2f GFLOP/s [%s]%n", d, m, n, k, sec * 1e3, 2.0 * m * n * k / sec / 1e9, ops.device());
          }
        }
      }
    }
  }
}
