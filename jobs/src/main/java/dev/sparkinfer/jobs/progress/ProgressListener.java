package dev.sparkinfer.jobs.progress;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.Success$;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import scala.Option;
import scala.Tuple4;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Rows done, live, from one accumulator: running tasks report their partial counts in executor heartbeats, finished
 * tasks their final counts at task end; a failed attempt's rows are dropped (its retry counts them again).
 */
public final class ProgressListener extends SparkListener {
  private final long accumulatorId;
  private final AtomicLong finished = new AtomicLong();
  private final Map<Long, Long> running = new ConcurrentHashMap<>();
  /** Ended tasks: a heartbeat that arrives after the task's end must not bring it back. */
  private final Set<Long> ended = ConcurrentHashMap.newKeySet();

  public ProgressListener(long accumulatorId) { this.accumulatorId = accumulatorId; }

  /** Rows finished by successful tasks plus rows reported so far by running ones. */
  public long rowsDone() {
    long sum = finished.get();
    for (long v : running.values()) sum += v;
    return sum;
  }

  @Override
  public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate update) {
    for (Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> t
        : CollectionConverters.asJava(update.accumUpdates())) {
      Long v = valueOf(t._4());
      Long taskId = (Long) t._1();
      if (v != null && !ended.contains(taskId)) running.put(taskId, v);
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd end) {
    long taskId = end.taskInfo().taskId();
    ended.add(taskId);
    running.remove(taskId);
    if (end.reason() instanceof Success$ && end.taskInfo() != null) {
      Long v = valueOf(end.taskInfo().accumulables());
      if (v != null) finished.addAndGet(v);
    }
  }

  private Long valueOf(scala.collection.Seq<AccumulableInfo> infos) {
    for (AccumulableInfo info : CollectionConverters.asJava(infos)) {
      if (info.id() != accumulatorId) continue;
      Option<Object> update = info.update(); // this task's own count
      if (update.isDefined() && update.get() instanceof Number n) return n.longValue();
    }
    return null;
  }
}
