package dev.sparkinfer.jobs.io;

import static dev.sparkinfer.schemas.RejectsTable.STAGE_VALIDATE;

import dev.sparkinfer.jobs.run.InputRecord;

/**
 * The one id (and text) rule all input formats share: an id is written exactly as read, so it must be present, not
 * empty or blank, and valid Unicode (a lone surrogate, possible through a JSON {@code \ud800} escape, would be written
 * as {@code ?} and could collide with another id). A row that breaks it is rejected under {@code where} (file:line),
 * with the id, escaped, in the detail. Texts must be valid Unicode too.
 */
public final class IdRule {
  private IdRule() {}

  /** A reject for a bad id, or null when {@code id} is good. */
  public static InputRecord check(String id, String where, String what) {
    if (id == null) return InputRecord.rejected(where, STAGE_VALIDATE, "null id", what + ": the id is missing or null");
    if (id.isBlank()) {
      return InputRecord.rejected(where, STAGE_VALIDATE, "empty id", what + ": the id is " + (id.isEmpty() ? "the empty string" : "only whitespace"));
    }
    int bad = loneSurrogate(id);
    if (bad >= 0) {
      return InputRecord.rejected(where, STAGE_VALIDATE, "id is not valid Unicode", what + ": the id " + escape(id)
          + " has a lone surrogate at char " + bad + "; it cannot be written unchanged");
    }
    return null;
  }

  /** A reject for a text that is not valid Unicode, or null. */
  public static InputRecord checkText(String id, String text, String what) {
    int bad = text == null ? -1 : loneSurrogate(text);
    if (bad < 0) return null;
    return InputRecord.rejected(id, STAGE_VALIDATE, "text is not valid Unicode",
        what + ": the text has a lone surrogate (U+" + String.format("%04X", (int) text.charAt(bad)) + ") at char " + bad);
  }

  /** Index of the first unpaired surrogate, or -1. */
  static int loneSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) i++;
        else return i;
      } else if (Character.isLowSurrogate(c)) {
        return i;
      }
    }
    return -1;
  }

  /** Java-style escapes for anything outside printable ASCII, so a detail shows exactly what the id was. */
  static String escape(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') b.append(c);
      else b.append(String.format("\\u%04x", (int) c));
    }
    return b.append('"').toString();
  }
}
