package dev.sparkinfer.models.decoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte-level BPE (OpenAI's GPT-2 encoder.py; Hugging Face tokenizers' BPE model with the ByteLevel pre-tokenizer):
 * split the text with the pre-tokenizer regex, map each piece's UTF-8 bytes to GPT-2's printable byte alphabet, merge
 * adjacent symbols by merge rank, look the symbols up in the vocabulary. Two sources: GPT-2's {@code vocab.json} +
 * {@code merges.txt} (no special tokens, no template) and a {@code tokenizer.json} (its Split regex, added tokens
 * matched as single tokens, {@code ignore_merges}, and the TemplateProcessing of LLaMA-3 that puts
 * {@code <|begin_of_text|>} first).
 */
public final class ByteLevelBpe implements TextTokenizer {
  /** GPT-2's pre-tokenizer. */
  static final String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

  private static final char[] BYTE_TO_CHAR = new char[256];
  private static final Map<Character, Integer> CHAR_TO_BYTE = new HashMap<>();

  static {
    // bytes_to_unicode(): printable bytes map to themselves, the others to 256 + n in order
    boolean[] printable = new boolean[256];
    for (int b = '!'; b <= '~'; b++) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
    int n = 0;
    for (int b = 0; b < 256; b++) {
      BYTE_TO_CHAR[b] = printable[b] ? (char) b : (char) (256 + n++);
      CHAR_TO_BYTE.put(BYTE_TO_CHAR[b], b);
    }
  }

  private final Map<String, Integer> vocab;
  private final String[] byId;
  private final Map<String, Integer> ranks; // "a b" -> merge rank
  private final Pattern split;
  private final boolean ignoreMerges;
  private final Map<String, Integer> added; // added tokens matched whole in the text
  private final Pattern addedPattern;
  private final int[] prefix; // the template's tokens before the text
  private final boolean[] special;
  private final String fingerprint;
  private final Map<String, int[]> cache = new ConcurrentHashMap<>();

  private ByteLevelBpe(Map<String, Integer> vocab, Map<String, Integer> ranks, String pattern, boolean ignoreMerges,
                       Map<String, Integer> added, List<Integer> specialIds, int[] prefix, String fingerprint) {
    this.vocab = vocab;
    this.ranks = ranks;
    this.split = Pattern.compile(pattern, Pattern.UNICODE_CHARACTER_CLASS);
    this.ignoreMerges = ignoreMerges;
    this.added = added;
    int max = 0;
    for (int id : vocab.values()) max = Math.max(max, id);
    for (int id : added.values()) max = Math.max(max, id);
    byId = new String[max + 1];
    for (var e : vocab.entrySet()) byId[e.getValue()] = e.getKey();
    special = new boolean[max + 1];
    for (var e : added.entrySet()) byId[e.getValue()] = e.getKey();
    for (int id : specialIds) if (id >= 0 && id <= max) special[id] = true;
    List<String> names = new ArrayList<>(added.keySet());
    names.sort((a, b) -> b.length() - a.length()); // longest first
    this.addedPattern = names.isEmpty() ? null : Pattern.compile(String.join("|", names.stream().map(Pattern::quote).toList()));
    this.prefix = prefix;
    this.fingerprint = fingerprint;
  }

  /** GPT-2's files: {@code vocab.json} (token -> id) and {@code merges.txt} (one "a b" merge a line, by rank). */
  public static ByteLevelBpe gpt2(Path vocabJson, Path mergesTxt) {
    try {
      byte[] v = Files.readAllBytes(vocabJson), m = Files.readAllBytes(mergesTxt);
      Map<String, Integer> vocab = new HashMap<>();
      new ObjectMapper().readTree(v).fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
      Map<String, Integer> ranks = new HashMap<>();
      int rank = 0;
      for (String line : new String(m, StandardCharsets.UTF_8).split("\n")) {
        if (line.startsWith("#version") || line.isBlank()) continue;
        ranks.putIfAbsent(line.strip(), rank++);
      }
      return new ByteLevelBpe(vocab, ranks, GPT2_PATTERN, false, Map.of(), List.of(), new int[0], sha256(v, m));
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("cannot read the GPT-2 tokenizer files " + vocabJson + " and " + mergesTxt + ": " + e.getMessage(), e);
    }
  }

  /** A Hugging Face {@code tokenizer.json} with a byte-level BPE model (GPT-2, LLaMA-3, Mistral's tekken-free ones). */
  public static ByteLevelBpe tokenizerJson(Path file) {
    byte[] bytes;
    JsonNode root;
    try {
      bytes = Files.readAllBytes(file);
      root = new ObjectMapper().readTree(bytes);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
    }
    JsonNode model = root.path("model");
    if (!"BPE".equals(model.path("type").asText())) {
      throw new IllegalArgumentException(file + ": model type '" + model.path("type").asText() + "' is not a byte-level BPE");
    }
    Map<String, Integer> vocab = new HashMap<>();
    model.path("vocab").fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
    Map<String, Integer> ranks = new HashMap<>();
    int rank = 0;
    for (JsonNode mg : model.path("merges")) {
      String pair = mg.isArray() ? mg.get(0).asText() + " " + mg.get(1).asText() : mg.asText();
      ranks.putIfAbsent(pair, rank++);
    }
    String pattern = findSplitRegex(root.path("pre_tokenizer"));
    if (pattern == null) {
      if (!hasByteLevel(root.path("pre_tokenizer"))) {
        throw new IllegalArgumentException(file + ": no ByteLevel pre-tokenizer: not a byte-level BPE tokenizer this engine reads");
      }
      pattern = GPT2_PATTERN; // ByteLevel with use_regex: GPT-2's
    }
    Map<String, Integer> added = new HashMap<>();
    List<Integer> specialIds = new ArrayList<>();
    for (JsonNode t : root.path("added_tokens")) {
      added.put(t.path("content").asText(), t.path("id").asInt());
      if (t.path("special").asBoolean(false)) specialIds.add(t.path("id").asInt());
    }
    // TemplateProcessing: the special tokens before $A in the single-sequence template
    List<Integer> prefix = new ArrayList<>();
    JsonNode post = root.path("post_processor");
    for (JsonNode p : post.path("type").asText().equals("Sequence") ? post.path("processors") : List.of(post)) {
      if (!p.path("type").asText().equals("TemplateProcessing")) continue;
      for (JsonNode piece : p.path("single")) {
        if (piece.has("Sequence")) break;
        String id = piece.path("SpecialToken").path("id").asText();
        Integer tok = added.containsKey(id) ? added.get(id) : vocab.get(id);
        if (tok == null) throw new IllegalArgumentException(file + ": the template's special token " + id + " is not in the vocabulary");
        prefix.add(tok);
      }
    }
    return new ByteLevelBpe(vocab, ranks, pattern, model.path("ignore_merges").asBoolean(false), added, specialIds,
        prefix.stream().mapToInt(Integer::intValue).toArray(), sha256(bytes));
  }

  /** The template's tokens before the text ({@code <|begin_of_text|>} for LLaMA-3), empty for none. */
  public int[] prefix() { return prefix.clone(); }

  /** The same tokenizer with another template prefix (when tokenizer_config.json, not tokenizer.json, says to add BOS). */
  public ByteLevelBpe withPrefix(int... ids) {
    List<Integer> specials = new ArrayList<>();
    for (int i = 0; i < special.length; i++) if (special[i]) specials.add(i);
    return new ByteLevelBpe(vocab, ranks, split.pattern(), ignoreMerges, added, specials, ids.clone(), fingerprint);
  }

  /** The id of a token (added tokens included), or -1. */
  public int id(String token) {
    Integer id = added.containsKey(token) ? added.get(token) : vocab.get(token);
    return id == null ? -1 : id;
  }

  private static String findSplitRegex(JsonNode pre) {
    if (pre.path("type").asText().equals("Split")) return pre.path("pattern").path("Regex").asText(null);
    for (JsonNode p : pre.path("pretokenizers")) {
      String r = findSplitRegex(p);
      if (r != null) return r;
    }
    return null;
  }

  private static boolean hasByteLevel(JsonNode pre) {
    if (pre.path("type").asText().equals("ByteLevel")) return true;
    for (JsonNode p : pre.path("pretokenizers")) if (hasByteLevel(p)) return true;
    return false;
  }

  @Override
  public int[] encode(String text) {
    List<Integer> out = new ArrayList<>();
    for (int t : prefix) out.add(t);
    encodeText(text, out);
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  /** The text's tokens without the template (added tokens in the text are still single tokens). */
  public int[] encodeOrdinary(String text) {
    List<Integer> out = new ArrayList<>();
    encodeText(text, out);
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  private void encodeText(String text, List<Integer> out) {
    if (addedPattern == null) {
      encodeSpan(text, out);
      return;
    }
    Matcher m = addedPattern.matcher(text);
    int at = 0;
    while (m.find()) {
      encodeSpan(text.substring(at, m.start()), out);
      out.add(added.get(m.group()));
      at = m.end();
    }
    encodeSpan(text.substring(at), out);
  }

  private void encodeSpan(String span, List<Integer> out) {
    Matcher m = split.matcher(span);
    while (m.find()) {
      for (int id : piece(m.group())) out.add(id);
    }
  }

  /** One pre-token: its bytes in the byte alphabet, merged by rank (cached: corpora repeat words). */
  private int[] piece(String piece) {
    int[] hit = cache.get(piece);
    if (hit != null) return hit;
    byte[] utf8 = piece.getBytes(StandardCharsets.UTF_8);
    StringBuilder mapped = new StringBuilder(utf8.length);
    for (byte b : utf8) mapped.append(BYTE_TO_CHAR[b & 0xff]);
    String word = mapped.toString();
    int[] ids;
    Integer whole = ignoreMerges ? vocab.get(word) : null;
    if (whole != null) {
      ids = new int[] {whole};
    } else {
      List<String> symbols = new ArrayList<>();
      for (int i = 0; i < word.length(); i++) symbols.add(String.valueOf(word.charAt(i)));
      while (symbols.size() > 1) {
        int best = -1, bestRank = Integer.MAX_VALUE;
        for (int i = 0; i + 1 < symbols.size(); i++) {
          Integer r = ranks.get(symbols.get(i) + " " + symbols.get(i + 1));
          if (r != null && r < bestRank) {
            bestRank = r;
            best = i;
          }
        }
        if (best < 0) break;
        // merge every occurrence of the best pair, left to right (as encoder.py does)
        String a = symbols.get(best), b = symbols.get(best + 1);
        List<String> next = new ArrayList<>(symbols.size());
        for (int i = 0; i < symbols.size(); i++) {
          if (i + 1 < symbols.size() && symbols.get(i).equals(a) && symbols.get(i + 1).equals(b)) {
            next.add(a + b);
            i++;
          } else {
            next.add(symbols.get(i));
          }
        }
        symbols = next;
      }
      ids = new int[symbols.size()];
      for (int i = 0; i < ids.length; i++) {
        Integer id = vocab.get(symbols.get(i));
        if (id == null) throw new IllegalStateException("the vocabulary lacks the symbol '" + symbols.get(i) + "' its merges produce");
        ids[i] = id;
      }
    }
    if (cache.size() < 500_000) cache.put(piece, ids);
    return ids;
  }

  @Override
  public String decode(int[] ids) {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    for (int id : ids) {
      if (id < 0 || id >= byId.length || byId[id] == null) throw new IllegalArgumentException("token id " + id + " is not in the vocabulary");
      if (special[id]) continue;
      String t = byId[id];
      if (added.containsKey(t)) {
        bytes.writeBytes(t.getBytes(StandardCharsets.UTF_8));
        continue;
      }
      for (int i = 0; i < t.length(); i++) {
        Integer b = CHAR_TO_BYTE.get(t.charAt(i));
        if (b == null) throw new IllegalStateException("token " + id + " has a character outside the byte alphabet");
        bytes.write(b);
      }
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Override
  public String fingerprint() { return fingerprint; }

  @Override
  public int vocabSize() { return byId.length; }

  private static String sha256(byte[]... parts) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      for (byte[] p : parts) d.update(p);
      return HexFormat.of().formatHex(d.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() { return "ByteLevelBpe[" + byId.length + " ids, prefix " + Arrays.toString(prefix) + "]"; }
}
