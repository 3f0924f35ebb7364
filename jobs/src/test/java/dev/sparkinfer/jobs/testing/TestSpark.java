package dev.sparkinfer.jobs.testing;

import org.apache.spark.sql.SparkSession;

/** One real local[2] Spark session for all job tests of the JVM (starting Spark costs seconds). */
public final class TestSpark {
  private TestSpark() {}

  public static synchronized SparkSession session() {
    return SparkSession.builder()
        .master("local[2,2]") // a failed task is retried once, as clusters do (spark.task.maxFailures)
        .appName("sparkinfer-jobs-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer") // as the CLI sets it
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.executor.heartbeatInterval", "1s")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate();
  }
}
