package dev.sparkinfer.jobs.io;

import static dev.sparkinfer.schemas.RejectsTable.STAGE_READ;
import static dev.sparkinfer.schemas.RejectsTable.STAGE_VALIDATE;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.jobs.run.InputRecord;
import java.nio.charset.StandardCharsets;

/**
 * Turns the lines of JSONL and plain-text files into corpus records. Blank lines are not records and are skipped.
 * A line that cannot be read becomes a reject with stage {@code read}; its id is the JSON id when that can still be
 * read, else {@code file:line}.
 */
public final class LineRecords {
  private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private final String file;
  private final String idCol;
  private final String textCol;

  /** @param file the file's path as ids show it */
  public LineRecords(String file, String idCol, String textCol) {
    this.file = file;
    this.idCol = idCol;
    this.textCol = textCol;
  }

  public String lineId(long line) { return file + ":" + line; }

  /** Plain text: the line is the document, its id is {@code file:line}. Null for a blank line. */
  public InputRecord text(Utf8Lines.Line line) {
    String id = lineId(line.number());
    if (!line.valid()) {
      return InputRecord.rejected(id, STAGE_READ, "invalid UTF-8", "line " + line.number() + " of " + file + ": " + line.utf8Error());
    }
    if (line.text().isBlank()) return null;
    return InputRecord.row(id, line.text());
  }

  /** JSONL: one object a line with the id and text fields. Null for a blank line. */
  public InputRecord json(Utf8Lines.Line line) {
    String where = "line " + line.number() + " of " + file;
    if (!line.valid()) {
      // the text is lost, but the id may still be readable: keep it so the row can be found
      String lenient = new String(line.raw(), StandardCharsets.UTF_8);
      String id = lineId(line.number());
      try {
        JsonNode n = JSON.readTree(lenient);
        JsonNode idNode = n == null ? null : n.get(idCol);
        if (idNode != null && idNode.isValueNode() && !idNode.isNull() && idNode.asText().indexOf('\uFFFD') < 0) {
          id = idNode.asText();
        }
      } catch (JsonProcessingException ignored) {
        // keep file:line
      }
      return InputRecord.rejected(id, STAGE_READ, "invalid UTF-8", where + ": " + line.utf8Error());
    }
    if (line.text().isBlank()) return null;
    JsonNode node;
    try {
      node = JSON.readTree(line.text());
    } catch (JsonProcessingException e) {
      return InputRecord.rejected(lineId(line.number()), STAGE_READ, "unparsable JSON", where + ": " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      return InputRecord.rejected(lineId(line.number()), STAGE_READ, "not a JSON object",
          where + ": expected {\"" + idCol + "\": ..., \"" + textCol + "\": ...}, got a JSON " + (node == null ? "nothing" : node.getNodeType().toString().toLowerCase()));
    }
    JsonNode idNode = node.get(idCol);
    if (idNode == null || idNode.isNull()) {
      return InputRecord.rejected(lineId(line.number()), STAGE_VALIDATE, "null id", where + ": field '" + idCol + "' is missing or null");
    }
    if (!idNode.isValueNode()) {
      return InputRecord.rejected(lineId(line.number()), STAGE_VALIDATE, "id is not a scalar",
          where + ": field '" + idCol + "' is a JSON " + idNode.getNodeType().toString().toLowerCase() + "; ids are strings or numbers");
    }
    String id = idNode.asText();
    JsonNode textNode = node.get(textCol);
    if (textNode == null || textNode.isNull()) return InputRecord.row(id, null); // the task rejects it: null text
    if (!textNode.isTextual()) {
      return InputRecord.rejected(id, STAGE_VALIDATE, "text is not a string",
          where + ": field '" + textCol + "' is a JSON " + textNode.getNodeType().toString().toLowerCase());
    }
    return InputRecord.row(id, textNode.textValue());
  }
}
