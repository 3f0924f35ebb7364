package dev.sparkinfer.models.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.models.tokenizer.AddedTokenMatcher.AddedToken;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The BERT-family tokenizer of a Hugging Face {@code tokenizer.json}: {@code BertNormalizer}, {@code BertPreTokenizer},
 * a {@code WordPiece} model and a {@code TemplateProcessing} / {@code BertProcessing} post-processor, reproducing the
 * {@code tokenizers} library (Rust) step by step:
 *
 * <ol>
 *   <li>added tokens ({@code added_tokens}, e.g. {@code [SEP]} typed in the text) are cut out of the raw text first,
 *       leftmost-longest, honouring {@code single_word}, {@code lstrip}, {@code rstrip}; those marked
 *       {@code normalized} are matched after normalization instead;</li>
 *   <li>normalizer: clean_text (drop U+0000, U+FFFD and Cc/Cf/Co chars except \t \n \r; White_Space chars become
 *       spaces), handle_chinese_chars (spaces around CJK ideographs), strip_accents (NFD, drop Mn; when null it
 *       follows lowercase), lowercase (per code point, as Rust's {@code char::to_lowercase});</li>
 *   <li>pre-tokenizer: split on White_Space, isolate every punctuation char (ASCII punctuation or Unicode P*);</li>
 *   <li>WordPiece: greedy longest-match-first with the continuing-subword prefix; a word longer than
 *       {@code max_input_chars_per_word} code points, or one that cannot be covered, is {@code unk_token};</li>
 *   <li>post-processor: the single-sequence template (e.g. {@code [CLS] A [SEP]}), kept through truncation.</li>
 * </ol>
 *
 * <p>The {@code truncation} and {@code padding} sections of the json are not applied: {@link #encode} truncates to the
 * caller's {@code maxLength}, and callers pad with {@link #padId()}. Vocabulary lookups walk a char trie stored in flat
 * arrays (no substring allocation). Instances are immutable and thread-safe.
 *
 * <p>Control, non-spacing-mark and punctuation classes come from {@link BertCharTables} (the Unicode 8.0 tables the Rust
 * library uses), not from the JDK, so characters categorised after Unicode 8 behave as in the reference. NFD and
 * lowercase mappings come from the JDK (Unicode 13 on JDK 17); they could differ from the reference only for characters
 * added after that version. Unpaired UTF-16 surrogates (which a Rust string cannot hold) are dropped by clean_text.
 * A null text is treated as empty.
 */
public final class WordPieceTokenizer implements Tokenizer {
  private static final ObjectMapper JSON = new ObjectMapper();

  // normalizer
  private final boolean normalize;
  private final boolean cleanText;
  private final boolean handleChineseChars;
  private final boolean stripAccents;
  private final boolean lowercase;
  // pre-tokenizer: true = BertPreTokenizer, false = none (the whole normalized segment is one word)
  private final boolean bertPreTokenizer;
  // model
  private final VocabTrie trie;
  private final int prefixNode; // trie node of the continuing-subword prefix, -1 when no vocab entry has it
  private final int unkId;
  private final int maxInputChars;
  private final String[] idToToken;
  private final int vocabSize;
  // added tokens matched on the raw text, and on the normalized text (null when none)
  private final AddedTokenMatcher rawAdded;
  private final AddedTokenMatcher normalizedAdded;
  // post-processor (single sequence)
  private final int[] prefixIds;
  private final int[] prefixTypeIds;
  private final int[] suffixIds;
  private final int[] suffixTypeIds;
  private final int sequenceTypeId;
  private final int padId;

  /** Loads a tokenizer.json; the stream is read fully but not closed. */
  public static WordPieceTokenizer fromJson(InputStream in) {
    try {
      return new WordPieceTokenizer(JSON.readTree(in));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tokenizer.json: " + e.getMessage(), e);
    }
  }

  public static WordPieceTokenizer fromFile(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      return fromJson(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tokenizer file " + file.toAbsolutePath() + ": " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file.toAbsolutePath() + ": " + e.getMessage(), e);
    }
  }

  private WordPieceTokenizer(JsonNode root) {
    if (root == null || !root.isObject() || !root.hasNonNull("model")) {
      throw new IllegalArgumentException("not a Hugging Face tokenizer.json: no 'model' section");
    }
    JsonNode model = root.get("model");
    String type = model.path("type").asText(null);
    boolean looksLikeWordPiece = type == null && model.has("continuing_subword_prefix")
        && model.has("max_input_chars_per_word") && !model.has("merges");
    if (!"WordPiece".equals(type) && !looksLikeWordPiece) {
      throw new IllegalArgumentException("tokenizer.json has model type '" + (type == null ? "(none)" : type)
          + "'; WordPieceTokenizer supports only 'WordPiece' (BERT family) tokenizers");
    }

    // ---- model
    Map<String, Integer> vocab = TokenizerFiles.vocab(model.get("vocab"), "WordPiece tokenizer.json");
    int maxId = -1;
    for (int id : vocab.values()) maxId = Math.max(maxId, id);
    String unkToken = textOr(model, "unk_token", "[UNK]");
    String continuingPrefix = textOr(model, "continuing_subword_prefix", "##");
    this.maxInputChars = model.path("max_input_chars_per_word").asInt(100);
    Integer unk = vocab.get(unkToken);
    if (unk == null) {
      throw new IllegalArgumentException("WordPiece unk_token '" + unkToken + "' is not in the vocab");
    }
    this.unkId = unk;
    this.trie = VocabTrie.build(vocab);
    this.prefixNode = trie.walk(0, continuingPrefix);

    // ---- added tokens (ids may lie outside the model vocab)
    List<AddedToken> rawTokens = new ArrayList<>();
    List<AddedToken> normalizedTokens = new ArrayList<>();
    List<AddedToken> allAdded = new ArrayList<>();
    for (JsonNode t : root.path("added_tokens")) {
      String content = t.path("content").asText("");
      int id = t.path("id").asInt(-1);
      if (content.isEmpty() || id < 0) continue;
      boolean special = t.path("special").asBoolean(false);
      AddedToken at = AddedToken.fromJson(t);
      allAdded.add(at);
      // HF: a token is matched after normalization when "normalized" is true (default: true unless special)
      boolean normalized = t.has("normalized") ? t.get("normalized").asBoolean() : !special;
      (normalized ? normalizedTokens : rawTokens).add(at);
      maxId = Math.max(maxId, id);
    }

    // ---- normalizer
    JsonNode norm = single(root.get("normalizer"), "normalizer", "BertNormalizer");
    if (norm == null) {
      normalize = cleanText = handleChineseChars = stripAccents = lowercase = false;
    } else {
      normalize = true;
      cleanText = norm.path("clean_text").asBoolean(true);
      handleChineseChars = norm.path("handle_chinese_chars").asBoolean(true);
      lowercase = norm.path("lowercase").asBoolean(true);
      JsonNode sa = norm.get("strip_accents");
      stripAccents = sa == null || sa.isNull() ? lowercase : sa.asBoolean();
    }

    // ---- pre-tokenizer
    JsonNode pre = single(root.get("pre_tokenizer"), "pre_tokenizer", "BertPreTokenizer");
    this.bertPreTokenizer = pre != null;

    // normalized added tokens are matched in their normalized form (HF normalizes their content too)
    List<AddedToken> normalizedForms = new ArrayList<>();
    for (AddedToken at : normalizedTokens) {
      String n = normalizeText(at.content());
      if (!n.isEmpty()) normalizedForms.add(new AddedToken(n, at.id(), at.singleWord(), at.lstrip(), at.rstrip()));
    }
    this.rawAdded = rawTokens.isEmpty() ? null : new AddedTokenMatcher(rawTokens);
    this.normalizedAdded = normalizedForms.isEmpty() ? null : new AddedTokenMatcher(normalizedForms);

    // ---- id -> token
    if (maxId >= (1 << 24)) throw new IllegalArgumentException("token id " + maxId + " is implausibly large for a vocab");
    this.vocabSize = maxId + 1;
    this.idToToken = new String[vocabSize];
    for (Map.Entry<String, Integer> e : vocab.entrySet()) idToToken[e.getValue()] = e.getKey();
    // the token string HF reports is the matched text: the content, or its normalized form for normalized tokens
    for (AddedToken at : allAdded) idToToken[at.id()] = at.content();
    for (AddedToken at : normalizedForms) idToToken[at.id()] = at.content();

    // ---- post-processor
    List<int[]> prefix = new ArrayList<>();
    List<int[]> suffix = new ArrayList<>();
    this.sequenceTypeId = parsePostProcessor(root.get("post_processor"), vocab, prefix, suffix);
    this.prefixIds = column(prefix, 0);
    this.prefixTypeIds = column(prefix, 1);
    this.suffixIds = column(suffix, 0);
    this.suffixTypeIds = column(suffix, 1);

    // ---- padding
    JsonNode padding = root.get("padding");
    if (padding != null && padding.isObject() && padding.has("pad_id")) {
      this.padId = padding.get("pad_id").asInt();
    } else {
      this.padId = vocab.getOrDefault("[PAD]", 0);
    }
  }

  // ------------------------------------------------------------------------------------------------ public API

  @Override
  public Encoding encode(String text, int maxLength) {
    int specials = prefixIds.length + suffixIds.length;
    if (maxLength < specials) {
      throw new IllegalArgumentException("maxLength " + maxLength + " is below the " + specials
          + " special tokens this tokenizer adds");
    }
    IntBuf content = new IntBuf(text == null ? 16 : Math.min(text.length() + 2, 1024));
    if (text != null) tokenize(text, content);
    int fullLength = content.size + specials;
    int keep = Math.min(content.size, maxLength - specials);
    int n = keep + specials;
    int[] ids = new int[n];
    int[] typeIds = new int[n];
    System.arraycopy(prefixIds, 0, ids, 0, prefixIds.length);
    System.arraycopy(prefixTypeIds, 0, typeIds, 0, prefixTypeIds.length);
    System.arraycopy(content.data, 0, ids, prefixIds.length, keep);
    if (sequenceTypeId != 0) Arrays.fill(typeIds, prefixIds.length, prefixIds.length + keep, sequenceTypeId);
    System.arraycopy(suffixIds, 0, ids, prefixIds.length + keep, suffixIds.length);
    System.arraycopy(suffixTypeIds, 0, typeIds, prefixIds.length + keep, suffixTypeIds.length);
    return new Encoding(ids, typeIds, fullLength, keep < content.size);
  }

  @Override
  public List<String> tokens(String text) {
    IntBuf ids = new IntBuf(16);
    if (text != null) tokenize(text, ids);
    List<String> out = new ArrayList<>(ids.size);
    for (int i = 0; i < ids.size; i++) out.add(idToToken[ids.data[i]]);
    return out;
  }

  @Override
  public int padId() { return padId; }

  /** One past the largest id of the vocab and the added tokens. */
  @Override
  public int vocabSize() { return vocabSize; }

  // ------------------------------------------------------------------------------------------------ pipeline

  /** Added tokens on the raw text, then normalization, pre-tokenization and WordPiece of what lies between them. */
  private void tokenize(String text, IntBuf out) {
    if (rawAdded == null) {
      normalizedSegment(text, out);
      return;
    }
    int segStart = 0;
    int[] m = new int[3];
    while (rawAdded.next(text, segStart, m)) {
      if (m[0] > segStart) normalizedSegment(text.substring(segStart, m[0]), out);
      out.add(m[2]);
      segStart = m[1];
    }
    if (segStart < text.length()) normalizedSegment(text.substring(segStart), out);
  }

  private void normalizedSegment(String raw, IntBuf out) {
    String s = normalize ? normalizeText(raw) : raw;
    if (normalizedAdded == null) {
      words(s, 0, s.length(), out);
      return;
    }
    int segStart = 0;
    int[] m = new int[3];
    while (normalizedAdded.next(s, segStart, m)) {
      if (m[0] > segStart) words(s, segStart, m[0], out);
      out.add(m[2]);
      segStart = m[1];
    }
    if (segStart < s.length()) words(s, segStart, s.length(), out);
  }

  /** BertNormalizer. */
  String normalizeText(String text) {
    if (!normalize) return text;
    int n = text.length();
    boolean ascii = true;
    for (int i = 0; i < n; i++) {
      if (text.charAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) { // NFD is the identity and there are no marks, CJK or non-ASCII spaces
      char[] buf = new char[n];
      int k = 0;
      for (int i = 0; i < n; i++) {
        char c = text.charAt(i);
        if (cleanText) {
          if (c == '\t' || c == '\n' || c == '\r') {
            c = ' ';
          } else if (c < 0x20 || c == 0x7f) {
            continue; // Cc (U+000B, U+000C included: they are dropped as controls before the whitespace mapping)
          }
        }
        if (lowercase && c >= 'A' && c <= 'Z') c = (char) (c + 32);
        buf[k++] = c;
      }
      return new String(buf, 0, k);
    }
    StringBuilder sb = new StringBuilder(n + 8);
    for (int i = 0; i < n; ) {
      int cp = text.codePointAt(i);
      i += Character.charCount(cp);
      if (cleanText) {
        if (cp == 0 || cp == 0xFFFD || isControl(cp)) continue;
        if (Character.getType(cp) == Character.SURROGATE) continue; // unpaired surrogate
        if (cp == '\t' || cp == '\n' || cp == '\r' || isWhiteSpace(cp)) cp = ' ';
      }
      if (handleChineseChars && isChineseChar(cp)) {
        sb.append(' ').appendCodePoint(cp).append(' ');
      } else {
        sb.appendCodePoint(cp);
      }
    }
    String s = sb.toString();
    if (!stripAccents && !lowercase) return s;
    if (stripAccents && !Normalizer.isNormalized(s, Normalizer.Form.NFD)) s = Normalizer.normalize(s, Normalizer.Form.NFD);
    sb.setLength(0);
    for (int i = 0, len = s.length(); i < len; ) {
      int cp = s.codePointAt(i);
      i += Character.charCount(cp);
      if (stripAccents && isNonSpacingMark(cp)) continue;
      if (lowercase) {
        if (cp == 0x130) { // the one unconditional multi-char lowercase mapping (SpecialCasing.txt)
          sb.append('i').append('\u0307');
          continue;
        }
        cp = Character.toLowerCase(cp);
      }
      sb.appendCodePoint(cp);
    }
    return sb.toString();
  }

  /** BertPreTokenizer over s[from, to), each word through WordPiece. */
  private void words(String s, int from, int to, IntBuf out) {
    if (!bertPreTokenizer) {
      if (to > from) wordPiece(s, from, to, s.codePointCount(from, to), out);
      return;
    }
    int wordStart = -1;
    int wordChars = 0;
    for (int i = from; i < to; ) {
      char c = s.charAt(i);
      int cp;
      int len;
      if (c < 0x80) {
        cp = c;
        len = 1;
      } else {
        cp = s.codePointAt(i);
        len = Character.charCount(cp);
      }
      if (isWhiteSpace(cp)) {
        if (wordStart >= 0) {
          wordPiece(s, wordStart, i, wordChars, out);
          wordStart = -1;
        }
      } else if (isPunctuation(cp)) {
        if (wordStart >= 0) {
          wordPiece(s, wordStart, i, wordChars, out);
          wordStart = -1;
        }
        wordPiece(s, i, i + len, 1, out);
      } else {
        if (wordStart < 0) {
          wordStart = i;
          wordChars = 0;
        }
        wordChars++;
      }
      i += len;
    }
    if (wordStart >= 0) wordPiece(s, wordStart, to, wordChars, out);
  }

  /** Greedy longest-match-first over s[start, end), a word of {@code chars} code points. */
  private void wordPiece(String s, int start, int end, int chars, IntBuf out) {
    if (chars > maxInputChars) {
      out.add(unkId);
      return;
    }
    int mark = out.size;
    int pos = start;
    while (pos < end) {
      int node = pos == start ? 0 : prefixNode;
      int best = -1;
      int bestEnd = -1;
      for (int i = pos; i < end && node >= 0; i++) {
        char c = s.charAt(i);
        node = trie.child(node, c);
        if (node < 0) break;
        int id = trie.terminal[node];
        // candidates end on code point boundaries only, as Rust string slices do
        if (id >= 0 && !(Character.isHighSurrogate(c) && i + 1 < end && Character.isLowSurrogate(s.charAt(i + 1)))) {
          best = id;
          bestEnd = i + 1;
        }
      }
      if (best < 0) {
        out.size = mark;
        out.add(unkId);
        return;
      }
      out.add(best);
      pos = bestEnd;
    }
  }

  // ------------------------------------------------------------------------------------------------ char classes

  /** Cc, Cf, Co except \t \n \r, in the Unicode 8.0 tables the Rust normalizer uses (see {@link BertCharTables}). */
  static boolean isControl(int cp) {
    if (cp < 0x80) return (cp < 0x20 || cp == 0x7f) && cp != '\t' && cp != '\n' && cp != '\r';
    return BertCharTables.contains(BertCharTables.OTHER, cp);
  }

  /** Mn in the Unicode 8.0 tables the Rust normalizer uses. */
  static boolean isNonSpacingMark(int cp) {
    return cp >= 0x300 && BertCharTables.contains(BertCharTables.NONSPACING_MARK, cp);
  }

  /** The Unicode White_Space property (Rust's char::is_whitespace). */
  static boolean isWhiteSpace(int cp) { return AddedTokenMatcher.isWhiteSpace(cp); }

  /** ASCII punctuation (33-47, 58-64, 91-96, 123-126) or P* in the Unicode 8.0 tables the Rust pre-tokenizer uses. */
  static boolean isPunctuation(int cp) {
    if (cp < 0x80) {
      return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
    }
    return BertCharTables.contains(BertCharTables.PUNCTUATION, cp);
  }

  /** The CJK ideograph ranges of the Rust normalizer's is_chinese_char (0x2B920, not 0x2B820, as there). */
  static boolean isChineseChar(int cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
  }

  // ------------------------------------------------------------------------------------------------ json helpers

  private static String textOr(JsonNode node, String field, String fallback) {
    JsonNode v = node.get(field);
    return v == null || v.isNull() ? fallback : v.asText();
  }

  /**
   * A normalizer / pre-tokenizer section that must be absent or of the one supported type (also inside a
   * one-element {@code Sequence}); returns the section, or null when absent.
   */
  private static JsonNode single(JsonNode node, String what, String supported) {
    if (node == null || node.isNull()) return null;
    String type = node.path("type").asText("(none)");
    if (type.equals(supported)) return node;
    if (type.equals("Sequence")) {
      JsonNode items = node.has("normalizers") ? node.get("normalizers") : node.get("pretokenizers");
      if (items != null && items.size() == 0) return null;
      if (items != null && items.size() == 1) return single(items.get(0), what, supported);
    }
    throw new IllegalArgumentException("tokenizer.json " + what + " of type '" + type + "' is not supported by "
        + "WordPieceTokenizer (expected " + supported + ")");
  }

  /** Fills the single-sequence template's specials before/after the sequence as {id, typeId}; returns its type id. */
  private static int parsePostProcessor(JsonNode pp, Map<String, Integer> vocab, List<int[]> prefix, List<int[]> suffix) {
    if (pp == null || pp.isNull()) {
      Integer cls = vocab.get("[CLS]");
      Integer sep = vocab.get("[SEP]");
      if (cls == null || sep == null) {
        throw new IllegalArgumentException("tokenizer.json has no post_processor and its vocab lacks [CLS]/[SEP]");
      }
      prefix.add(new int[] {cls, 0});
      suffix.add(new int[] {sep, 0});
      return 0;
    }
    String type = pp.path("type").asText("(none)");
    switch (type) {
      case "Sequence": {
        JsonNode found = null;
        for (JsonNode p : pp.path("processors")) {
          String t = p.path("type").asText("");
          if (t.equals("TemplateProcessing") || t.equals("BertProcessing")) {
            if (found != null) throw new IllegalArgumentException("post_processor Sequence has more than one template");
            found = p;
          }
        }
        if (found == null) {
          throw new IllegalArgumentException("post_processor Sequence without TemplateProcessing or BertProcessing");
        }
        return parsePostProcessor(found, vocab, prefix, suffix);
      }
      case "BertProcessing": {
        prefix.add(new int[] {pairId(pp, "cls"), 0});
        suffix.add(new int[] {pairId(pp, "sep"), 0});
        return 0;
      }
      case "TemplateProcessing": {
        JsonNode specials = pp.path("special_tokens");
        int seqType = -1;
        for (JsonNode piece : pp.path("single")) {
          if (piece.has("Sequence")) {
            if (seqType >= 0) throw new IllegalArgumentException("TemplateProcessing single template repeats its sequence");
            seqType = piece.get("Sequence").path("type_id").asInt(0);
          } else if (piece.has("SpecialToken")) {
            JsonNode st = piece.get("SpecialToken");
            String id = st.path("id").asText();
            int typeId = st.path("type_id").asInt(0);
            JsonNode ids = specials.path(id).path("ids");
            if (!ids.isArray() || ids.size() == 0) {
              throw new IllegalArgumentException("TemplateProcessing special token '" + id + "' has no ids in special_tokens");
            }
            for (JsonNode i : ids) (seqType >= 0 ? suffix : prefix).add(new int[] {i.asInt(), typeId});
          } else {
            throw new IllegalArgumentException("TemplateProcessing piece not understood: " + piece);
          }
        }
        if (seqType < 0) throw new IllegalArgumentException("TemplateProcessing single template has no sequence");
        return seqType;
      }
      default:
        throw new IllegalArgumentException("tokenizer.json post_processor of type '" + type + "' is not supported by "
            + "WordPieceTokenizer (expected TemplateProcessing or BertProcessing)");
    }
  }

  private static int pairId(JsonNode pp, String field) {
    JsonNode pair = pp.get(field);
    if (pair == null || !pair.isArray() || pair.size() != 2 || !pair.get(1).canConvertToInt()) {
      throw new IllegalArgumentException("BertProcessing '" + field + "' must be [token, id], got " + pair);
    }
    return pair.get(1).asInt();
  }

  private static int[] column(List<int[]> rows, int col) {
    int[] out = new int[rows.size()];
    for (int i = 0; i < out.length; i++) out[i] = rows.get(i)[col];
    return out;
  }

  // ------------------------------------------------------------------------------------------------ structures

  /** Growable int array (per call, never shared). */
  private static final class IntBuf {
    int[] data;
    int size;

    IntBuf(int capacity) { data = new int[Math.max(4, capacity)]; }

    void add(int v) {
      if (size == data.length) data = Arrays.copyOf(data, data.length * 2);
      data[size++] = v;
    }
  }

  /**
   * The vocabulary as a char trie: node 0 is the root, edges (node, char) live in one open-addressing table of longs,
   * {@code terminal[node]} is the id of the token spelled by the path to the node, or -1.
   */
  private static final class VocabTrie {
    private static final long EMPTY = -1L;
    final long[] keys;
    final int[] children;
    final int[] terminal;
    final int shift;
    final int mask;

    private VocabTrie(long[] keys, int[] children, int[] terminal, int shift) {
      this.keys = keys;
      this.children = children;
      this.terminal = terminal;
      this.shift = shift;
      this.mask = keys.length - 1;
    }

    static VocabTrie build(Map<String, Integer> vocab) {
      HashMap<Long, Integer> edges = new HashMap<>();
      int[] term = new int[1024];
      Arrays.fill(term, -1);
      int nodes = 1;
      for (Map.Entry<String, Integer> e : vocab.entrySet()) {
        String w = e.getKey();
        if (w.isEmpty()) continue; // never matched: the model only looks up non-empty pieces
        int node = 0;
        for (int i = 0; i < w.length(); i++) {
          long key = ((long) node << 16) | w.charAt(i);
          Integer child = edges.get(key);
          if (child == null) {
            child = nodes++;
            edges.put(key, child);
            if (nodes > term.length) {
              int old = term.length;
              term = Arrays.copyOf(term, old * 2);
              Arrays.fill(term, old, term.length, -1);
            }
          }
          node = child;
        }
        term[node] = e.getValue();
      }
      int bits = 4;
      while ((1 << bits) < edges.size() * 2) bits++;
      long[] keys = new long[1 << bits];
      int[] children = new int[1 << bits];
      Arrays.fill(keys, EMPTY);
      int shift = 64 - bits;
      int mask = keys.length - 1;
      for (Map.Entry<Long, Integer> e : edges.entrySet()) {
        long key = e.getKey();
        int slot = (int) ((key * 0x9E3779B97F4A7C15L) >>> shift);
        while (keys[slot] != EMPTY) slot = (slot + 1) & mask;
        keys[slot] = key;
        children[slot] = e.getValue();
      }
      return new VocabTrie(keys, children, Arrays.copyOf(term, nodes), shift);
    }

    /** The child of node by c, or -1. */
    int child(int node, char c) {
      long key = ((long) node << 16) | c;
      int slot = (int) ((key * 0x9E3779B97F4A7C15L) >>> shift);
      while (true) {
        long k = keys[slot];
        if (k == key) return children[slot];
        if (k == EMPTY) return -1;
        slot = (slot + 1) & mask;
      }
    }

    /** The node reached from node by the chars of s, or -1. */
    int walk(int node, String s) {
      for (int i = 0; i < s.length() && node >= 0; i++) node = child(node, s.charAt(i));
      return node;
    }
  }
}
