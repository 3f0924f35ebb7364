package dev.sparkinfer.kernels.bench;

import com.aparapi.device.OpenCLDevice;
import dev.sparkinfer.kernels.AparapiOps;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import java.util.Locale;

/**
 * What one Aparapi launch costs on each OpenCL device: {@link AparapiOps#launchMicros} (a zero fill of one float, N
 * launches after 100 untimed ones), median and 10th / 90th percentiles in microseconds. A BERT layer is about a dozen
 * launches, each synchronous, so this times twelve is the floor of a layer's time on that device.
 *
 * <pre>
 * bash .gpu/run java dev.sparkinfer.kernels.bench.LaunchOverheadBenchmark [--launches 2000]
 * </pre>
 */
public final class LaunchOverheadBenchmark {
  public static void main(String[] args) {
    int n = 2000;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--launches")) n = Integer.parseInt(args[++i]);
      else {
        System.err.println("usage: LaunchOverheadBenchmark [--launches 2000]");
        System.exit(2);
      }
    }
    for (OpenCLDevice d : Devices.openclDevices()) System.out.println(line(d, n));
  }

  /** "aparapi launch overhead: X µs per launch on DEVICE (...)" for one device. */
  public static String line(OpenCLDevice d, int n) {
    try (AparapiOps ops = new AparapiOps(d, EngineConfig.fromSystemProperties())) {
      double[] us = ops.launchMicros(n);
      return String.format(Locale.ROOT, "aparapi launch overhead: %.1f µs per launch on %s (median of %d launches of a 1-element "
          + "zero fill; p10 %.1f, p90 %.1f µs)", us[n / 2], ops.device(), n, us[n / 10], us[n * 9 / 10]);
    }
  }
}
