package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.JobConfig;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** The SparkSession a CLI job runs in. */
public final class Sessions {
  private Sessions() {}

  /**
   * {@code --master} when given; otherwise the master spark-submit set ({@code spark.master}), else
   * {@link JobConfig#DEFAULT_MASTER}. Spark's own console progress bar is off: the job draws its own line. A master that
   * is not local gets what executors in other JVMs need ({@link ClusterSettings}).
   */
  public static SparkSession start(String appName, String master) {
    SparkConf conf = new SparkConf(); // picks up spark.* system properties (spark-submit)
    if (master != null && !master.isBlank()) conf.setMaster(master);
    else if (!conf.contains("spark.master")) conf.setMaster(JobConfig.DEFAULT_MASTER);
    conf.setIfMissing("spark.app.name", appName);
    conf.setIfMissing("spark.ui.showConsoleProgress", "false");
    conf.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer"); // rows cross a shuffle
    if (conf.get("spark.master").startsWith("local")) {
      conf.setIfMissing("spark.executor.heartbeatInterval", "2s"); // progress updates come with heartbeats
    } else {
      ClusterSettings.apply(conf); // executors in other JVMs: the project's jars, JVM flags, the cluster's secret
    }
    return SparkSession.builder().config(conf).getOrCreate();
  }

  /**
   * Runs a job in the session: the one already running (tests, notebooks; it stays up) or one started for it with
   * {@code --master} and stopped after.
   */
  public static dev.sparkinfer.jobs.JobSummary runJob(JobConfig cfg, dev.sparkinfer.jobs.JobSpec job) {
    boolean ownSession = SparkSession.getDefaultSession().isEmpty();
    SparkSession spark = start("sparkinfer " + job.name(), cfg.master());
    try {
      return dev.sparkinfer.jobs.BatchJob.run(spark, cfg, c -> job);
    } finally {
      if (ownSession) spark.stop();
    }
  }
}
