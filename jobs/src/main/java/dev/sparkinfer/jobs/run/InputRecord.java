package dev.sparkinfer.jobs.run;

import java.io.Serializable;

/**
 * One corpus row on its way to a task: values in the task's input schema order (values[0] is the id, never null),
 * or a row already rejected while reading (then {@code rejectStage} is set and the runner passes it through).
 */
public final class InputRecord implements Serializable {
  private static final long serialVersionUID = 1L;

  public final Object[] values;
  public final String rejectStage;
  public final String rejectReason;
  public final String rejectDetail;

  private InputRecord(Object[] values, String rejectStage, String rejectReason, String rejectDetail) {
    if (values == null || values.length == 0 || values[0] == null) throw new IllegalArgumentException("a record needs an id");
    this.values = values;
    this.rejectStage = rejectStage;
    this.rejectReason = rejectReason;
    this.rejectDetail = rejectDetail;
  }

  public static InputRecord row(Object... values) { return new InputRecord(values, null, null, null); }

  public static InputRecord rejected(String id, String stage, String reason, String detail) {
    return new InputRecord(new Object[] {id}, stage, reason, detail);
  }

  public String id() { return (String) values[0]; }

  public boolean isRejected() { return rejectStage != null; }

  @Override
  public String toString() {
    return isRejected() ? "rejected " + id() + " at " + rejectStage + ": " + rejectReason : "row " + id();
  }
}
