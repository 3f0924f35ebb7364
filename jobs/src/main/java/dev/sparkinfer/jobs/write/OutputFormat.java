package dev.sparkinfer.jobs.write;

import java.util.Locale;

/** Output formats: Parquet (default), Arrow IPC files, or JSON lines with the same field names. */
public enum OutputFormat {
  PARQUET, ARROW, JSONL;

  public static OutputFormat parse(String s) {
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown output format '" + s + "': use parquet, arrow or jsonl");
    }
  }
}
