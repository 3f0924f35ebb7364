package dev.sparkinfer.models.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Reading the files tokenizers ship as (tokenizer.json, vocab.json, merges.txt), with errors that name the file and
 * say what to do. Shared by {@link WordPieceTokenizer} and {@link BpeTokenizer}.
 */
final class TokenizerFiles {
  private static final ObjectMapper JSON = new ObjectMapper();

  private TokenizerFiles() {}

  /** The parsed JSON of a file; {@code what} says which file it should be (for the message when it is not). */
  static JsonNode readJson(Path file, String what) {
    byte[] bytes = readBytes(file, what);
    try {
      JsonNode root = JSON.readTree(bytes);
      if (root == null || !root.isObject()) {
        throw new IllegalArgumentException(file.toAbsolutePath() + " is not a JSON object; expected " + what);
      }
      return root;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(file.toAbsolutePath() + " is not valid JSON (" + e.getOriginalMessage()
          + " at line " + e.getLocation().getLineNr() + "); expected " + what + " — download it again", e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file.toAbsolutePath() + ": " + e.getMessage(), e);
    }
  }

  /** The lines of a UTF-8 text file. */
  static List<String> readLines(Path file, String what) {
    String text = new String(readBytes(file, what), StandardCharsets.UTF_8);
    List<String> lines = new ArrayList<>(List.of(text.split("\n", -1)));
    if (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) lines.remove(lines.size() - 1);
    return lines;
  }

  static byte[] readBytes(Path file, String what) {
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(file.toAbsolutePath() + " does not exist; expected " + what + " there", e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file.toAbsolutePath() + " (" + what + "): " + e.getMessage(), e);
    }
  }

  /** A token -> id object ({@code model.vocab} of tokenizer.json, or a whole vocab.json); {@code where} names it. */
  static Map<String, Integer> vocab(JsonNode node, String where) {
    if (node == null || !node.isObject() || node.size() == 0) {
      throw new IllegalArgumentException(where + " has no vocabulary (a non-empty token -> id object)");
    }
    Map<String, Integer> vocab = new HashMap<>(node.size() * 2);
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      int id = e.getValue().asInt(-1);
      if (!e.getValue().canConvertToInt() || id < 0) {
        throw new IllegalArgumentException(where + ": vocab entry '" + e.getKey() + "' has no valid id: " + e.getValue());
      }
      vocab.put(e.getKey(), id);
    }
    return vocab;
  }
}
