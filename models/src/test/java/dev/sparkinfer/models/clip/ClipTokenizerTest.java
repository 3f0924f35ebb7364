package dev.sparkinfer.models.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.models.Fixtures;
import dev.sparkinfer.models.weights.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** CLIP's tokenizer against OpenAI's simple_tokenizer: the clip column of cases.jsonl, and the fixture's 77-token input_ids. */
class ClipTokenizerTest {
  @Test
  void casesAndContextsMatchTheReference() throws Exception {
    Path dir = Fixtures.require("clip-tiny-hf");
    ClipTokenizer tok = ClipTokenizer.fromVocabAndMerges(dir.resolve("vocab.json"), dir.resolve("merges.txt"));
    ObjectMapper json = new ObjectMapper();
    int n = 0;
    for (String line : Files.readAllLines(Fixtures.require("tokenizers/cases.jsonl"))) {
      if (line.isBlank()) continue;
      JsonNode c = json.readTree(line);
      JsonNode want = c.path("clip");
      int[] w = new int[want.size()];
      for (int i = 0; i < w.length; i++) w[i] = want.get(i).asInt();
      assertArrayEquals(w, tok.encode(c.path("text").asText()), "clip ids of " + json.writeValueAsString(c.path("text").asText()));
      n++;
    }
    JsonNode expected = json.readTree(Files.readAllBytes(dir.resolve("expected.json")));
    try (SafeTensors want = SafeTensors.open(dir.resolve("expected.safetensors"))) {
      long[] ids = want.longs("input_ids");
      for (int t = 0; t < expected.path("texts").size(); t++) {
        int[] w = new int[77];
        for (int j = 0; j < 77; j++) w[j] = (int) ids[t * 77 + j];
        assertArrayEquals(w, tok.context(expected.path("texts").get(t).asText(), null), "context of text " + t);
      }
    }
    boolean[] cut = new boolean[1];
    int[] longText = tok.context("word ".repeat(200), cut);
    assertTrue(cut[0] && longText[76] == 49407 && longText[0] == 49406, "cut to 77 tokens keeping EOT last");
    System.out.println("CLIP tokenizer: " + n + " cases and the fixture's contexts equal the reference");
  }
}
