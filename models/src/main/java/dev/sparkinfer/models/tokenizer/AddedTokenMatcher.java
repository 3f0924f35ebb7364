package dev.sparkinfer.models.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;

/**
 * The {@code added_tokens} of a Hugging Face tokenizer.json (e.g. {@code [SEP]}, {@code <|begin_of_text|>}) found in
 * a text, as the Rust library's AddedVocabulary finds them before the model sees the text: leftmost-longest, with its
 * single_word / lstrip / rstrip rules. Shared by the WordPiece and BPE tokenizers; immutable.
 */
final class AddedTokenMatcher {
  /** One entry of tokenizer.json's {@code added_tokens}. */
  record AddedToken(String content, int id, boolean singleWord, boolean lstrip, boolean rstrip) {
    static AddedToken fromJson(JsonNode t) {
      return new AddedToken(t.path("content").asText(""), t.path("id").asInt(-1), t.path("single_word").asBoolean(false),
          t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false));
    }
  }

  private static final class Node {
    final HashMap<Character, Node> next = new HashMap<>();
    AddedToken token;
  }

  private final Node root = new Node();
  private final BitSet firstChars = new BitSet();

  AddedTokenMatcher(List<AddedToken> tokens) {
    for (AddedToken t : tokens) {
      Node n = root;
      for (int i = 0; i < t.content.length(); i++) n = n.next.computeIfAbsent(t.content.charAt(i), k -> new Node());
      if (n.token == null) n.token = t;
      firstChars.set(t.content.charAt(0));
    }
  }

  /**
   * Finds the next usable match at or after {@code from}; fills {start, end, id} (start/end widened by lstrip/rstrip,
   * start never below {@code from}) and returns true, or returns false when there is none.
   */
  boolean next(String s, int from, int[] out) {
    int n = s.length();
    int i = from;
    while (i < n) {
      if (!firstChars.get(s.charAt(i))) {
        i++;
        continue;
      }
      Node node = root;
      AddedToken best = null;
      int bestEnd = -1;
      for (int j = i; j < n; j++) {
        node = node.next.get(s.charAt(j));
        if (node == null) break;
        if (node.token != null) {
          best = node.token;
          bestEnd = j + 1;
        }
      }
      if (best == null) {
        i++;
        continue;
      }
      int start = i;
      int stop = bestEnd;
      if (best.singleWord) {
        boolean startOk = start == 0 || !isWordChar(s.codePointBefore(start));
        boolean stopOk = stop == n || !isWordChar(s.codePointAt(stop));
        if (!startOk || !stopOk) { // skipped; the search goes on after the match, as aho-corasick's iterator does
          i = bestEnd;
          continue;
        }
      }
      if (best.lstrip) {
        while (start > from && isWhiteSpace(s.codePointBefore(start))) start -= Character.charCount(s.codePointBefore(start));
      }
      if (best.rstrip) {
        while (stop < n && isWhiteSpace(s.codePointAt(stop))) stop += Character.charCount(s.codePointAt(stop));
      }
      out[0] = start;
      out[1] = stop;
      out[2] = best.id;
      return true;
    }
    return false;
  }

  /** The Unicode White_Space property (Rust's char::is_whitespace). */
  static boolean isWhiteSpace(int cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028
        || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
  }

  /** The Unicode {@code \w} of Rust's regex crate (single_word checks): Alphabetic, M*, Nd, Pc, Join_Control. */
  private static boolean isWordChar(int cp) {
    if (Character.isAlphabetic(cp) || cp == 0x200C || cp == 0x200D) return true;
    switch (Character.getType(cp)) {
      case Character.NON_SPACING_MARK:
      case Character.COMBINING_SPACING_MARK:
      case Character.ENCLOSING_MARK:
      case Character.DECIMAL_DIGIT_NUMBER:
      case Character.CONNECTOR_PUNCTUATION:
        return true;
      default:
        return false;
    }
  }
}
