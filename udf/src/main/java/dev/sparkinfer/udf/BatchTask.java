package dev.sparkinfer.udf;

import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * One step of a batch job: an Arrow batch in, the model, an Arrow batch out. The partition runner (in {@code jobs})
 * and the SQL UDFs (in {@code udf.sql}) drive tasks; a task never sees Spark rows.
 *
 * <p>Contract of {@link #run}: {@code out} receives exactly {@code in.getRowCount()} rows, row i of the output
 * belonging to row i of the input (the {@code id} column copied). A row the task cannot process is reported to
 * {@code rejects} with its index, and its other output columns are left null. Bad input never throws; a broken model
 * (every row failing) does, so the job fails loudly instead of rejecting a whole corpus.
 *
 * <p>Adding a job: write a task here (input and output schemas from {@code schemas/}) and a command in {@code jobs/}.
 */
public interface BatchTask extends AutoCloseable {
  /** Input batch schema; field 0 is {@code id}. */
  Schema inputSchema();

  /** Output batch schema; field 0 is {@code id}. */
  Schema outputSchema();

  /** Processes one batch; see the class comment. {@code out} is allocated and reset by the caller. */
  void run(VectorSchemaRoot in, VectorSchemaRoot out, RowRejects rejects);

  /**
   * Whether the task runs in two steps the partition runner may overlap: {@link #prepare} (CPU work on the input batch:
   * decoding, preprocessing; it must copy what it needs out of {@code in}, which is refilled afterwards) and
   * {@link #complete} (the model, into {@code out}). The runner prepares batch b + 1 on another thread while batch b
   * completes. {@link #run} must equal {@code complete(prepare(in, rejects), out, rejects)}.
   */
  default boolean pipelined() { return false; }

  /** The first step of a pipelined task; see {@link #pipelined}. */
  default Object prepare(VectorSchemaRoot in, RowRejects rejects) { throw new UnsupportedOperationException("not pipelined"); }

  /** The second step of a pipelined task; see {@link #pipelined}. */
  default void complete(Object prepared, VectorSchemaRoot out, RowRejects rejects) {
    throw new UnsupportedOperationException("not pipelined");
  }

  /** The model's short name, for the summary, e.g. {@code all-MiniLM-L6-v2}. */
  String modelName();

  /** The device that computes, for the summary, e.g. {@code java} or {@code opencl:...}. */
  String deviceDescription();

  @Override
  default void close() {}

  /** Receives rejected rows of a batch. */
  @FunctionalInterface
  interface RowRejects {
    void reject(int row, String stage, String reason, String detail);
  }
}
