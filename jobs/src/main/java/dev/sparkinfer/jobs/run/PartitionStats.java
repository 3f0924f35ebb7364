package dev.sparkinfer.jobs.run;

import java.io.Serializable;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Counts of a partition's results (written rows, rejects by stage); merged on the driver. */
public final class PartitionStats implements Serializable {
  private static final long serialVersionUID = 1L;

  public long written;
  public long rejected;
  public final Map<String, Long> rejectedByStage = new TreeMap<>();
  /** "stage: reason" counts; at most {@link #MAX_REASONS} distinct keys, the rest counted under {@link #OTHER}. */
  public final Map<String, Long> rejectedByReason = new TreeMap<>();
  static final int MAX_REASONS = 200;
  static final String OTHER = "(other reasons)";

  /** Drains a partition's results into one stats object (the action that runs the tasks). */
  public static Iterator<PartitionStats> of(Iterator<ResultRecord> results) {
    PartitionStats s = new PartitionStats();
    while (results.hasNext()) s.add(results.next());
    return List.of(s).iterator();
  }

  /** Counts one result. */
  public void add(ResultRecord r) {
    if (r.isReject()) {
      rejected++;
      rejectedByStage.merge(r.stage, 1L, Long::sum);
      countReason(r.stage + ": " + r.reason, 1L);
    } else {
      written++;
    }
  }

  public PartitionStats merge(PartitionStats o) {
    written += o.written;
    rejected += o.rejected;
    o.rejectedByStage.forEach((k, v) -> rejectedByStage.merge(k, v, Long::sum));
    o.rejectedByReason.forEach(this::countReason);
    return this;
  }

  private void countReason(String key, long n) {
    if (rejectedByReason.containsKey(key) || rejectedByReason.size() < MAX_REASONS) rejectedByReason.merge(key, n, Long::sum);
    else rejectedByReason.merge(OTHER, n, Long::sum);
  }
}
