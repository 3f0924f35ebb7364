package dev.sparkinfer.jobs.cluster;

import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerApplicationStart;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;

/**
 * Counts task attempts of the driver's application (registered through {@code spark.extraListeners}, so a job run by
 * {@code Main} gets it): attempts that succeeded and failed (a failed attempt is retried by Spark), executors lost, and
 * the tasks of the stage that runs the model (the last stage of the job described {@code "<job>: run tasks..."}); runs
 * {@code atHalf} once when half of those are done.
 */
public final class TaskCounter extends SparkListener {
  static final AtomicInteger succeeded = new AtomicInteger();
  static final AtomicInteger failed = new AtomicInteger();
  static final AtomicInteger executorsRemoved = new AtomicInteger();
  static final AtomicInteger runDone = new AtomicInteger();
  static volatile int runStage = -1;
  static volatile int runTasks;
  static volatile String appId;
  private static volatile Runnable atHalf;

  static synchronized void reset(Runnable whenHalfTheModelTasksAreDone) {
    succeeded.set(0);
    failed.set(0);
    executorsRemoved.set(0);
    runDone.set(0);
    runStage = -1;
    runTasks = 0;
    appId = null;
    atHalf = whenHalfTheModelTasksAreDone;
  }

  @Override
  public void onApplicationStart(SparkListenerApplicationStart e) {
    if (e.appId().isDefined()) appId = e.appId().get();
  }

  @Override
  public void onJobStart(SparkListenerJobStart e) {
    Properties p = e.properties();
    String description = p == null ? null : p.getProperty("spark.job.description");
    if (description == null || !description.contains(": run tasks")) return;
    StageInfo last = null;
    for (StageInfo s : scala.jdk.javaapi.CollectionConverters.asJava(e.stageInfos())) {
      if (last == null || s.stageId() > last.stageId()) last = s;
    }
    if (last != null) {
      runTasks = last.numTasks();
      runStage = last.stageId();
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd e) {
    if (!e.taskInfo().successful()) {
      failed.incrementAndGet();
      return;
    }
    succeeded.incrementAndGet();
    if (e.stageId() == runStage && runDone.incrementAndGet() * 2 >= runTasks) {
      Runnable r;
      synchronized (TaskCounter.class) {
        r = atHalf;
        atHalf = null;
      }
      if (r != null) r.run();
    }
  }

  @Override
  public void onExecutorRemoved(SparkListenerExecutorRemoved e) {
    executorsRemoved.incrementAndGet();
  }
}
