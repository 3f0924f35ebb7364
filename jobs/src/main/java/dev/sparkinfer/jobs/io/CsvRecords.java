package dev.sparkinfer.jobs.io;

import static dev.sparkinfer.schemas.RejectsTable.STAGE_READ;

import dev.sparkinfer.jobs.run.InputRecord;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The records of one CSV file (RFC 4180: a header row, fields separated by commas, fields in double quotes may hold
 * commas, line breaks and {@code ""} for a quote), read from {@link Utf8Lines} so that every record knows its line
 * number and its bytes are decoded strictly. CSV has no null: an empty field is the empty string, so an empty id or
 * text is rejected as {@code empty id} / {@code empty text}, as in every format. A row whose field count differs
 * from the header's is rejected ({@code ragged CSV row}) rather than cut or padded; blank lines are skipped; a line
 * break inside a quoted field is read as {@code \n}.
 */
public final class CsvRecords {
  private final Utf8Lines lines;
  private final String file;
  private final LineRecords lineIds;
  private final String idCol;
  private final String textCol;
  private List<String> header;
  private int idIndex = -1;
  private int textIndex = -1;
  private final List<String> extraCols;
  private final boolean textRequired;
  private int[] extraIndex;
  private boolean done;

  public CsvRecords(Utf8Lines lines, String file, String idCol, String textCol) {
    this(lines, file, idCol, textCol, List.of(), true);
  }

  /**
   * @param extraCols    columns read after the id and the text (the image jobs' image path and carried columns)
   * @param textRequired whether the header must have the text column (an image job without captions: no)
   */
  public CsvRecords(Utf8Lines lines, String file, String idCol, String textCol, List<String> extraCols, boolean textRequired) {
    this.extraCols = List.copyOf(extraCols);
    this.textRequired = textRequired;
    this.lines = lines;
    this.file = file;
    this.lineIds = new LineRecords(file, idCol, textCol);
    this.idCol = idCol;
    this.textCol = textCol;
  }

  /** One parsed record: its first line, its fields, and what was wrong with it (null when nothing). */
  record Record(long line, List<String> fields, String readReason, String readDetail, Utf8Lines.Line damaged) {}

  /** The header's column names, reading it if not read yet; null for an empty file. */
  public List<String> header() {
    if (header == null && !done) {
      Record r = nextRecord();
      if (r == null) return null;
      if (r.damaged() != null || r.readReason() != null) {
        throw new IllegalStateException("the header of " + file + " cannot be read: "
            + (r.damaged() != null ? r.damaged().readError() : r.readReason() + " (" + r.readDetail() + ")"));
      }
      header = r.fields();
      idIndex = header.indexOf(idCol);
      textIndex = header.indexOf(textCol);
      extraIndex = extraCols.stream().mapToInt(header::indexOf).toArray();
    }
    return header;
  }

  /** The next corpus record, or null at the end of the file. */
  public InputRecord next() {
    if (header() == null) return null;
    if (idIndex < 0 || textIndex < 0 && textRequired) {
      throw new IllegalStateException(file + " has no column '" + (idIndex < 0 ? idCol : textCol) + "' in its header " + header);
    }
    Record r = nextRecord();
    if (r == null) return null;
    String fileLine = lineIds.lineId(r.line());
    String where = "line " + r.line() + " of " + file;
    if (r.damaged() != null) return lineIds.damaged(r.damaged());
    List<String> f = r.fields();
    if (r.readReason() != null) {
      String id = f.size() == header.size() ? f.get(idIndex) : null;
      boolean keep = id != null && id.indexOf('\uFFFD') < 0 && IdRule.check(id, fileLine, where) == null;
      return InputRecord.rejected(keep ? id : fileLine, STAGE_READ, r.readReason(), where + ": " + r.readDetail());
    }
    if (f.size() != header.size()) {
      return InputRecord.rejected(fileLine, STAGE_READ, "ragged CSV row", where + ": " + f.size() + " field(s), the header has "
          + header.size() + " " + header + "; quote fields that hold commas");
    }
    String id = f.get(idIndex);
    InputRecord badId = IdRule.check(id, fileLine, where + ", column '" + idCol + "'");
    if (badId != null) return badId;
    Object[] extras = new Object[extraIndex.length];
    for (int k = 0; k < extras.length; k++) extras[k] = extraIndex[k] < 0 ? null : f.get(extraIndex[k]);
    return LineRecords.row(id, textIndex < 0 ? null : f.get(textIndex), extras);
  }

  /** Parses the next record; null at the end. Blank lines between records are skipped. */
  private Record nextRecord() {
    if (done) return null;
    Utf8Lines.Line line;
    do {
      line = lines.next();
      if (line == null) {
        done = true;
        return null;
      }
    } while (line.valid() && line.text().isEmpty());
    long start = line.number();
    List<String> fields = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quoted = false;   // inside a quoted field
    boolean wasQuoted = false; // the current field was quoted and its closing quote seen
    String badReason = null;
    String badDetail = null;
    while (true) {
      if (line.damaged()) {
        done = true;
        return new Record(start, fields, null, null, new Utf8Lines.Line(start, null, null, null, line.readError()));
      }
      String text = line.valid() ? line.text() : new String(line.raw(), StandardCharsets.UTF_8);
      if (!line.valid() && badReason == null) {
        badReason = "invalid UTF-8";
        badDetail = (line.number() == start ? "" : "line " + line.number() + ": ") + line.utf8Error();
      }
      for (int i = 0; i < text.length(); i++) {
        char c = text.charAt(i);
        if (quoted) {
          if (c == '"') {
            if (i + 1 < text.length() && text.charAt(i + 1) == '"') {
              field.append('"');
              i++;
            } else {
              quoted = false;
              wasQuoted = true;
            }
          } else {
            field.append(c);
          }
        } else if (c == ',') {
          fields.add(field.toString());
          field.setLength(0);
          wasQuoted = false;
        } else if (c == '"' && field.length() == 0 && !wasQuoted) {
          quoted = true;
        } else {
          if (wasQuoted && badReason == null) {
            badReason = "malformed CSV";
            badDetail = "text after the closing quote of field " + (fields.size() + 1) + " (write a quote inside a quoted field as \"\")";
          }
          field.append(c);
        }
      }
      if (!quoted) break;
      line = lines.next();
      if (line == null) {
        done = true;
        fields.add(field.toString());
        return new Record(start, fields, "malformed CSV", "a quoted field opened on line " + start + " is never closed", null);
      }
      field.append('\n');
    }
    fields.add(field.toString());
    return new Record(start, fields, badReason, badDetail, null);
  }
}
