package dev.sparkinfer.udf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sparkinfer.kernels.EngineConfig;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** The CPU engine's threads follow the cores Spark gives the executor, never more than the machine has. */
class ExecutorCoresTest {
  private static final int ALL = Runtime.getRuntime().availableProcessors();

  @Test
  void localMastersGiveTheirThreadCount() {
    assertEquals(1, ExecutorCores.localThreads("local", ALL));
    assertEquals(3, ExecutorCores.localThreads("local[3]", ALL));
    assertEquals(2, ExecutorCores.localThreads("local[2,4]", ALL));
    assertEquals(ALL, ExecutorCores.localThreads("local[*]", ALL));
    assertEquals(ALL, ExecutorCores.localThreads("local[*,3]", ALL));
  }

  @Test
  void executorCoresWinAndAreCappedAtTheMachine() {
    assertEquals(1, ExecutorCores.cores(new SparkConf(false).set("spark.master", "spark://h:7077").set("spark.executor.cores", "1")));
    assertEquals(ALL, ExecutorCores.cores(new SparkConf(false).set("spark.master", "spark://h:7077").set("spark.executor.cores", "100000")));
    assertEquals(ALL, ExecutorCores.cores(new SparkConf(false).set("spark.master", "spark://h:7077")));
    // YARN and Kubernetes give an executor 1 core unless told otherwise: not the machine's processors
    assertEquals(1, ExecutorCores.cores(new SparkConf(false).set("spark.master", "yarn")));
    assertEquals(1, ExecutorCores.cores(new SparkConf(false).set("spark.master", "k8s://https://10.0.0.1:6443")));
    assertEquals(Math.min(ALL, 4), ExecutorCores.cores(new SparkConf(false).set("spark.master", "yarn").set("spark.executor.cores", "4")));
    assertEquals(1, ExecutorCores.cores(new SparkConf(false).set("spark.master", "local")));
  }

  @Test
  void aThreadCountTheUserFixedIsKept() {
    assertEquals(5, ExecutorCores.apply(EngineConfig.defaults().withCpuThreads(5)).cpuThreads());
    int chosen = ExecutorCores.apply(EngineConfig.defaults()).cpuThreads();
    assertEquals(true, chosen >= 1 && chosen <= ALL, "threads " + chosen);
  }
}
