package dev.sparkinfer.jobs.run;

import java.io.Serializable;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/** A task's answer for one input row: output values (in the output schema order) or a reject. */
public final class ResultRecord implements Serializable {
  private static final long serialVersionUID = 1L;

  public final String id;
  public final Object[] values;
  public final String stage;
  public final String reason;
  public final String detail;

  private ResultRecord(String id, Object[] values, String stage, String reason, String detail) {
    this.id = id;
    this.values = values;
    this.stage = stage;
    this.reason = reason;
    this.detail = detail;
  }

  public static ResultRecord output(Object[] values) { return new ResultRecord((String) values[0], values, null, null, null); }

  public static ResultRecord reject(String id, String stage, String reason, String detail) {
    return new ResultRecord(id, null, stage, reason, detail);
  }

  public boolean isReject() { return stage != null; }

  /** A row of the task's output table. */
  public Row outputRow() { return RowFactory.create(values); }

  /** A row of the rejects table (id, stage, reason, detail). */
  public Row rejectRow() { return RowFactory.create(id, stage, reason, detail); }

  @Override
  public String toString() { return isReject() ? "reject " + id + " at " + stage + ": " + reason : "output " + id; }
}
