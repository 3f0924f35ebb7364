package dev.sparkinfer.models.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sparkinfer.models.Fixtures;
import dev.sparkinfer.models.ModelRef;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

class WordPieceTokenizerTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The tokenizer.json of all-MiniLM-L6-v2 (bert-base-uncased vocab: [PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102). */
  private static WordPieceTokenizer minilm;

  @BeforeAll
  static void loadMiniLm() throws IOException {
    try (InputStream in = ModelRef.openDefaultResource(ModelRef.DEFAULT_TOKENIZER_RESOURCE)) {
      minilm = WordPieceTokenizer.fromJson(in);
    }
  }

  // ---------------------------------------------------------------------------------------------- golden cases

  private static List<JsonNode> goldenCases() throws IOException {
    Path file = Fixtures.require("tokenizers/cases.jsonl");
    List<JsonNode> cases = new ArrayList<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (!line.isBlank()) cases.add(JSON.readTree(line));
    }
    return cases;
  }

  @TestFactory
  Stream<DynamicTest> matchesHuggingFaceOnEveryGoldenCase() throws IOException {
    return goldenCases().stream().map(c -> dynamicTest("minilm " + JSON.valueToTree(c.get("text").asText()), () -> {
      String text = c.get("text").asText();
      int[] expected = JSON.convertValue(c.get("minilm"), int[].class);
      Encoding e = minilm.encode(text, 512);
      assertArrayEquals(expected, e.ids(), "ids of " + JSON.writeValueAsString(text) + " (tokens " + minilm.tokens(text) + ")");
      assertEquals(expected.length, e.fullLength(), "fullLength of " + JSON.writeValueAsString(text));
      assertFalse(e.truncated(), "truncated flag of " + JSON.writeValueAsString(text));
      assertArrayEquals(new int[expected.length], e.typeIds(), "typeIds of " + JSON.writeValueAsString(text));
      // tokens() is the same tokenization without [CLS]/[SEP]
      assertEquals(expected.length - 2, minilm.tokens(text).size(), "tokens() of " + JSON.writeValueAsString(text));
    }));
  }

  @Test
  void goldenFileHasTheCasesTheReadmeDescribes() throws IOException {
    List<JsonNode> cases = goldenCases();
    assertTrue(cases.size() >= 20, "expected at least 20 golden cases, found " + cases.size());
    for (JsonNode c : cases) assertTrue(c.has("text") && c.get("minilm").isArray(), "case without text/minilm: " + c);
  }

  @Test
  void isThreadSafe() {
    List<String> texts = List.of("Hello, world!", "naïve café résumé", "大模型技术日新月异", "unaffable [SEP] x",
        "e-mail: someone@example.com", "a".repeat(101), "", "The quick brown fox jumps over the lazy dog.");
    List<int[]> sequential = texts.stream().map(t -> minilm.encode(t, 512).ids()).toList();
    // many threads on one instance must give what one thread gives
    IntStream.range(0, 200).parallel().forEach(i -> {
      int k = i % texts.size();
      assertArrayEquals(sequential.get(k), minilm.encode(texts.get(k), 512).ids(), texts.get(k));
    });
  }

  // ---------------------------------------------------------------------------------------------- MiniLM behaviour

  @Test
  void minilmBasics() {
    assertEquals(0, minilm.padId(), "padding.pad_id of the json is 0");
    assertEquals(30522, minilm.vocabSize(), "bert-base-uncased has 30522 entries, ids 0..30521");
  }

  @Test
  void truncationKeepsClsAndSepAndSetsFlags() {
    // "the quick brown fox" -> the(1996) quick(4248) brown(2829) fox(4419), ids from the golden "quick brown fox" case.
    // HF truncates the content to max_length - 2 and then adds [CLS] ... [SEP].
    Encoding cut = minilm.encode("the quick brown fox", 4);
    assertArrayEquals(new int[] {101, 1996, 4248, 102}, cut.ids());
    assertArrayEquals(new int[4], cut.typeIds());
    assertEquals(6, cut.fullLength(), "4 words + [CLS] + [SEP] without truncation");
    assertTrue(cut.truncated());
    assertEquals(4, cut.length());

    Encoding exact = minilm.encode("the quick brown fox", 6); // fits exactly: nothing cut
    assertArrayEquals(new int[] {101, 1996, 4248, 2829, 4419, 102}, exact.ids());
    assertFalse(exact.truncated());
    assertEquals(6, exact.fullLength());

    Encoding onlySpecials = minilm.encode("the quick brown fox", 2); // no room for content: [CLS] [SEP]
    assertArrayEquals(new int[] {101, 102}, onlySpecials.ids());
    assertTrue(onlySpecials.truncated());
    assertEquals(6, onlySpecials.fullLength());

    assertThrows(IllegalArgumentException.class, () -> minilm.encode("the", 1), "1 id cannot hold [CLS] and [SEP]");
  }

  @Test
  void emptyAndWhitespaceOnlyTextGiveClsSep() {
    // clean_text turns \t \n \r into spaces; the pre-tokenizer drops whitespace; nothing is left for WordPiece
    for (String text : new String[] {"", " ", "   \t\n\r  ", "\u00A0\u3000\u2003"}) {
      Encoding e = minilm.encode(text, 128);
      assertArrayEquals(new int[] {101, 102}, e.ids(), "ids of " + JSON.valueToTree(text));
      assertEquals(2, e.fullLength());
      assertFalse(e.truncated());
      assertEquals(List.of(), minilm.tokens(text), "tokens of " + JSON.valueToTree(text));
    }
  }

  @Test
  void accentsAreStrippedBecauseStripAccentsFollowsLowercase() {
    // strip_accents is null and lowercase true: NFD, drop Mn, lowercase. "Café" -> "cafe" (vocab 7668)
    assertEquals(List.of("cafe"), minilm.tokens("Café"));
    assertEquals(List.of("cafe"), minilm.tokens("Cafe\u0301"), "decomposed é (e + U+0301) too");
    assertEquals(List.of("naive"), minilm.tokens("NAÏVE"));
    assertArrayEquals(new int[] {101, 7668, 102}, minilm.encode("CAFÉ", 8).ids());
  }

  @Test
  void cjkIdeographsBecomeOneTokenEach() {
    // handle_chinese_chars puts spaces around each ideograph: 中 (1746) and 文 (1861) are separate words even when
    // glued to Latin letters; x=1060, y=1061
    assertArrayEquals(new int[] {101, 1060, 1746, 1861, 1061, 102}, minilm.encode("x中文y", 16).ids());
    assertEquals(List.of("日", "本"), minilm.tokens("日本"));
  }

  @Test
  void specialTokensTypedInTheTextAreMatchedBeforeNormalization() {
    // added_tokens [SEP] etc. are normalized=false: HF cuts them out of the raw text, case-sensitively
    assertArrayEquals(new int[] {101, 7592, 102, 2088, 102}, minilm.encode("hello [SEP] world", 16).ids());
    assertEquals(List.of("hello", "[SEP]", "world"), minilm.tokens("hello[SEP]world"));
    // lowercase "[sep]" is no added token: it is lowercased text, split at the brackets (punctuation)
    assertEquals(List.of("hello", "[", "sep", "]"), minilm.tokens("hello [sep]"));
  }

  @Test
  void characterClassesAreThoseOfTheReferenceUnicode8Tables() {
    // The Rust library classifies with unicode_categories 0.1.1 (UnicodeData of Unicode 8.0). U+2E4F (Po only since
    // Unicode 11) is no punctuation there, so "x\u2E4Fy" stays one word with no vocab cover: a single [UNK]. A JDK
    // category lookup would isolate it and give x [UNK] y.
    assertArrayEquals(new int[] {101, 100, 102}, minilm.encode("x\u2E4Fy", 16).ids());
    // U+0B55 (Mn only since Unicode 13) is no mark there: strip_accents keeps it, and "x\u0B55y" is one [UNK] word
    assertArrayEquals(new int[] {101, 100, 102}, minilm.encode("x\u0B55y", 16).ids());
    // while U+2E2E (Po in Unicode 8, reversed question mark) is punctuation and U+0301 (Mn) is stripped
    assertArrayEquals(new int[] {101, 1060, 100, 1061, 102}, minilm.encode("x\u2E2Ey", 16).ids());
    assertArrayEquals(new int[] {101, 1060, 102}, minilm.encode("x\u0301", 16).ids());
    // U+180E (Mongolian vowel separator) is Cf since Unicode 6.3 and no White_Space: clean_text drops it, so
    // "a\u180Eb" is the word "ab" (vocab 11113), not "a" "b"
    assertArrayEquals(new int[] {101, 11113, 102}, minilm.encode("a\u180Eb", 16).ids());
  }

  // ---------------------------------------------------------------------------------------------- tiny tokenizer

  /** A small WordPiece vocab whose outcomes can be worked out by hand. */
  private static final String[] TINY_VOCAB = {
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "##a", "cafe", "un", "##aff", "##able", // 0-9
      "##ab", "中", "文", "x", "y", "abcd", "$", "¿", "b", "の", // 10-19
      "##の", "caf\u00e9", "Cafe", "##b", "\uD835\uDC00", "##\uD835\uDC00", // 20-25
      "i", "##\u0307", "##\u03c3"}; // 26-28

  private static ObjectNode tinyJson() {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    root.putArray("added_tokens");
    ObjectNode norm = root.putObject("normalizer");
    norm.put("type", "BertNormalizer").put("clean_text", true).put("handle_chinese_chars", true)
        .putNull("strip_accents");
    norm.put("lowercase", true);
    root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
    root.putNull("post_processor"); // falls back to [CLS] A [SEP] from the vocab
    root.putNull("decoder");
    ObjectNode model = root.putObject("model");
    model.put("type", "WordPiece").put("unk_token", "[UNK]").put("continuing_subword_prefix", "##")
        .put("max_input_chars_per_word", 100);
    ObjectNode vocab = model.putObject("vocab");
    for (int i = 0; i < TINY_VOCAB.length; i++) vocab.put(TINY_VOCAB[i], i);
    return root;
  }

  private static WordPieceTokenizer load(JsonNode json) {
    try {
      return WordPieceTokenizer.fromJson(new ByteArrayInputStream(JSON.writeValueAsBytes(json)));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void greedyLongestMatchFirst() {
    WordPieceTokenizer t = load(tinyJson());
    // after "un", "##able" is not reachable before "##aff"; at "able" the longest piece "##able" beats "##ab", "##a"
    assertEquals(List.of("un", "##aff", "##able"), t.tokens("unaffable"));
    assertEquals(List.of("a", "##a", "##a"), t.tokens("aaa"));
    assertEquals(List.of("a", "##b"), t.tokens("ab"), "'ab' is no word-initial piece: a + ##b");
    // one uncoverable rest turns the whole word into a single [UNK] (no partial pieces)
    assertEquals(List.of("[UNK]"), t.tokens("unaffablex"));
    assertArrayEquals(new int[] {2, 7, 8, 9, 1, 3}, t.encode("unaffable unaffablex", 16).ids());
  }

  @Test
  void wordsLongerThanMaxInputCharsAreUnk() {
    WordPieceTokenizer t = load(tinyJson());
    // 100 chars is still allowed: a + 99 x ##a
    List<String> hundred = t.tokens("a".repeat(100));
    assertEquals(100, hundred.size());
    assertFalse(hundred.contains("[UNK]"));
    // 101 chars > max_input_chars_per_word: one [UNK] (id 1) between [CLS]=2 and [SEP]=3
    assertArrayEquals(new int[] {2, 1, 3}, t.encode("a".repeat(101), 512).ids());
    // the MiniLM tokenizer likewise ([UNK] = 100); "a" x 101 has a piece for every char otherwise
    assertArrayEquals(new int[] {101, 100, 102}, minilm.encode("a".repeat(101), 512).ids());
    // the limit counts code points (Rust chars), not UTF-16 units: 60 x U+1D400 is 120 Java chars but 60 chars
    String bold = "\uD835\uDC00";
    List<String> sixty = t.tokens(bold.repeat(60));
    assertEquals(60, sixty.size());
    assertEquals(bold, sixty.get(0));
    assertEquals("##" + bold, sixty.get(59));
    assertEquals(List.of("[UNK]"), t.tokens(bold.repeat(101)));
  }

  @Test
  void controlCharsAreDroppedAndWhitespaceSplits() {
    WordPieceTokenizer t = load(tinyJson());
    // clean_text drops U+0000, BEL (Cc), U+200B (Cf), U+FFFD and a private-use char (Co): "abcd" stays one word
    assertEquals(List.of("abcd"), t.tokens("a\u0000b\u0007c\u200B\uE000d\uFFFD"));
    // \t \n \r and Unicode White_Space (NBSP, ideographic space) separate words
    assertEquals(List.of("a", "b", "a", "b", "a"), t.tokens("a\tb\r\na\u00A0b\u3000a"));
    // U+000C (form feed) is a control char (Cc) and is dropped before whitespace mapping, joining the letters
    assertEquals(List.of("a", "##b"), t.tokens("a\u000Cb"));
  }

  @Test
  void punctuationIsIsolated() {
    WordPieceTokenizer t = load(tinyJson());
    // '$' is ASCII punctuation for BERT (range 33-47) though Unicode calls it Sc; '¿' is Po
    assertEquals(List.of("a", "$", "b", "¿", "a"), t.tokens("a$b¿a"));
  }

  @Test
  void cjkSplitButKanaNot() {
    WordPieceTokenizer t = load(tinyJson());
    assertEquals(List.of("x", "中", "文", "y"), t.tokens("x中文y"));
    // hiragana is not in is_chinese_char: "のの" is one word, the / ##の
    assertEquals(List.of("の", "##の"), t.tokens("のの"));
  }

  @Test
  void normalizerFlagsAreReadFromTheJson() {
    // lowercase true, strip_accents null -> stripped
    assertEquals(List.of("cafe"), load(tinyJson()).tokens("CAFÉ"));

    ObjectNode keepAccents = tinyJson();
    ((ObjectNode) keepAccents.get("normalizer")).put("strip_accents", false);
    // lowercased but accent kept: "café" with precomposed é is its own vocab entry (21)
    assertArrayEquals(new int[] {2, 21, 3}, load(keepAccents).encode("CAFÉ", 8).ids());

    // Rust's char::to_lowercase('İ') is "i" + U+0307 (the full mapping, not Java's simple 'i'); kept as no accent is
    // stripped: i + ##U+0307. (With strip_accents the NFD of 'İ' loses the U+0307 before lowercasing, giving "i".)
    assertEquals(List.of("i", "##\u0307"), load(keepAccents).tokens("\u0130"));
    assertEquals(List.of("i"), load(tinyJson()).tokens("\u0130"));
    // and per char: a final capital sigma lowercases to σ, never to the final form ς (no context rule)
    // "AΣ" -> "aσ" -> a ##σ (String.toLowerCase would give "aς", which has no vocab cover)
    assertEquals(List.of("a", "##\u03c3"), load(tinyJson()).tokens("A\u03a3"));

    ObjectNode cased = tinyJson();
    ((ObjectNode) cased.get("normalizer")).put("lowercase", false); // strip_accents null follows: no stripping
    WordPieceTokenizer c = load(cased);
    assertEquals(List.of("Cafe"), c.tokens("Cafe"));
    assertEquals(List.of("[UNK]"), c.tokens("Café"), "no 'Café' entry and accents kept");

    ObjectNode casedStripped = tinyJson();
    ((ObjectNode) casedStripped.get("normalizer")).put("lowercase", false).put("strip_accents", true);
    assertEquals(List.of("Cafe"), load(casedStripped).tokens("Café"));

    ObjectNode noChinese = tinyJson();
    ((ObjectNode) noChinese.get("normalizer")).put("handle_chinese_chars", false);
    // without the spaces "中文" is one word: 中 then "##文" which is no vocab entry -> [UNK]
    assertEquals(List.of("[UNK]"), load(noChinese).tokens("中文"));

    ObjectNode noClean = tinyJson();
    ((ObjectNode) noClean.get("normalizer")).put("clean_text", false);
    // BEL is kept inside the word, which then has no vocab cover
    assertEquals(List.of("[UNK]"), load(noClean).tokens("a\u0007b"));
  }

  @Test
  void postProcessorAndPaddingAreReadFromTheJson() {
    // no post_processor: [CLS] (2) and [SEP] (3) from the vocab; no padding section: [PAD] (0)
    WordPieceTokenizer plain = load(tinyJson());
    assertArrayEquals(new int[] {2, 4, 3}, plain.encode("a", 8).ids());
    assertEquals(0, plain.padId());
    assertEquals(TINY_VOCAB.length, plain.vocabSize());

    ObjectNode bert = tinyJson();
    ObjectNode pp = bert.putObject("post_processor");
    pp.put("type", "BertProcessing");
    pp.putArray("sep").add("[SEP]").add(13); // deliberately other ids: x (13), y (14)
    pp.putArray("cls").add("[CLS]").add(14);
    bert.putObject("padding").put("pad_id", 5).put("pad_token", "##a");
    WordPieceTokenizer b = load(bert);
    assertArrayEquals(new int[] {14, 4, 13}, b.encode("a", 8).ids());
    assertEquals(5, b.padId());

    // a template with two leading specials: truncation keeps all three specials
    ObjectNode tpl = tinyJson();
    ObjectNode tp = tpl.putObject("post_processor");
    tp.put("type", "TemplateProcessing");
    var single = tp.putArray("single");
    single.addObject().putObject("SpecialToken").put("id", "[CLS]").put("type_id", 0);
    single.addObject().putObject("SpecialToken").put("id", "[CLS]").put("type_id", 0);
    single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
    single.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 0);
    ObjectNode specials = tp.putObject("special_tokens");
    specials.putObject("[CLS]").put("id", "[CLS]").putArray("ids").add(2);
    specials.putObject("[SEP]").put("id", "[SEP]").putArray("ids").add(3);
    Encoding e = load(tpl).encode("a a a", 5);
    assertArrayEquals(new int[] {2, 2, 4, 4, 3}, e.ids());
    assertEquals(6, e.fullLength());
    assertTrue(e.truncated());
  }

  @Test
  void addedTokensFollowSingleWordAndNormalizedFlags() {
    ObjectNode json = tinyJson();
    var added = (com.fasterxml.jackson.databind.node.ArrayNode) json.get("added_tokens");
    // <ent>: matched in the raw text, but only as a single word (no \\w char on either side)
    added.addObject().put("id", 40).put("content", "<ent>").put("single_word", true).put("lstrip", false)
        .put("rstrip", false).put("normalized", false).put("special", false);
    // "Foo Bar": normalized=true, so it is matched in its normalized form "foo bar" against the lowercased text
    added.addObject().put("id", 41).put("content", "Foo Bar").put("single_word", false).put("lstrip", false)
        .put("rstrip", false).put("normalized", true).put("special", false);
    WordPieceTokenizer t = load(json);
    assertArrayEquals(new int[] {2, 4, 40, 18, 3}, t.encode("a <ent> b", 16).ids());
    assertArrayEquals(new int[] {2, 40, 3}, t.encode("<ent>", 16).ids());
    // glued to letters or to '_' (a \\w char) it is no single word: plain text, split at '<' '>' (no vocab: [UNK])
    assertEquals(List.of("x", "[UNK]", "[UNK]", "[UNK]", "y"), t.tokens("x<ent>y"));
    // '_' is ASCII punctuation for the pre-tokenizer: _ < ent > are four words without vocab cover
    assertEquals(List.of("[UNK]", "[UNK]", "[UNK]", "[UNK]"), t.tokens("_<ent>"));
    // "FOO BAR" normalizes to "foo bar" = the normalized content; the token string is the matched normalized text
    assertArrayEquals(new int[] {2, 41, 4, 3}, t.encode("FOO BAR a", 16).ids());
    assertEquals(List.of("foo bar"), t.tokens("Foo Bar"));
    // "foo  bar" (two spaces) is not the token: "foo" and "bar" have no vocab cover
    assertEquals(List.of("[UNK]", "[UNK]"), t.tokens("foo  bar"));
  }

  @Test
  void loadsFromFile(@TempDir Path dir) throws IOException {
    Path f = dir.resolve("tokenizer.json");
    Files.write(f, JSON.writeValueAsBytes(tinyJson()));
    assertArrayEquals(new int[] {2, 6, 3}, WordPieceTokenizer.fromFile(f).encode("cafe", 8).ids());
  }

  @Test
  void otherModelTypesFailWithAClearMessage() {
    ObjectNode bpe = tinyJson();
    ObjectNode model = bpe.putObject("model");
    model.put("type", "BPE");
    model.putObject("vocab").put("a", 0);
    model.putArray("merges");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(bpe));
    assertTrue(e.getMessage().contains("'BPE'") && e.getMessage().contains("WordPiece"), e.getMessage());

    ObjectNode unigram = tinyJson();
    unigram.putObject("model").put("type", "Unigram");
    e = assertThrows(IllegalArgumentException.class, () -> load(unigram));
    assertTrue(e.getMessage().contains("'Unigram'"), e.getMessage());

    ObjectNode metaspace = tinyJson();
    metaspace.putObject("pre_tokenizer").put("type", "Metaspace");
    e = assertThrows(IllegalArgumentException.class, () -> load(metaspace));
    assertTrue(e.getMessage().contains("'Metaspace'"), e.getMessage());

    e = assertThrows(IllegalArgumentException.class, () -> WordPieceTokenizer.fromJson(
        new ByteArrayInputStream("{\"version\":\"1.0\"}".getBytes(StandardCharsets.UTF_8))));
    assertTrue(e.getMessage().contains("model"), e.getMessage());
  }
}
