package dev.sparkinfer.jobs.io;

import static dev.sparkinfer.schemas.RejectsTable.STAGE_READ;
import static dev.sparkinfer.schemas.RejectsTable.STAGE_VALIDATE;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.sparkinfer.jobs.run.InputRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Turns the lines of JSONL and plain-text files into corpus records. Blank lines are not records and are skipped.
 * A line that cannot be read becomes a reject with stage {@code read}; its id is the JSON id when that can still be
 * read, else {@code file:line}. A damaged file (e.g. a truncated .gz) gives one reject, {@code damaged file}, for
 * everything from the line where reading stopped.
 *
 * <p>JSON is read as a stream: only the id and text fields are taken (a number id keeps its literal text, so ids
 * round-trip exactly); other fields are skipped whatever their size or depth; strings have no length cap (long texts
 * are cut and flagged by the task, as in every format).
 */
public final class LineRecords {
  /** No caps on string length or nesting: a valid line is a record, whatever its size (memory is bounded by the line). */
  static final JsonFactory JSON = JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(Integer.MAX_VALUE)
          .maxNestingDepth(Integer.MAX_VALUE).maxNumberLength(Integer.MAX_VALUE).build())
      .build();

  private final String file;
  private final String idCol;
  private final String textCol;
  private final java.util.List<String> extraCols;

  /** @param file the file's path as ids show it */
  public LineRecords(String file, String idCol, String textCol) {
    this(file, idCol, textCol, java.util.List.of());
  }

  /**
   * @param extraCols columns read after the id and the text (the image jobs' image path and carried columns): a
   *                  string as its value, a number or boolean as its literal text, an object or array as its JSON
   *                  text, null or absent as null
   */
  public LineRecords(String file, String idCol, String textCol, java.util.List<String> extraCols) {
    this.file = file;
    this.idCol = idCol;
    this.textCol = textCol;
    this.extraCols = java.util.List.copyOf(extraCols);
  }

  public String lineId(long line) { return file + ":" + line; }

  /** The reject for the unreadable rest of a damaged file. */
  public InputRecord damaged(Utf8Lines.Line line) {
    return InputRecord.rejected(lineId(line.number()), STAGE_READ, "damaged file", file + " cannot be read past line "
        + (line.number() - 1) + " (" + line.readError() + "): the lines before were read; the rest of the file is lost");
  }

  /** Plain text: the line is the document, its id is {@code file:line}. Null for a blank line. */
  public InputRecord text(Utf8Lines.Line line) {
    if (line.damaged()) return damaged(line);
    String id = lineId(line.number());
    if (!line.valid()) {
      return InputRecord.rejected(id, STAGE_READ, "invalid UTF-8", "line " + line.number() + " of " + file + ": " + line.utf8Error());
    }
    if (line.text().isBlank()) return null;
    return InputRecord.row(id, line.text());
  }

  /** What a JSON line holds of interest: the id (literal text; null when absent or null) and the text. */
  private record Fields(boolean isObject, JsonToken first, String id, JsonToken idToken, String text, JsonToken textToken, String[] extras) {}

  private Fields parse(String json) throws IOException {
    try (JsonParser p = JSON.createParser(json)) {
      JsonToken first = p.nextToken();
      if (first != JsonToken.START_OBJECT) {
        if (first != null && (first.isStructStart())) p.skipChildren();
        if (first != null && p.nextToken() != null) throw new JsonParseException(p, "trailing content after the JSON value");
        return new Fields(false, first, null, null, null, null, null);
      }
      String id = null;
      String text = null;
      JsonToken idTok = null;
      JsonToken textTok = null;
      String[] extras = new String[extraCols.size()];
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        boolean isId = name.equals(idCol);
        boolean isText = name.equals(textCol);
        if (isId) {
          idTok = v;
          id = v.isScalarValue() && v != JsonToken.VALUE_NULL ? p.getText() : null;
        }
        if (isText) {
          textTok = v;
          text = v == JsonToken.VALUE_STRING ? p.getText() : null;
        }
        int extra = extraCols.indexOf(name);
        if (extra >= 0) {
          if (v.isStructStart()) {
            java.io.StringWriter w = new java.io.StringWriter();
            try (com.fasterxml.jackson.core.JsonGenerator g = JSON.createGenerator(w)) {
              g.copyCurrentStructure(p);
            }
            extras[extra] = w.toString();
          } else {
            extras[extra] = v == JsonToken.VALUE_NULL ? null : p.getText();
          }
        } else if (v.isStructStart()) {
          p.skipChildren();
        }
      }
      if (p.nextToken() != null) throw new JsonParseException(p, "trailing content after the JSON object");
      return new Fields(true, first, id, idTok, text, textTok, extras);
    }
  }

  /** JSONL: one object a line with the id and text fields. Null for a blank line. */
  public InputRecord json(Utf8Lines.Line line) {
    if (line.damaged()) return damaged(line);
    String where = "line " + line.number() + " of " + file;
    String fileLine = lineId(line.number());
    if (!line.valid()) {
      // the text is lost, but the id may still be readable: keep it so the row can be found
      String id = fileLine;
      try {
        Fields f = parse(new String(line.raw(), StandardCharsets.UTF_8));
        if (f.id() != null && f.id().indexOf('\uFFFD') < 0 && IdRule.check(f.id(), fileLine, where) == null) id = f.id();
      } catch (IOException ignored) {
        // keep file:line
      }
      return InputRecord.rejected(id, STAGE_READ, "invalid UTF-8", where + ": " + line.utf8Error());
    }
    if (line.text().isBlank()) return null;
    Fields f;
    try {
      f = parse(line.text());
    } catch (JsonProcessingException e) {
      return InputRecord.rejected(fileLine, STAGE_READ, "unparsable JSON", where + ": " + e.getOriginalMessage());
    } catch (IOException e) {
      return InputRecord.rejected(fileLine, STAGE_READ, "unparsable JSON", where + ": " + e.getMessage());
    }
    if (!f.isObject()) {
      return InputRecord.rejected(fileLine, STAGE_READ, "not a JSON object", where + ": expected {\"" + idCol + "\": ..., \""
          + textCol + "\": ...}, got a JSON " + kind(f.first()));
    }
    if (f.idToken() != null && f.idToken().isStructStart()) {
      return InputRecord.rejected(fileLine, STAGE_VALIDATE, "id is not a scalar",
          where + ": field '" + idCol + "' is a JSON " + kind(f.idToken()) + "; ids are strings or numbers");
    }
    InputRecord badId = IdRule.check(f.id(), fileLine, where + ", field '" + idCol + "'");
    if (badId != null) return badId;
    String id = f.id();
    if (f.textToken() == null || f.textToken() == JsonToken.VALUE_NULL) return row(id, null, f.extras()); // the task rejects it: null text
    if (f.textToken() != JsonToken.VALUE_STRING) {
      return InputRecord.rejected(id, STAGE_VALIDATE, "text is not a string", where + ": field '" + textCol + "' is a JSON " + kind(f.textToken()));
    }
    InputRecord badText = IdRule.checkText(id, f.text(), where);
    return badText != null ? badText : row(id, f.text(), f.extras());
  }

  /** id, text, then the extra columns' values. */
  static InputRecord row(String id, String text, Object[] extras) {
    if (extras == null || extras.length == 0) return InputRecord.row(id, text);
    Object[] v = new Object[2 + extras.length];
    v[0] = id;
    v[1] = text;
    System.arraycopy(extras, 0, v, 2, extras.length);
    return InputRecord.row(v);
  }

  private static String kind(JsonToken t) {
    if (t == null) return "nothing";
    return switch (t) {
      case START_OBJECT -> "object";
      case START_ARRAY -> "array";
      case VALUE_STRING -> "string";
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "number";
      case VALUE_TRUE, VALUE_FALSE -> "boolean";
      case VALUE_NULL -> "null";
      default -> t.toString().toLowerCase();
    };
  }
}
