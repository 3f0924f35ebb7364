package dev.sparkinfer.jobs.run;

import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.arrow.ArrowRows;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;

/**
 * Where a partition becomes Arrow batches. Reads the partition a window at a time ({@code windowRows} rows), sorts
 * the window's rows by {@link BatchTaskFactory#sortLength} so a batch holds rows of similar length (less padding), fills one
 * reused input {@link VectorSchemaRoot} per {@code batchSize} rows, runs the task into one reused output root, turns
 * the output back into records, and emits the window in its original order. Rows rejected while reading pass
 * through. A pipelined task ({@link BatchTask#pipelined}: the CLIP tasks, whose decode and preprocessing are CPU work)
 * prepares the next batch on another thread while the current one runs on the device. The task (and so the model, from the JVM's cache) is only made when a row needs it.
 */
public final class PartitionRunner implements FlatMapFunction<Iterator<InputRecord>, ResultRecord> {
  private static final long serialVersionUID = 1L;

  /** Where pipelined tasks prepare the next batch (daemon threads, made as needed, shared by the JVM's partitions). */
  private static final ExecutorService AHEAD = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "sparkinfer-prepare");
    t.setDaemon(true);
    return t;
  });

  private final BatchTaskFactory tasks;
  private final int batchSize;
  private final int windowRows;
  private final LongAccumulator rowsDone;
  private final CollectionAccumulator<String> taskInfo;

  /**
   * @param rowsDone  counts rows as they finish (progress); may be null
   * @param taskInfo  receives, once per partition that made a task, a {@link TaskInfo} line; may be null
   */
  public PartitionRunner(BatchTaskFactory tasks, int batchSize, int windowRows, LongAccumulator rowsDone,
      CollectionAccumulator<String> taskInfo) {
    if (batchSize < 1 || windowRows < batchSize) {
      throw new IllegalArgumentException("need 1 <= batchSize <= windowRows, got " + batchSize + " and " + windowRows);
    }
    this.tasks = tasks;
    this.batchSize = batchSize;
    this.windowRows = windowRows;
    this.rowsDone = rowsDone;
    this.taskInfo = taskInfo;
  }

  /** The same runner, reporting progress and task info to these accumulators. */
  public PartitionRunner reporting(LongAccumulator rowsDone, CollectionAccumulator<String> taskInfo) {
    return new PartitionRunner(tasks, batchSize, windowRows, rowsDone, taskInfo);
  }

  @Override
  public Run call(Iterator<InputRecord> rows) {
    Run run = new Run(rows, RootAllocator::new);
    TaskContext ctx = TaskContext.get();
    if (ctx != null) ctx.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) c -> run.close()); // also on failure or early stop
    return run;
  }

  /** Runs a partition with the given allocator (tests pass one whose close() fails on leaks). */
  public Iterator<ResultRecord> run(Iterator<InputRecord> rows, Supplier<BufferAllocator> allocator) {
    return new Run(rows, allocator);
  }

  /**
   * The lazy iterator over one partition's results; frees its Arrow memory when exhausted or closed. {@link #taskInfo}
   * tells which model and device ran (after the last row: the device of every batch).
   */
  public final class Run implements Iterator<ResultRecord>, AutoCloseable {
    private final Iterator<InputRecord> rows;
    private final Supplier<BufferAllocator> allocatorFactory;
    private BufferAllocator allocator;
    private BatchTask task;
    private VectorSchemaRoot in;
    private VectorSchemaRoot out;
    private ResultRecord[] window = new ResultRecord[0];
    private int next;
    private boolean closed;
    private TaskInfo info;

    Run(Iterator<InputRecord> rows, Supplier<BufferAllocator> allocatorFactory) {
      this.rows = rows;
      this.allocatorFactory = allocatorFactory;
    }

    @Override
    public boolean hasNext() {
      if (next < window.length) return true;
      if (closed) return false;
      if (!rows.hasNext()) {
        close();
        return false;
      }
      fillWindow();
      return next < window.length;
    }

    @Override
    public ResultRecord next() {
      if (!hasNext()) throw new NoSuchElementException();
      ResultRecord r = window[next];
      window[next++] = null;
      return r;
    }

    private void fillWindow() {
      List<InputRecord> batchable = new ArrayList<>();
      List<Integer> positions = new ArrayList<>();
      List<ResultRecord> results = new ArrayList<>();
      while (results.size() < windowRows && rows.hasNext()) {
        InputRecord r = rows.next();
        if (r.isRejected()) {
          results.add(ResultRecord.reject(r.id(), r.rejectStage, r.rejectReason, r.rejectDetail));
        } else {
          positions.add(results.size());
          batchable.add(r);
          results.add(null);
        }
      }
      int passedThrough = results.size() - batchable.size();
      if (passedThrough > 0 && rowsDone != null) rowsDone.add(passedThrough);
      if (!batchable.isEmpty()) {
        ensureTask();
        // sort by length so each batch pads little; results go back to their original positions
        Integer[] order = new Integer[batchable.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingInt(i -> tasks.sortLength(batchable.get(i).values)));
        List<List<Object[]>> batches = new ArrayList<>();
        for (int start = 0; start < order.length; start += batchSize) {
          int end = Math.min(order.length, start + batchSize);
          List<Object[]> batch = new ArrayList<>(end - start);
          for (int k = start; k < end; k++) batch.add(batchable.get(order[k]).values);
          batches.add(batch);
        }
        // a pipelined task prepares batch b + 1 (decode, preprocess: CPU) while batch b runs on the device
        Future<Prepared> ahead = null;
        for (int b = 0; b < batches.size(); b++) {
          Prepared p = ahead != null ? await(ahead) : prepare(batches.get(b));
          ahead = null;
          if (task.pipelined() && b + 1 < batches.size()) {
            List<Object[]> following = batches.get(b + 1);
            ahead = AHEAD.submit(() -> prepare(following));
          }
          ResultRecord[] answers;
          try {
            answers = complete(p);
          } catch (RuntimeException e) {
            if (ahead != null) await(ahead); // the next batch's preparation uses the input root: let it end first
            throw e;
          }
          int start = b * batchSize;
          for (int k = 0; k < answers.length; k++) results.set(positions.get(order[start + k]), answers[k]);
          if (rowsDone != null) rowsDone.add(answers.length);
        }
      }
      window = results.toArray(new ResultRecord[0]);
      next = 0;
    }

    /** A batch ready for the model: its rows, the answers so far (rejects), and what a pipelined task prepared. */
    private record Prepared(List<Object[]> rows, List<Object[]> input, ResultRecord[] answers, Object prepared) {}

    /** Fills the input root with the batch (carried values cut off) and, for a pipelined task, prepares it. */
    private Prepared prepare(List<Object[]> rows) {
      // values past the task's input columns are carried (--keep-cols): the task never sees them, the output gets them
      int columns = in.getFieldVectors().size();
      List<Object[]> batch = rows;
      if (rows.stream().anyMatch(r -> r.length > columns)) {
        batch = new ArrayList<>(rows.size());
        for (Object[] r : rows) batch.add(r.length > columns ? Arrays.copyOf(r, columns) : r);
      }
      ArrowRows.reset(in);
      ArrowRows.fill(in, batch);
      List<Object[]> input = batch;
      ResultRecord[] answers = new ResultRecord[batch.size()];
      Object prepared = task.pipelined() ? task.prepare(in, rejectsInto(answers, input)) : null;
      return new Prepared(rows, input, answers, prepared);
    }

    private static BatchTask.RowRejects rejectsInto(ResultRecord[] answers, List<Object[]> input) {
      return (row, stage, reason, detail) -> answers[row] = ResultRecord.reject((String) input.get(row)[0], stage, reason, detail);
    }

    /** Runs the model on a prepared batch; output values followed by the carried ones, or rejects. */
    private ResultRecord[] complete(Prepared p) {
      ArrowRows.reset(out);
      ResultRecord[] answers = p.answers();
      if (task.pipelined()) task.complete(p.prepared(), out, rejectsInto(answers, p.input()));
      else task.run(in, out, rejectsInto(answers, p.input()));
      if (out.getRowCount() != answers.length) {
        throw new IllegalStateException("task " + task.getClass().getSimpleName() + " returned " + out.getRowCount()
            + " rows for a batch of " + answers.length);
      }
      int columns = in.getFieldVectors().size();
      for (int i = 0; i < answers.length; i++) {
        if (answers[i] != null) continue;
        Object[] values = ArrowRows.row(out, i);
        Object[] row = p.rows().get(i);
        if (row.length > columns) { // the output's columns, then the carried ones
          int outCols = values.length;
          values = Arrays.copyOf(values, outCols + row.length - columns);
          System.arraycopy(row, columns, values, outCols, row.length - columns);
        }
        answers[i] = ResultRecord.output(values);
      }
      return answers;
    }

    private Prepared await(Future<Prepared> f) {
      try {
        return f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while preparing a batch", e);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof RuntimeException r) throw r;
        if (e.getCause() instanceof Error err) throw err;
        throw new IllegalStateException("preparing a batch failed: " + e.getCause(), e.getCause());
      }
    }

    private void ensureTask() {
      if (task != null) return;
      allocator = allocatorFactory.get();
      task = tasks.create();
      in = VectorSchemaRoot.create(task.inputSchema(), allocator);
      out = VectorSchemaRoot.create(task.outputSchema(), allocator);
      in.allocateNew();
      out.allocateNew();
    }

    /** The model and device of this partition's task so far (final once the partition is done); null when no row needed it. */
    public TaskInfo taskInfo() {
      return info != null ? info : task == null ? null : TaskInfo.of(task);
    }

    @Override
    public void close() {
      if (closed) return;
      closed = true;
      // what ran is told when the partition ends, after its last launch: a fallback mid-partition is in it
      if (task != null) info = TaskInfo.of(task);
      if (taskInfo != null && info != null) taskInfo.add(info.encode());
      // order matters: vectors before their allocator; the allocator's close() fails on a leak
      try (BufferAllocator a = allocator; BatchTask t = task; VectorSchemaRoot i = in; VectorSchemaRoot o = out) {
        // closes in reverse order: out, in, task, allocator
      }
    }
  }
}
