package dev.sparkinfer.jobs.run;

import static org.junit.jupiter.api.Assertions.*;

import dev.sparkinfer.schemas.CorpusTable;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.arrow.ArrowRows;
import dev.sparkinfer.udf.testing.StrictAllocator;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

class PartitionRunnerTest {
  /** Batch compositions seen by the task (lengths of the texts of each batch). */
  static final List<List<Integer>> BATCHES = new ArrayList<>();

  /** Echo task: output (id, text upper-cased); rejects texts starting with "bad". */
  static class EchoTask implements BatchTask {
    @Override public Schema inputSchema() { return CorpusTable.arrowSchema(); }
    @Override public Schema outputSchema() { return CorpusTable.arrowSchema(); }
    @Override public String modelName() { return "echo"; }
    @Override public String deviceDescription() { return "none"; }

    @Override
    public void run(VectorSchemaRoot in, VectorSchemaRoot out, RowRejects rejects) {
      List<Object[]> rows = new ArrayList<>();
      List<Integer> lengths = new ArrayList<>();
      for (int i = 0; i < in.getRowCount(); i++) {
        Object[] r = ArrowRows.row(in, i);
        lengths.add(((String) r[1]).length());
        if (((String) r[1]).startsWith("bad")) {
          rejects.reject(i, "embed", "bad row", null);
          rows.add(new Object[] {r[0], null});
        } else {
          rows.add(new Object[] {r[0], ((String) r[1]).toUpperCase()});
        }
      }
      BATCHES.add(lengths);
      ArrowRows.fill(out, rows);
    }
  }

  @Test
  void batchesAreSortedByLengthAndTheOriginalOrderIsRestored() {
    BATCHES.clear();
    List<InputRecord> input = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      if (i == 3) input.add(InputRecord.rejected("r3", "read", "invalid UTF-8", "d"));
      else if (i == 11) input.add(InputRecord.row("r11", "bad " + "x".repeat(i % 7)));
      else input.add(InputRecord.row("r" + i, "t".repeat(1 + (i * 7) % 13)));
    }
    BatchTaskFactory tasks = new BatchTaskFactory() {
      @Override public BatchTask create() { return new EchoTask(); }
      @Override public int sortLength(Object[] row) { return ((String) row[1]).length(); }
    };
    PartitionRunner runner = new PartitionRunner(tasks, 4, 12, null, null);
    List<ResultRecord> out = new ArrayList<>();
    try (StrictAllocator allocator = new StrictAllocator()) {
      Iterator<ResultRecord> it = runner.run(input.iterator(), () -> allocator.newChildAllocator("partition", 0, Long.MAX_VALUE));
      it.forEachRemaining(out::add);
    } // fails on any leaked buffer

    assertEquals(input.size(), out.size());
    for (int i = 0; i < input.size(); i++) {
      ResultRecord r = out.get(i);
      assertEquals(input.get(i).id(), r.id, "order restored at " + i);
      if (i == 3) assertEquals("read", r.stage);
      else if (i == 11) assertEquals("embed", r.stage);
      else assertEquals(((String) input.get(i).values[1]).toUpperCase(), r.values[1]);
    }
    // within each window, batches come in ascending length and each batch is sorted
    for (List<Integer> b : BATCHES) {
      assertTrue(b.size() <= 4);
      for (int k = 1; k < b.size(); k++) assertTrue(b.get(k - 1) <= b.get(k), "sorted batch " + b);
    }
    assertEquals(7, BATCHES.size(), "windows of 12, 12 and 1 rows (two read rejects pass through): 3+3+1 batches");
  }

  @Test
  void aPartitionOfReadRejectsNeverMakesTheTask() {
    BatchTaskFactory tasks = () -> { throw new AssertionError("the model must not be loaded for nothing"); };
    PartitionRunner runner = new PartitionRunner(tasks, 4, 8, null, null);
    List<ResultRecord> out = new ArrayList<>();
    runner.run(List.of(InputRecord.rejected("a", "read", "x", null)).iterator(), StrictAllocator::new).forEachRemaining(out::add);
    assertEquals(1, out.size());
    assertTrue(out.get(0).isReject());
  }

  /**
   * The device a partition reports is read when the partition ends: an engine that fell back to Java threads during
   * the partition (auto mode) is reported so, not as the device it started on.
   */
  @Test
  void theDeviceIsReportedAfterThePartitionsLastBatch() {
    BatchTaskFactory tasks = () -> new EchoTask() {
      private boolean ran;

      @Override public String deviceDescription() { return ran ? "opencl: X PARTLY ON JAVA THREADS" : "opencl: X"; }

      @Override
      public void run(VectorSchemaRoot in, VectorSchemaRoot out, RowRejects rejects) {
        super.run(in, out, rejects);
        ran = true;
      }
    };
    org.apache.spark.util.CollectionAccumulator<String> info = new org.apache.spark.util.CollectionAccumulator<>();
    PartitionRunner runner = new PartitionRunner(tasks, 4, 8, null, info);
    List<ResultRecord> out = new ArrayList<>();
    try (StrictAllocator allocator = new StrictAllocator()) {
      runner.run(List.of(InputRecord.row("a", "x"), InputRecord.row("b", "yy")).iterator(),
          () -> allocator.newChildAllocator("partition", 0, Long.MAX_VALUE)).forEachRemaining(out::add);
    }
    assertEquals(2, out.size());
    assertEquals(1, info.value().size());
    assertEquals("opencl: X PARTLY ON JAVA THREADS", TaskInfo.decode(info.value().get(0)).device());
  }

  /** Echo in two steps: prepare (upper-cases, rejects "bad" texts, records its thread) and complete (writes the output). */
  static class PipelinedEcho extends EchoTask {
    final List<String> prepareThreads = java.util.Collections.synchronizedList(new ArrayList<>());
    final java.util.concurrent.atomic.AtomicInteger overlaps = new java.util.concurrent.atomic.AtomicInteger();
    volatile boolean completing;
    volatile int completesStarted;
    volatile int prepared;

    @Override public boolean pipelined() { return true; }

    @Override
    public Object prepare(VectorSchemaRoot in, RowRejects rejects) {
      int batch = prepared++;
      prepareThreads.add(Thread.currentThread().getName());
      // batch b (b > 0) waits until batch b - 1's completion has started, then looks whether it is still running:
      // with pipelining it is (it sleeps), without it the completion would be over (or never start: the wait times out)
      long until = System.nanoTime() + 2_000_000_000L;
      while (batch > 0 && completesStarted < batch && System.nanoTime() < until) Thread.onSpinWait();
      if (completing) overlaps.incrementAndGet();
      List<Object[]> rows = new ArrayList<>();
      for (int i = 0; i < in.getRowCount(); i++) {
        Object[] r = ArrowRows.row(in, i); // copied out: the runner refills the input root
        if (((String) r[1]).startsWith("bad")) rejects.reject(i, "image", "bad row", null);
        rows.add(new Object[] {r[0], ((String) r[1]).toUpperCase()});
      }
      return rows;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void complete(Object prepared, VectorSchemaRoot out, RowRejects rejects) {
      completing = true;
      completesStarted++;
      try {
        Thread.sleep(50); // the device: long enough for the next batch's preparation to see it running
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
      ArrowRows.fill(out, (List<Object[]>) prepared);
      completing = false;
    }
  }

  @Test
  void aPipelinedTaskPreparesTheNextBatchWhileOneCompletesAndCarriedValuesFollowTheOutput() {
    PipelinedEcho task = new PipelinedEcho();
    List<InputRecord> input = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      String text = i % 9 == 4 ? "bad" + i : "t" + i;
      input.add(InputRecord.row("r" + i, text, "carried" + i, (long) i)); // two values past the task's columns
    }
    PartitionRunner runner = new PartitionRunner(() -> task, 4, 40, null, null);
    List<ResultRecord> out = new ArrayList<>();
    try (StrictAllocator allocator = new StrictAllocator()) {
      runner.run(input.iterator(), () -> allocator.newChildAllocator("partition", 0, Long.MAX_VALUE)).forEachRemaining(out::add);
    }
    assertEquals(40, out.size());
    for (int i = 0; i < 40; i++) {
      ResultRecord r = out.get(i);
      assertEquals("r" + i, r.id);
      if (i % 9 == 4) {
        assertEquals("image", r.stage, "a prepare-time reject at " + i);
      } else {
        assertArrayEquals(new Object[] {"r" + i, ("t" + i).toUpperCase(), "carried" + i, (long) i}, r.values);
      }
    }
    assertEquals(10, task.prepareThreads.size());
    assertTrue(task.prepareThreads.stream().filter(t -> t.equals("sparkinfer-prepare")).count() >= 9, "batches 2..10 prepared ahead");
    assertTrue(task.overlaps.get() >= 1, "some preparation overlapped a completion");
  }
}
