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
}
