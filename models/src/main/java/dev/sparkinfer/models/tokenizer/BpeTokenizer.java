package dev.sparkinfer.models.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sparkinfer.models.tokenizer.AddedTokenMatcher.AddedToken;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * Byte-level BPE, the tokenizer of GPT-2, LLaMA-3 and CLIP's text tower, reproducing the references id for id:
 *
 * <ol>
 *   <li>added tokens ({@code <|begin_of_text|>} typed in a text) are cut out first and become their ids;</li>
 *   <li>CLIP only: OpenAI's clean-up ({@link ClipTextCleaner}: html unescape, whitespace collapse, lower case);</li>
 *   <li>a regex splits the text into pre-tokens (words with their leading space, numbers, punctuation runs, space
 *       runs; tokenizer.json's own regex where it has one);</li>
 *   <li>each pre-token's UTF-8 bytes become chars of the {@link ByteLevelAlphabet}, and {@link BpeModel} merges them
 *       into vocabulary tokens (cached per pre-token: corpora repeat words);</li>
 *   <li>the template's special tokens go around the text ({@code <|startoftext|>} ... {@code <|endoftext|>} for
 *       CLIP; none for GPT-2; LLaMA-3's tokenizer.json has none either, its BOS comes from tokenizer_config.json,
 *       see {@link #withTemplate}).</li>
 * </ol>
 *
 * <p>Sources: {@link #gpt2} (OpenAI's encoder.py), {@link #fromTokenizerJson} (Hugging Face tokenizers' BPE model with a
 * ByteLevel pre-tokenizer: LLaMA-3, GPT-2, Qwen-style files), {@link #clip} / {@link #clipOpenAi} (OpenAI's
 * simple_tokenizer.py).
 *
 * <p>As a {@link Tokenizer} (the interface the encoders use): {@link #encode(String, int)} adds the template and
 * truncates the text's ids, keeping the special tokens, which is exactly what OpenAI's {@code clip.tokenize} does at
 * 77; {@link #padId()} is 0 for CLIP (OpenAI pads with zeros; HF's CLIPTokenizer pads with {@code <|endoftext|>},
 * which the text tower, reading the EOT position as argmax of the ids, treats the same), and for the decoders,
 * whose files name no pad token, tokenizer.json's {@code padding.pad_id} or else 0: a decoder masks padded
 * positions, so the id only has to exist. Type ids are all 0.
 *
 * <p>Java's regex with UNICODE_CHARACTER_CLASS: {@code \s} is the Unicode White_Space property, as in Rust's regex
 * (tokenizers) and Python's regex module; {@code \p{L}}, {@code \p{N}}, {@code (?i:...)} and {@code \s+(?!\S)} mean
 * what they mean there. Java strings are UTF-16: an unpaired surrogate (which neither Python's UTF-8 encoder nor a
 * Rust string accepts) becomes '?' in the bytes. Immutable and thread-safe.
 */
public final class BpeTokenizer implements Tokenizer {
  /** OpenAI GPT-2's pre-tokenizer (encoder.py), also the ByteLevel pre-tokenizer's with use_regex. */
  public static final String GPT2_PATTERN =
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  /** OpenAI CLIP's pre-tokenizer (simple_tokenizer.py, case-insensitive). */
  public static final String CLIP_PATTERN =
      "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
  /** simple_tokenizer.py uses the first 49152 - 256 - 2 merges of its file, and HF's CLIPTokenizer does the same. */
  public static final int CLIP_MERGES = 49152 - 256 - 2;
  /** OpenAI's CLIP context length. */
  public static final int CLIP_CONTEXT = 77;
  /** Pre-tokens cached per tokenizer; when full, new words are tokenized but not cached (as the Rust library does). */
  private static final int CACHE_CAPACITY = 100_000;
  /** Longer pre-tokens are not cached (the Rust library's limit): long ones rarely repeat. */
  private static final int CACHE_MAX_CHARS = 256;

  private final BpeModel model;
  private final Pattern split;
  private final boolean clipClean;
  private final boolean keepUnmatched; // text between regex matches is a piece (HF Split Isolated); OpenAI's findall drops it
  private final Normalizer.Form normalization; // null for none
  private final boolean prefixSpaceOnSegment; // ByteLevel's add_prefix_space when it also splits: once per segment
  private final boolean prefixSpaceOnPiece; // ... and after a Split: once per piece it receives
  private final AddedTokenMatcher added; // null when there are none
  private final Map<String, Integer> wholePieces; // pre-tokens that are one token as they stand (CLIP's SOT/EOT)
  private final Map<String, Integer> tokenIds; // vocabulary and added tokens: token -> id
  private final String[] idToToken;
  private final boolean[] isAdded; // written back as their content by decode, not through the byte alphabet
  private final boolean[] isSpecial; // left out by decode(ids, true)
  private final String endOfWordSuffix;
  private final int[] prefix;
  private final int[] suffix;
  private final int padId;
  private final String source;
  private final Map<String, int[]> cache;

  private BpeTokenizer(Builder b) {
    this.model = new BpeModel(b.vocab, b.merges, b.ignoreMerges, b.endOfWordSuffix, b.mergesSource);
    this.split = Pattern.compile(b.pattern, Pattern.UNICODE_CHARACTER_CLASS | b.patternFlags);
    this.clipClean = b.clipClean;
    this.keepUnmatched = !b.clipClean;
    this.normalization = b.normalization;
    this.prefixSpaceOnSegment = b.addPrefixSpace && !b.splitBeforeByteLevel;
    this.prefixSpaceOnPiece = b.addPrefixSpace && b.splitBeforeByteLevel;
    this.added = b.added.isEmpty() ? null : new AddedTokenMatcher(b.added);
    this.wholePieces = Map.copyOf(b.wholePieces);
    this.endOfWordSuffix = b.endOfWordSuffix;
    this.tokenIds = new HashMap<>(b.vocab);
    int max = -1;
    for (int id : b.vocab.values()) max = Math.max(max, id);
    for (AddedToken t : b.added) max = Math.max(max, t.id());
    if (max >= (1 << 24)) throw new IllegalArgumentException(b.source + ": token id " + max + " is implausibly large for a vocabulary");
    this.idToToken = new String[max + 1];
    this.isAdded = new boolean[max + 1];
    this.isSpecial = new boolean[max + 1];
    for (Map.Entry<String, Integer> e : b.vocab.entrySet()) idToToken[e.getValue()] = e.getKey();
    for (AddedToken t : b.added) {
      idToToken[t.id()] = t.content();
      isAdded[t.id()] = true;
      tokenIds.put(t.content(), t.id());
    }
    for (Map.Entry<String, Integer> e : b.wholePieces.entrySet()) isAdded[e.getValue()] = true;
    for (int id : concat(b.prefix, b.suffix)) {
      if (id < 0 || id > max || idToToken[id] == null) {
        throw new IllegalArgumentException(b.source + ": the template's token id " + id + " is not in the vocabulary");
      }
    }
    for (int id : b.specialIds) if (id >= 0 && id <= max) isSpecial[id] = true;
    this.prefix = b.prefix;
    this.suffix = b.suffix;
    this.padId = b.padId;
    this.source = b.source;
    this.cache = new ConcurrentHashMap<>();
  }

  /** The same tokenizer (sharing its model and cache) with another template. */
  private BpeTokenizer(BpeTokenizer t, int[] prefix, int[] suffix) {
    this.model = t.model;
    this.split = t.split;
    this.clipClean = t.clipClean;
    this.keepUnmatched = t.keepUnmatched;
    this.normalization = t.normalization;
    this.prefixSpaceOnSegment = t.prefixSpaceOnSegment;
    this.prefixSpaceOnPiece = t.prefixSpaceOnPiece;
    this.added = t.added;
    this.wholePieces = t.wholePieces;
    this.tokenIds = t.tokenIds;
    this.idToToken = t.idToToken;
    this.isAdded = t.isAdded;
    this.endOfWordSuffix = t.endOfWordSuffix;
    this.padId = t.padId;
    this.source = t.source;
    this.cache = t.cache;
    this.prefix = prefix.clone();
    this.suffix = suffix.clone();
    this.isSpecial = t.isSpecial.clone();
    for (int id : prefix) if (id >= 0 && id < isSpecial.length) isSpecial[id] = true;
    for (int id : suffix) if (id >= 0 && id < isSpecial.length) isSpecial[id] = true;
  }

  // ------------------------------------------------------------------------------------------------ sources

  /** GPT-2: OpenAI's {@code vocab.json} (token -> id) and {@code merges.txt}; no added tokens, no template. */
  public static BpeTokenizer gpt2(Path vocabJson, Path mergesTxt) {
    Builder b = new Builder(vocabJson + " + " + mergesTxt);
    b.vocab = TokenizerFiles.vocab(TokenizerFiles.readJson(vocabJson, "GPT-2's vocab.json (token -> id)"), vocabJson.toString());
    b.merges = readMergesTxt(mergesTxt, Integer.MAX_VALUE);
    b.mergesSource = mergesTxt.toString();
    b.pattern = GPT2_PATTERN;
    return new BpeTokenizer(b);
  }

  /**
   * OpenAI CLIP: {@code vocab.json} and {@code merges.txt} (the Hugging Face CLIP files), {@code </w>} on the last
   * symbol of each word, OpenAI's text clean-up, {@code <|startoftext|>} text {@code <|endoftext|>}, pad id 0.
   */
  public static BpeTokenizer clip(Path vocabJson, Path mergesTxt) {
    Map<String, Integer> vocab =
        TokenizerFiles.vocab(TokenizerFiles.readJson(vocabJson, "CLIP's vocab.json (token -> id)"), vocabJson.toString());
    return clip(vocab, readMergesTxt(mergesTxt, CLIP_MERGES), vocabJson + " + " + mergesTxt, mergesTxt.toString());
  }

  /**
   * OpenAI CLIP from its own {@code bpe_simple_vocab_16e6.txt.gz} (merges only): the vocabulary is built as
   * simple_tokenizer.py builds it — the 256 byte chars, the same with {@code </w>}, one token per merge, SOT, EOT.
   */
  public static BpeTokenizer clipOpenAi(Path bpeSimpleVocabGz) {
    String what = "OpenAI CLIP's bpe_simple_vocab_16e6.txt.gz (gzipped merges)";
    List<String> lines;
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(TokenizerFiles.readBytes(bpeSimpleVocabGz, what)))) {
      lines = List.of(new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n"));
    } catch (IOException e) {
      throw new IllegalArgumentException(bpeSimpleVocabGz.toAbsolutePath() + " is not a readable gzip file (" + e.getMessage()
          + "); expected " + what + " — download it again", e);
    }
    List<String[]> merges = parseMerges(lines, CLIP_MERGES, bpeSimpleVocabGz.toAbsolutePath().toString());
    // list(bytes_to_unicode().values()): the printable bytes, then the others, i.e. the alphabet's chars ascending
    List<String> alphabet = new ArrayList<>();
    for (char c = 0; alphabet.size() < 256; c++) if (ByteLevelAlphabet.byteOf(c) >= 0) alphabet.add(String.valueOf(c));
    List<String> tokens = new ArrayList<>(alphabet);
    for (String c : alphabet) tokens.add(c + "</w>");
    for (String[] m : merges) tokens.add(m[0] + m[1]);
    tokens.add("<|startoftext|>");
    tokens.add("<|endoftext|>");
    Map<String, Integer> vocab = new HashMap<>();
    for (int i = 0; i < tokens.size(); i++) vocab.put(tokens.get(i), i);
    return clip(vocab, merges, bpeSimpleVocabGz.toString(), bpeSimpleVocabGz.toString());
  }

  private static BpeTokenizer clip(Map<String, Integer> vocab, List<String[]> merges, String source, String mergesSource) {
    Builder b = new Builder(source);
    b.vocab = vocab;
    b.merges = merges;
    b.mergesSource = mergesSource;
    b.pattern = CLIP_PATTERN;
    b.patternFlags = Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE;
    b.clipClean = true;
    b.endOfWordSuffix = "</w>";
    int sot = require(vocab, "<|startoftext|>", source);
    int eot = require(vocab, "<|endoftext|>", source);
    // simple_tokenizer's regex matches them whole, and its bpe cache maps them to themselves
    b.wholePieces.put("<|startoftext|>", sot);
    b.wholePieces.put("<|endoftext|>", eot);
    b.specialIds.add(sot);
    b.specialIds.add(eot);
    b.prefix = new int[] {sot};
    b.suffix = new int[] {eot};
    b.padId = 0;
    return new BpeTokenizer(b);
  }

  /**
   * A Hugging Face {@code tokenizer.json} whose model is BPE over bytes (a ByteLevel pre-tokenizer): LLaMA-3, GPT-2,
   * Qwen and similar. Honoured: the Split regex (or the ByteLevel one), add_prefix_space, {@code ignore_merges},
   * {@code end_of_word_suffix}, NFC/NFD/NFKC/NFKD normalizers, {@code added_tokens}, a TemplateProcessing /
   * RobertaProcessing / BertProcessing post-processor, {@code padding.pad_id}. Anything else is refused with a
   * message rather than tokenized differently.
   */
  public static BpeTokenizer fromTokenizerJson(Path tokenizerJson) {
    String what = "a Hugging Face tokenizer.json";
    JsonNode root = TokenizerFiles.readJson(tokenizerJson, what);
    String where = tokenizerJson.toString();
    Builder b = new Builder(where);
    JsonNode model = root.path("model");
    String type = model.path("type").asText("");
    if (!type.equals("BPE") && !(type.isEmpty() && model.has("merges"))) {
      throw new IllegalArgumentException(where + ": model type '" + (type.isEmpty() ? "(none)" : type)
          + "' is not BPE, so not a byte-level BPE tokenizer; BpeTokenizer reads those only (WordPiece ones: WordPieceTokenizer)");
    }
    if (!model.path("dropout").isNull() && !model.path("dropout").isMissingNode() && model.path("dropout").asDouble() > 0) {
      throw new IllegalArgumentException(where + ": BPE dropout " + model.path("dropout") + " makes tokenization random; "
          + "set it to null for inference");
    }
    if (!model.path("continuing_subword_prefix").isNull() && !model.path("continuing_subword_prefix").isMissingNode()
        && !model.path("continuing_subword_prefix").asText().isEmpty()) {
      throw new IllegalArgumentException(where + ": continuing_subword_prefix is not supported by BpeTokenizer");
    }
    b.vocab = TokenizerFiles.vocab(model.get("vocab"), where + " model.vocab");
    b.merges = new ArrayList<>();
    int n = 0;
    for (JsonNode m : model.path("merges")) {
      n++;
      String[] pair;
      if (m.isArray() && m.size() == 2) {
        pair = new String[] {m.get(0).asText(), m.get(1).asText()};
      } else {
        pair = m.isTextual() ? m.asText().split(" ", -1) : new String[0];
        if (pair.length != 2) {
          throw new IllegalArgumentException(where + ": model.merges entry " + n + " (" + m + ") is not a pair "
              + "\"left right\" or [left, right]; the file is damaged — download it again");
        }
      }
      b.merges.add(pair);
    }
    if (b.merges.isEmpty()) throw new IllegalArgumentException(where + ": model.merges is missing or empty");
    b.mergesSource = where + " model.merges";
    b.ignoreMerges = model.path("ignore_merges").asBoolean(false);
    b.endOfWordSuffix = model.path("end_of_word_suffix").isTextual() ? model.path("end_of_word_suffix").asText() : null;

    b.normalization = normalization(root.get("normalizer"), where);
    readPreTokenizer(root.get("pre_tokenizer"), where, b);

    for (JsonNode t : root.path("added_tokens")) {
      AddedToken at = AddedToken.fromJson(t);
      if (at.content().isEmpty() || at.id() < 0) continue;
      // normalized=true tokens are matched on the raw text too: exact for the NFC-family normalizers of such
      // files when the token is already in that form (all ASCII specials are)
      b.added.add(at);
      if (t.path("special").asBoolean(false)) b.specialIds.add(at.id());
    }
    Map<String, Integer> ids = new HashMap<>(b.vocab);
    for (AddedToken t : b.added) ids.put(t.content(), t.id());
    readTemplate(root.get("post_processor"), ids, where, b);
    b.padId = root.path("padding").path("pad_id").asInt(0);
    return new BpeTokenizer(b);
  }

  /** The same tokenizer with the template {@code prefix} text {@code suffix} (e.g. BOS from tokenizer_config.json). */
  public BpeTokenizer withTemplate(int[] prefix, int[] suffix) {
    for (int id : concat(prefix, suffix)) {
      if (id < 0 || id >= idToToken.length || idToToken[id] == null) {
        throw new IllegalArgumentException("template id " + id + " is not a token of " + source);
      }
    }
    return new BpeTokenizer(this, prefix, suffix);
  }

  // ------------------------------------------------------------------------------------------------ encoding

  /** The text's ids; with {@code addSpecialTokens}, inside the template (as HF's {@code encode(add_special_tokens=)}). */
  public int[] encode(String text, boolean addSpecialTokens) {
    IntList out = new IntList(text == null ? 4 : text.length() / 3 + 4);
    if (addSpecialTokens) out.addAll(prefix);
    if (text != null) tokenize(text, out);
    if (addSpecialTokens) out.addAll(suffix);
    return out.toArray();
  }

  /**
   * The template and the text's ids, the text's cut so that all fit in {@code maxLength}; the special tokens stay
   * (CLIP at 77: {@code <|startoftext|>}, 75 text ids, {@code <|endoftext|>}, as OpenAI's clip.tokenize truncates).
   */
  @Override
  public Encoding encode(String text, int maxLength) {
    int specials = prefix.length + suffix.length;
    if (maxLength < specials) {
      throw new IllegalArgumentException("maxLength " + maxLength + " is below the " + specials + " special tokens of " + source);
    }
    int[] content = encode(text, false);
    int keep = Math.min(content.length, maxLength - specials);
    int[] ids = new int[keep + specials];
    System.arraycopy(prefix, 0, ids, 0, prefix.length);
    System.arraycopy(content, 0, ids, prefix.length, keep);
    System.arraycopy(suffix, 0, ids, prefix.length + keep, suffix.length);
    return new Encoding(ids, new int[ids.length], content.length + specials, keep < content.length);
  }

  /**
   * Exactly {@code length} ids: {@link #encode(String, int)} padded with {@link #padId()} — CLIP's [n, 77] text input
   * ({@code clip.tokenize(texts, truncate=True)}) with {@code length} {@link #CLIP_CONTEXT}.
   */
  public int[] encodePadded(String text, int length) {
    int[] ids = encode(text, length).ids();
    int[] out = Arrays.copyOf(ids, length);
    if (padId != 0) Arrays.fill(out, ids.length, length, padId);
    return out;
  }

  @Override
  public List<String> tokens(String text) {
    List<String> out = new ArrayList<>();
    for (int id : encode(text, false)) out.add(idToToken[id]);
    return out;
  }

  private void tokenize(String text, IntList out) {
    if (clipClean) text = ClipTextCleaner.clean(text);
    if (added == null) {
      segment(text, out);
      return;
    }
    int at = 0;
    int[] m = new int[3];
    while (added.next(text, at, m)) {
      if (m[0] > at) segment(text.substring(at, m[0]), out);
      out.add(m[2]);
      at = m[1];
    }
    if (at < text.length()) segment(text.substring(at), out);
  }

  /**
   * Text between added tokens: normalize, split with the regex, BPE. What lies between matches is a piece too for
   * tokenizer.json (Split "Isolated"); CLIP's {@code re.findall} drops it (only the spaces its regex skips).
   */
  private void segment(String s, IntList out) {
    if (s.isEmpty()) return;
    if (normalization != null && !Normalizer.isNormalized(s, normalization)) s = Normalizer.normalize(s, normalization);
    if (prefixSpaceOnSegment && s.charAt(0) != ' ') s = " " + s;
    Matcher m = split.matcher(s);
    int at = 0;
    while (m.find()) {
      if (keepUnmatched && m.start() > at) piece(s.substring(at, m.start()), out);
      if (m.end() > m.start()) piece(m.group(), out);
      at = m.end();
    }
    if (keepUnmatched && at < s.length()) piece(s.substring(at), out);
  }

  private void piece(String piece, IntList out) {
    Integer whole = wholePieces.get(piece);
    if (whole != null) {
      out.add(whole);
      return;
    }
    int[] ids = cache.get(piece);
    if (ids == null) {
      String word = ByteLevelAlphabet.encode(prefixSpaceOnPiece && piece.charAt(0) != ' ' ? " " + piece : piece);
      ids = model.tokenize(word);
      if (piece.length() < CACHE_MAX_CHARS && cache.size() < CACHE_CAPACITY) cache.put(piece, ids);
    }
    out.addAll(ids);
  }

  // ------------------------------------------------------------------------------------------------ decoding

  /** The text of the ids, special tokens included: {@code decode(encode(x, false)) == x} for GPT-2 and LLaMA-3. */
  public String decode(int[] ids) { return decode(ids, false); }

  /**
   * The text of the ids: bytes of the byte alphabet joined and read as UTF-8 (invalid sequences become U+FFFD, as in
   * both references); added tokens as written; CLIP's {@code </w>} as a space (simple_tokenizer's decode).
   */
  public String decode(int[] ids, boolean skipSpecialTokens) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (int id : ids) {
      if (id < 0 || id >= idToToken.length || idToToken[id] == null) {
        throw new IllegalArgumentException("token id " + id + " is not in the vocabulary of " + source
            + " (ids 0.." + (idToToken.length - 1) + ")");
      }
      if (skipSpecialTokens && isSpecial[id]) continue;
      String t = idToToken[id];
      if (isAdded[id]) {
        bytes.writeBytes(t.getBytes(StandardCharsets.UTF_8));
      } else if (endOfWordSuffix != null && t.endsWith(endOfWordSuffix)) {
        ByteLevelAlphabet.decode(t, 0, t.length() - endOfWordSuffix.length(), bytes);
        bytes.write(' ');
      } else {
        ByteLevelAlphabet.decode(t, 0, t.length(), bytes);
      }
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  // ------------------------------------------------------------------------------------------------ vocabulary

  /** The id of a token as the vocabulary or added_tokens spell it ({@code <|begin_of_text|>}, {@code Ġthe}), or -1. */
  public int id(String token) { return tokenIds.getOrDefault(token, -1); }

  /** The token of an id as the vocabulary spells it, or null. */
  public String token(int id) { return id >= 0 && id < idToToken.length ? idToToken[id] : null; }

  /** Special tokens before the text (empty for none). */
  public int[] prefix() { return prefix.clone(); }

  /** Special tokens after the text (empty for none). */
  public int[] suffix() { return suffix.clone(); }

  @Override
  public int padId() { return padId; }

  /** One past the largest id of the vocabulary and the added tokens. */
  @Override
  public int vocabSize() { return idToToken.length; }

  @Override
  public String toString() {
    return "BpeTokenizer[" + source + ", " + idToToken.length + " ids, template " + Arrays.toString(prefix) + " text "
        + Arrays.toString(suffix) + "]";
  }

  // ------------------------------------------------------------------------------------------------ file reading

  /** OpenAI's merges.txt: a "#version" line, then "left right" a line, by rank; at most {@code limit} merges. */
  private static List<String[]> readMergesTxt(Path file, int limit) {
    String what = "a BPE merges.txt (\"#version\" line, then one \"left right\" merge a line)";
    return parseMerges(TokenizerFiles.readLines(file, what), limit, file.toAbsolutePath().toString());
  }

  private static List<String[]> parseMerges(List<String> lines, int limit, String where) {
    List<String[]> merges = new ArrayList<>();
    for (int i = 0; i < lines.size() && merges.size() < limit; i++) {
      String line = lines.get(i);
      if (i == 0 && line.startsWith("#version")) continue;
      if (line.isBlank()) continue;
      String[] pair = line.strip().split(" ", -1);
      if (pair.length != 2 || pair[0].isEmpty() || pair[1].isEmpty()) {
        throw new IllegalArgumentException(where + " line " + (i + 1) + ": '" + line
            + "' is not a merge \"left right\"; is this a BPE merges file? download it again");
      }
      merges.add(pair);
    }
    if (merges.isEmpty()) throw new IllegalArgumentException(where + " holds no merges; is this a BPE merges file?");
    return merges;
  }

  private static int require(Map<String, Integer> vocab, String token, String source) {
    Integer id = vocab.get(token);
    if (id == null) throw new IllegalArgumentException(source + ": the vocabulary lacks " + token + "; is it CLIP's?");
    return id;
  }

  private static Normalizer.Form normalization(JsonNode n, String where) {
    if (n == null || n.isNull()) return null;
    String type = n.path("type").asText("(none)");
    if (type.equals("Sequence") && n.path("normalizers").size() == 0) return null;
    if (type.equals("Sequence") && n.path("normalizers").size() == 1) return normalization(n.path("normalizers").get(0), where);
    return switch (type) {
      case "NFC" -> Normalizer.Form.NFC;
      case "NFD" -> Normalizer.Form.NFD;
      case "NFKC" -> Normalizer.Form.NFKC;
      case "NFKD" -> Normalizer.Form.NFKD;
      default -> throw new IllegalArgumentException(where + ": normalizer '" + type + "' is not supported by "
          + "BpeTokenizer (none, NFC, NFD, NFKC or NFKD)");
    };
  }

  /** ByteLevel alone (GPT-2's regex), or one Split (Isolated) followed by ByteLevel without its own regex. */
  private static void readPreTokenizer(JsonNode pre, String where, Builder b) {
    List<JsonNode> steps = new ArrayList<>();
    if (pre != null && pre.path("type").asText().equals("Sequence")) {
      pre.path("pretokenizers").forEach(steps::add);
    } else if (pre != null && !pre.isNull()) {
      steps.add(pre);
    }
    JsonNode last = steps.isEmpty() ? null : steps.get(steps.size() - 1);
    if (last == null || !last.path("type").asText().equals("ByteLevel")) {
      throw new IllegalArgumentException(where + ": the pre_tokenizer is not byte-level (ByteLevel last), so this is "
          + "not a byte-level BPE tokenizer (SentencePiece-style BPE such as LLaMA-2's uses Metaspace and byte_fallback; "
          + "BpeTokenizer does not read those)");
    }
    boolean byteLevelRegex = last.path("use_regex").asBoolean(true);
    b.addPrefixSpace = last.path("add_prefix_space").asBoolean(false);
    if (steps.size() == 1) {
      if (!byteLevelRegex) {
        b.pattern = "(?s).+"; // no splitting at all: the whole text is one word
      } else {
        b.pattern = GPT2_PATTERN;
      }
      return;
    }
    JsonNode s = steps.get(0);
    if (steps.size() != 2 || !s.path("type").asText().equals("Split") || byteLevelRegex) {
      List<String> types = steps.stream().map(x -> x.path("type").asText()).toList();
      throw new IllegalArgumentException(where + ": pre_tokenizer sequence " + types + " is not supported by BpeTokenizer "
          + "(ByteLevel alone, or [Split, ByteLevel with use_regex false])");
    }
    if (!s.path("behavior").asText().equals("Isolated") || s.path("invert").asBoolean(false)) {
      throw new IllegalArgumentException(where + ": Split behavior '" + s.path("behavior").asText() + "'"
          + (s.path("invert").asBoolean(false) ? " inverted" : "") + " is not supported by BpeTokenizer (Isolated only)");
    }
    b.splitBeforeByteLevel = true;
    if (s.path("pattern").has("Regex")) {
      b.pattern = s.path("pattern").path("Regex").asText();
    } else if (s.path("pattern").has("String")) {
      b.pattern = Pattern.quote(s.path("pattern").path("String").asText());
    } else {
      throw new IllegalArgumentException(where + ": Split has no pattern (Regex or String)");
    }
    try {
      Pattern.compile(b.pattern, Pattern.UNICODE_CHARACTER_CLASS);
    } catch (java.util.regex.PatternSyntaxException e) {
      throw new IllegalArgumentException(where + ": the Split regex is not one Java's regex reads: " + e.getDescription()
          + " in " + b.pattern, e);
    }
  }

  /** The single-sequence template: special tokens before and after $A. */
  private static void readTemplate(JsonNode pp, Map<String, Integer> ids, String where, Builder b) {
    if (pp == null || pp.isNull()) return;
    String type = pp.path("type").asText("(none)");
    switch (type) {
      case "ByteLevel" -> { } // offsets only
      case "Sequence" -> {
        for (JsonNode p : pp.path("processors")) readTemplate(p, ids, where, b);
      }
      case "TemplateProcessing" -> {
        IntList before = new IntList(2);
        IntList after = new IntList(2);
        boolean seenSequence = false;
        for (JsonNode piece : pp.path("single")) {
          if (piece.has("Sequence")) {
            seenSequence = true;
            continue;
          }
          String id = piece.path("SpecialToken").path("id").asText();
          JsonNode tokIds = pp.path("special_tokens").path(id).path("ids");
          if (!tokIds.isArray() || tokIds.size() == 0) {
            throw new IllegalArgumentException(where + ": the template's special token '" + id + "' has no ids in special_tokens");
          }
          for (JsonNode i : tokIds) (seenSequence ? after : before).add(i.asInt());
        }
        b.prefix = concat(b.prefix, before.toArray());
        b.suffix = concat(b.suffix, after.toArray());
        for (int i : concat(before.toArray(), after.toArray())) b.specialIds.add(i);
      }
      case "RobertaProcessing", "BertProcessing" -> {
        int cls = pp.path("cls").path(1).asInt(-1);
        int sep = pp.path("sep").path(1).asInt(-1);
        if (cls < 0 || sep < 0) throw new IllegalArgumentException(where + ": " + type + " without cls/sep [token, id] pairs");
        b.prefix = concat(b.prefix, new int[] {cls});
        b.suffix = concat(b.suffix, new int[] {sep});
        b.specialIds.add(cls);
        b.specialIds.add(sep);
      }
      default -> throw new IllegalArgumentException(where + ": post_processor '" + type + "' is not supported by BpeTokenizer "
          + "(ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing)");
    }
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** What a source says, gathered before the tokenizer is built. */
  private static final class Builder {
    final String source;
    Map<String, Integer> vocab;
    List<String[]> merges;
    String mergesSource;
    boolean ignoreMerges;
    String endOfWordSuffix;
    String pattern;
    int patternFlags;
    boolean clipClean;
    Normalizer.Form normalization;
    boolean addPrefixSpace;
    boolean splitBeforeByteLevel;
    final List<AddedToken> added = new ArrayList<>();
    final Map<String, Integer> wholePieces = new HashMap<>();
    final List<Integer> specialIds = new ArrayList<>();
    int[] prefix = new int[0];
    int[] suffix = new int[0];
    int padId;

    Builder(String source) { this.source = source; }
  }

  /** Growable int array (per call, never shared). */
  private static final class IntList {
    private int[] a;
    private int size;

    IntList(int capacity) { a = new int[Math.max(4, capacity)]; }

    void add(int v) {
      if (size == a.length) a = Arrays.copyOf(a, size * 2);
      a[size++] = v;
    }

    void addAll(int[] vs) {
      if (size + vs.length > a.length) a = Arrays.copyOf(a, Math.max(size * 2, size + vs.length));
      System.arraycopy(vs, 0, a, size, vs.length);
      size += vs.length;
    }

    int[] toArray() { return Arrays.copyOf(a, size); }
  }
}
