package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.EngineConfig;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;

/**
 * The cores Spark gives this executor, for the CPU engine's threads: the engine is shared by the executor's tasks and
 * admits one at a time ({@code DeviceRuntime}), so it may use all of the executor's cores, and no more (other
 * executors may share the machine). {@code spark.executor.cores} where set; in local mode the N of {@code local[N]};
 * on YARN and Kubernetes 1, Spark's own default there (an executor is a 1-core container or pod, several to a machine:
 * the machine's processors would oversubscribe it); else (standalone: an executor takes all of its worker's cores)
 * the JVM's processors.
 */
public final class ExecutorCores {
  private ExecutorCores() {}

  /** The config with its CPU threads set to this executor's cores, unless the user fixed them (sparkinfer.cpu.threads). */
  public static EngineConfig apply(EngineConfig engine) {
    if (engine.cpuThreads() > 0) return engine;
    SparkEnv env = SparkEnv.get();
    return engine.withCpuThreads(env == null ? Runtime.getRuntime().availableProcessors() : cores(env.conf()));
  }

  static int cores(SparkConf conf) {
    int all = Runtime.getRuntime().availableProcessors();
    if (conf.contains("spark.executor.cores")) return Math.max(1, Math.min(all, conf.getInt("spark.executor.cores", all)));
    String master = conf.get("spark.master", "");
    if (master.startsWith("local")) return Math.max(1, Math.min(all, localThreads(master, all)));
    if (master.startsWith("yarn") || master.startsWith("k8s://")) return 1;
    return all;
  }

  /** local: 1; local[N] or local[N,F]: N; local[*]: all. */
  static int localThreads(String master, int all) {
    int open = master.indexOf('[');
    if (open < 0) return 1;
    String n = master.substring(open + 1, master.indexOf(']') < 0 ? master.length() : master.indexOf(']')).split(",")[0].trim();
    if (n.equals("*")) return all;
    try {
      return Integer.parseInt(n);
    } catch (NumberFormatException e) {
      return all;
    }
  }
}
