package dev.sparkinfer.models.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.models.Fixtures;
import dev.sparkinfer.models.weights.SafeTensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2 (OpenAI encoder.py), LLaMA-3 (Hugging Face tokenizers) and CLIP (OpenAI simple_tokenizer) against the reference
 * ids of the golden fixtures, exactly: every line of tokenizers/cases.jsonl, the decoder fixtures' prompts, CLIP's
 * padded [6, 77] input_ids; decode(encode(x)) == x; added tokens in text; errors for missing and damaged files.
 */
class BpeTokenizerTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static BpeTokenizer gpt2;
  private static BpeTokenizer llama3;
  private static BpeTokenizer clip;

  @BeforeAll
  static void load() {
    gpt2 = BpeTokenizer.gpt2(Fixtures.require("gpt2-tiny/vocab.json"), Fixtures.require("gpt2-tiny/merges.txt"));
    llama3 = BpeTokenizer.fromTokenizerJson(Fixtures.require("llama-tiny/tokenizer.json"));
    clip = BpeTokenizer.clip(Fixtures.require("clip-tiny-hf/vocab.json"), Fixtures.require("clip-tiny-hf/merges.txt"));
  }

  private static List<JsonNode> cases() throws IOException {
    List<JsonNode> cases = new ArrayList<>();
    for (String line : Files.readAllLines(Fixtures.require("tokenizers/cases.jsonl"), StandardCharsets.UTF_8)) {
      if (!line.isBlank()) cases.add(JSON.readTree(line));
    }
    return cases;
  }

  // ---------------------------------------------------------------------------------------------- golden cases

  @Test
  void everyCaseEqualsTheReferenceIds() throws IOException {
    List<JsonNode> cases = cases();
    List<String> failures = new ArrayList<>();
    int gpt2Ok = column(cases, "gpt2", t -> gpt2.encode(t, false), gpt2, failures);
    int llamaOk = column(cases, "llama3", t -> llama3.encode(t, false), llama3, failures); // "no special tokens"
    int clipOk = column(cases, "clip", t -> clip.encode(t, true), clip, failures); // SOT ... EOT, no padding
    System.out.printf("BPE cases: gpt2 %d/%d, llama3 %d/%d, clip %d/%d equal the reference ids%n",
        gpt2Ok, cases.size(), llamaOk, cases.size(), clipOk, cases.size());
    failures.forEach(System.out::println);
    assertTrue(cases.size() >= 20, "cases.jsonl has only " + cases.size() + " cases");
    assertTrue(failures.isEmpty(), failures.size() + " cases differ:\n" + String.join("\n", failures));
  }

  /** Counts the cases of one column that match; describes the others by their first difference. */
  private static int column(List<JsonNode> cases, String name, Function<String, int[]> encode, BpeTokenizer tok,
                            List<String> failures) throws IOException {
    int ok = 0;
    for (JsonNode c : cases) {
      String text = c.get("text").asText();
      int[] want = JSON.convertValue(c.get(name), int[].class);
      int[] got = encode.apply(text);
      if (Arrays.equals(want, got)) {
        ok++;
        continue;
      }
      int i = Arrays.mismatch(want, got);
      failures.add(name + " " + JSON.writeValueAsString(text) + ": first difference at " + i + ": want "
          + (i < want.length ? want[i] + " '" + tok.token(want[i]) + "'" : "(end)") + ", got "
          + (i < got.length ? got[i] + " '" + tok.token(got[i]) + "'" : "(end)") + "; want " + Arrays.toString(want)
          + ", got " + Arrays.toString(got));
    }
    return ok;
  }

  @Test
  void decodeGivesBackEveryTextOfTheCases() throws IOException {
    List<String> texts = new ArrayList<>();
    for (JsonNode c : cases()) texts.add(c.get("text").asText());
    // and some the cases lack: replacement char, combining marks, ZWJ sequences, CRLF, NBSP, control chars, a BOM
    texts.addAll(List.of("\uFFFD broken \uFFFD\uFFFD", "e\u0301 a\u0308 \u0915\u094D\u0937", "👩‍👩‍👧‍👦 🇺🇳 ✌🏿",
        "line\r\nbreak\r\n\r\n", "non\u00A0breaking\u2009thin\u3000ideographic", "\u0000\u0001\u007F\u0085\u200B",
        "\uFEFFbom", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈 \uD83E\uDD16", "   ", "\n", "<|begin_of_text|> typed <|eot_id|>"));
    for (String text : texts) {
      String shown = JSON.writeValueAsString(text);
      assertEquals(text, gpt2.decode(gpt2.encode(text, false)), "gpt2 round trip of " + shown);
      assertEquals(text, llama3.decode(llama3.encode(text, false)), "llama3 round trip of " + shown);
    }
    System.out.println("BPE round trip: decode(encode(x)) == x for gpt2 and llama3 on " + texts.size() + " texts");
  }

  @Test
  void theDecoderFixturesPromptsTokenizeToTheirInputIds() throws IOException {
    JsonNode g = JSON.readTree(Fixtures.require("gpt2-tiny/expected.json").toFile());
    JsonNode l = JSON.readTree(Fixtures.require("llama-tiny/expected.json").toFile());
    // LLaMA-3's BOS comes from tokenizer_config.json (bos_token, add_bos_token defaulting to true), not tokenizer.json
    BpeTokenizer llamaBos = llama3.withTemplate(new int[] {llama3.id("<|begin_of_text|>")}, new int[0]);
    assertArrayEquals(new int[] {128000}, llamaBos.prefix());
    for (int i = 0; i < g.get("prompts").size(); i++) {
      String prompt = g.get("prompts").get(i).asText();
      assertArrayEquals(JSON.convertValue(g.get("input_ids").get(i), int[].class), gpt2.encode(prompt, true), "gpt2 " + prompt);
      assertArrayEquals(JSON.convertValue(l.get("input_ids").get(i), int[].class), llamaBos.encode(prompt, 1 << 20).ids(),
          "llama3 " + prompt);
      assertEquals(prompt, llamaBos.decode(llamaBos.encode(prompt, true), true), "BOS left out when skipping specials");
    }
  }

  // ---------------------------------------------------------------------------------------------- CLIP

  @Test
  void clipContextsEqualTheFixturesInputIds() throws IOException {
    JsonNode texts = JSON.readTree(Fixtures.require("clip-tiny-hf/expected.json").toFile()).get("texts");
    try (SafeTensors st = SafeTensors.open(Fixtures.require("clip-tiny-hf/expected.safetensors"))) {
      long[] shape = st.shape("input_ids");
      assertArrayEquals(new long[] {texts.size(), BpeTokenizer.CLIP_CONTEXT}, shape, "input_ids shape");
      long[] want = st.longs("input_ids"); // stored as I64; longs() reads I32 too
      for (int i = 0; i < texts.size(); i++) {
        String text = texts.get(i).asText();
        int[] got = clip.encodePadded(text, BpeTokenizer.CLIP_CONTEXT);
        long[] row = Arrays.copyOfRange(want, i * BpeTokenizer.CLIP_CONTEXT, (i + 1) * BpeTokenizer.CLIP_CONTEXT);
        assertArrayEquals(row, Arrays.stream(got).asLongStream().toArray(), "CLIP input_ids of " + JSON.writeValueAsString(text));
      }
    }
  }

  @Test
  void clipTruncatesTo77KeepingEndOfTextLast() {
    String longText = "a photo of " + "a very ".repeat(60) + "long caption";
    int[] content = clip.encode(longText, false);
    assertTrue(content.length > 75, "the text is long enough: " + content.length);
    Encoding e = clip.encode(longText, BpeTokenizer.CLIP_CONTEXT);
    assertTrue(e.truncated());
    assertEquals(content.length + 2, e.fullLength());
    int[] ids = clip.encodePadded(longText, BpeTokenizer.CLIP_CONTEXT);
    assertEquals(77, ids.length);
    assertEquals(49406, ids[0]);
    assertEquals(49407, ids[76]); // OpenAI's clip.tokenize(truncate=True): tokens[:77], then tokens[-1] = eot
    assertArrayEquals(Arrays.copyOf(content, 75), Arrays.copyOfRange(ids, 1, 76));
    int[] shortIds = clip.encodePadded("a dog", BpeTokenizer.CLIP_CONTEXT);
    assertArrayEquals(new int[] {49406, clip.id("a</w>"), clip.id("dog</w>"), 49407}, Arrays.copyOf(shortIds, 4));
    assertTrue(Arrays.stream(shortIds, 4, 77).allMatch(x -> x == 0), "zeros after EOT: " + Arrays.toString(shortIds));
    assertFalse(clip.encode("a dog", 77).truncated());
  }

  @Test
  void clipCleansLikeSimpleTokenizer() {
    // html.unescape twice, whitespace collapsed and stripped, lower case; the special tokens typed in the text
    assertArrayEquals(clip.encode("fish & chips", true), clip.encode("  FISH\t&amp;amp;\n\u00A0CHIPS  ", true));
    assertArrayEquals(new int[] {49406, clip.id("a</w>"), 49407, clip.id("b</w>"), 49407},
        clip.encode("a<|endoftext|>b", true));
    assertEquals("a photo of a cat ", clip.decode(clip.encode("A photo of a CAT", true), true)); // </w> as a space
    assertEquals("<", ClipTextCleaner.unescapeHtml("&lt;"));
    assertEquals("&x; \u20AC \uFFFD &nosuch;", ClipTextCleaner.unescapeHtml("&ampx; &#128; &#0; &nosuch;"));
  }

  @Test
  void clipFromOpenAisMergesFileBuildsTheSameVocabulary(@TempDir Path tmp) throws IOException {
    // bpe_simple_vocab_16e6.txt.gz holds the merges only; HF's merges.txt is the same list, so gzip it
    Path gz = tmp.resolve("bpe_simple_vocab_16e6.txt.gz");
    try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(gz))) {
      out.write(Files.readAllBytes(Fixtures.require("clip-tiny-hf/merges.txt")));
    }
    BpeTokenizer openAi = BpeTokenizer.clipOpenAi(gz);
    assertEquals(clip.vocabSize(), openAi.vocabSize());
    for (int id = 0; id < clip.vocabSize(); id++) assertEquals(clip.token(id), openAi.token(id), "token " + id);
    for (JsonNode c : cases()) {
      String text = c.get("text").asText();
      assertArrayEquals(JSON.convertValue(c.get("clip"), int[].class), openAi.encode(text, true), "clip " + text);
    }
    Path notGz = Files.writeString(tmp.resolve("plain.txt"), "#version: 0.2\ni n\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.clipOpenAi(notGz));
    assertTrue(e.getMessage().contains("plain.txt") && e.getMessage().contains("gzip"), e.getMessage());
  }

  // ---------------------------------------------------------------------------------------------- added tokens

  @Test
  void llama3AddedTokensInTextAreSingleTokens() {
    int bot = llama3.id("<|begin_of_text|>");
    assertEquals(128000, bot);
    assertArrayEquals(new int[] {128000, 9906}, llama3.encode("<|begin_of_text|>Hello", false));
    int eot = llama3.id("<|eot_id|>");
    int[] ids = llama3.encode("Hi there<|eot_id|><|start_header_id|>user", false);
    assertTrue(Arrays.stream(ids).anyMatch(x -> x == eot) && Arrays.stream(ids).anyMatch(x -> x == 128006),
        Arrays.toString(ids));
    assertEquals("Hi there<|eot_id|><|start_header_id|>user", llama3.decode(ids));
    assertEquals("Hi thereuser", llama3.decode(ids, true));
    // GPT-2's files have no added tokens: <|endoftext|> typed in text is text, as in encoder.py
    assertTrue(gpt2.encode("<|endoftext|>", false).length > 1);
    assertEquals(50256, gpt2.id("<|endoftext|>"));
    assertEquals(128256, llama3.vocabSize());
    assertEquals(50257, gpt2.vocabSize());
    assertEquals(49408, clip.vocabSize());
  }

  @Test
  void aLongWordWithoutSpacesTokenizesQuicklyAndRoundTrips() {
    StringBuilder sb = new StringBuilder();
    Random r = new Random(7);
    for (int i = 0; i < 200_000; i++) sb.append((char) ('a' + r.nextInt(26)));
    String blob = sb.toString() + "a".repeat(100_000);
    assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
      assertEquals(blob, gpt2.decode(gpt2.encode(blob, false)));
      assertEquals(blob, llama3.decode(llama3.encode(blob, false)));
    });
  }

  // ---------------------------------------------------------------------------------------------- bad files

  @Test
  void missingOrDamagedFilesSayWhichAndWhatToDo(@TempDir Path tmp) throws IOException {
    Path vocab = Fixtures.require("gpt2-tiny/vocab.json");
    Path merges = Fixtures.require("gpt2-tiny/merges.txt");
    Path nowhere = tmp.resolve("vocab.json");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.gpt2(nowhere, merges));
    assertTrue(e.getMessage().contains(nowhere.toString()) && e.getMessage().contains("does not exist"), e.getMessage());

    Path garbled = Files.writeString(tmp.resolve("garbled.json"), "{\"hello\": 1, \"wor");
    e = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.gpt2(garbled, merges));
    assertTrue(e.getMessage().contains("garbled.json") && e.getMessage().contains("not valid JSON"), e.getMessage());

    Path badMerges = Files.writeString(tmp.resolve("merges.txt"), "#version: 0.2\nĠ t\nthis line has three\n");
    e = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.gpt2(vocab, badMerges));
    assertTrue(e.getMessage().contains("merges.txt line 3"), e.getMessage());

    // CLIP's merges with GPT-2's vocabulary: caught when loading, not as wrong ids later
    e = assertThrows(IllegalArgumentException.class,
        () -> BpeTokenizer.gpt2(vocab, Fixtures.require("clip-tiny-hf/merges.txt")));
    assertTrue(e.getMessage().contains("different tokenizers"), e.getMessage());

    Path wordPiece = Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}");
    e = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.fromTokenizerJson(wordPiece));
    assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("'WordPiece' is not BPE"), e.getMessage());

    ObjectMapper m = new ObjectMapper();
    var metaspace = m.createObjectNode();
    metaspace.putObject("model").put("type", "BPE").putObject("vocab").put("a", 0);
    ((com.fasterxml.jackson.databind.node.ObjectNode) metaspace.get("model")).putArray("merges").add("a a");
    metaspace.putObject("pre_tokenizer").put("type", "Metaspace");
    Path sentencePiece = tmp.resolve("sp.json");
    m.writeValue(sentencePiece.toFile(), metaspace);
    e = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.fromTokenizerJson(sentencePiece));
    assertTrue(e.getMessage().contains("sp.json") && e.getMessage().contains("not byte-level"), e.getMessage());

    e = assertThrows(IllegalArgumentException.class, () -> llama3.decode(new int[] {9906, 999_999}));
    assertTrue(e.getMessage().contains("999999"), e.getMessage());
  }
}
