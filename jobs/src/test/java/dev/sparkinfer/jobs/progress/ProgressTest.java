package dev.sparkinfer.jobs.progress;

import static org.junit.jupiter.api.Assertions.*;

import dev.sparkinfer.jobs.testing.TestSpark;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.util.LongAccumulator;
import org.junit.jupiter.api.Test;

class ProgressTest {
  @Test
  void theLineShowsDoneTotalRateAndEta() {
    assertEquals("embed  4,096 / 10,000 rows   40%  800 rows/s  ETA 0:07",
        ProgressDisplay.line("embed", 4096, 10_000, 5.12));
    assertEquals("embed  0 / 10 rows    0%  0 rows/s  ETA --:--", ProgressDisplay.line("embed", 0, 10, 0));
    assertEquals("embed  10 / 10 rows  100%  5 rows/s  ETA 0:00", ProgressDisplay.line("embed", 10, 10, 2));
    assertEquals("1:01:01", ProgressDisplay.clock(3661));
  }

  @Test
  void theListenerCountsEveryRowOnceWhenTheJobEnds() {
    SparkContext sc = TestSpark.session().sparkContext();
    LongAccumulator rows = sc.longAccumulator("test.rows");
    ProgressListener listener = new ProgressListener(rows.id());
    sc.addSparkListener(listener);
    try {
      List<Integer> data = new ArrayList<>();
      for (int i = 0; i < 1000; i++) data.add(i);
      long n = JavaSparkContext.fromSparkContext(sc).parallelize(data, 4).mapPartitions(it -> {
        List<Integer> out = new ArrayList<>();
        it.forEachRemaining(x -> {
          out.add(x);
          rows.add(1);
        });
        return out.iterator();
      }).count();
      assertEquals(1000, n);
      // listener events are delivered asynchronously: wait for the bus to drain
      long deadline = System.currentTimeMillis() + 10_000;
      while (listener.rowsDone() < 1000 && System.currentTimeMillis() < deadline) Thread.onSpinWait();
      assertEquals(1000, listener.rowsDone());
    } finally {
      sc.removeSparkListener(listener);
    }
  }
}
