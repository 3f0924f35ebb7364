package dev.sparkinfer.udf;

import dev.sparkinfer.schemas.RejectsTable;
import java.nio.charset.StandardCharsets;
import org.apache.arrow.vector.VarCharVector;

/** The text tasks' shared input checks: a null or blank text is rejected (stage validate), never sent to a model. */
public final class TextRows {
  private TextRows() {}

  /** Row i's text, or null after rejecting it. */
  public static String textOrReject(VarCharVector texts, int i, BatchTask.RowRejects rejects) {
    if (texts.isNull(i)) {
      rejects.reject(i, RejectsTable.STAGE_VALIDATE, "null text", "the text column is null or missing for this row");
      return null;
    }
    String text = new String(texts.get(i), StandardCharsets.UTF_8);
    if (text.isBlank()) {
      rejects.reject(i, RejectsTable.STAGE_VALIDATE, "empty text", text.isEmpty() ? "the text is the empty string"
          : "the text is only whitespace (" + text.length() + " chars)");
      return null;
    }
    return text;
  }
}
