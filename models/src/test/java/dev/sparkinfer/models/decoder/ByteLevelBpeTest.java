package dev.sparkinfer.models.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.models.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * GPT-2's BPE (vocab.json + merges.txt) and LLaMA-3's tokenizer.json against the reference ids of
 * tokenizers/cases.jsonl (OpenAI's encoder, Hugging Face tokenizers), exactly; decode(encode(x)) == x; the template.
 */
class ByteLevelBpeTest {
  @Test
  void everyCaseMatchesTheReferenceAndRoundTrips() throws Exception {
    Path cases = Fixtures.require("tokenizers/cases.jsonl");
    ByteLevelBpe gpt2 = ByteLevelBpe.gpt2(Fixtures.require("gpt2-tiny/vocab.json"), Fixtures.require("gpt2-tiny/merges.txt"));
    ByteLevelBpe llama = ByteLevelBpe.tokenizerJson(Fixtures.require("llama-tiny/tokenizer.json"));
    ObjectMapper json = new ObjectMapper();
    int n = 0;
    for (String line : Files.readAllLines(cases)) {
      if (line.isBlank()) continue;
      JsonNode c = json.readTree(line);
      String text = c.path("text").asText();
      check("gpt2", text, c.path("gpt2"), gpt2.encodeOrdinary(text));
      check("llama3", text, c.path("llama3"), llama.encodeOrdinary(text));
      assertEquals(text, gpt2.decode(gpt2.encode(text)), "gpt2 round trip of " + json.writeValueAsString(text));
      assertEquals(text, llama.decode(llama.encode(text)), "llama3 round trip of " + json.writeValueAsString(text));
      n++;
    }
    System.out.println("byte-level BPE: " + n + " cases equal the references for gpt2 and llama3, and round-trip");
    assertTrue(n >= 10, "too few cases: " + n);
  }

  private static void check(String which, String text, JsonNode want, int[] got) {
    int[] w = new int[want.size()];
    for (int i = 0; i < w.length; i++) w[i] = want.get(i).asInt();
    assertArrayEquals(w, got, which + " ids of " + text);
  }

  @Test
  void llama3PutsBeginOfTextFirstAndKeepsSpecialTokensWhole() {
    TextTokenizer llama = DecoderTokenizers.load(Fixtures.require("llama-tiny"));
    int[] ids = llama.encode("The capital of France is");
    assertArrayEquals(new int[] {128000, 791, 6864, 315, 9822, 374}, ids); // the fixture's prompt 0
    int[] special = ((ByteLevelBpe) llama).encodeOrdinary("<|begin_of_text|>Hello");
    assertEquals(128000, special[0]);
    assertEquals(List.of(128000, 9906), List.of(special[0], special[1]));
    assertEquals(64, llama.fingerprint().length());
    TextTokenizer gpt2 = DecoderTokenizers.load(Fixtures.require("gpt2-tiny"));
    assertArrayEquals(new int[] {464, 3139, 286, 4881, 318}, gpt2.encode("The capital of France is")); // no template
    assertEquals("The capital of France is", llama.decode(ids)); // the template's BOS left out
  }

  @Test
  void missingOrWrongFilesSayWhatToFix(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DecoderTokenizers.load(tmp));
    assertTrue(e.getMessage().contains("tokenizer.json, or vocab.json and merges.txt"), e.getMessage());
    Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordPiece\"}}");
    e = assertThrows(IllegalArgumentException.class, () -> DecoderTokenizers.load(tmp));
    assertTrue(e.getMessage().contains("not a byte-level BPE"), e.getMessage());
  }
}
