package dev.sparkinfer.models.decoder;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The tokenizer of a decoder's folder: {@code tokenizer.json} (byte-level BPE with its pre-tokenizer, added tokens and
 * template, e.g. LLaMA-3's {@code <|begin_of_text|>}; without a template there, tokenizer_config.json's
 * {@code add_bos_token}, true by default for the LLaMA family as in transformers' LLaMA tokenizers), else GPT-2's
 * {@code vocab.json} + {@code merges.txt} (no template).
 */
public final class DecoderTokenizers {
  private DecoderTokenizers() {}

  public static TextTokenizer load(Path dir) {
    boolean json = Files.isRegularFile(dir.resolve("tokenizer.json"));
    boolean bpe = Files.isRegularFile(dir.resolve("vocab.json")) && Files.isRegularFile(dir.resolve("merges.txt"));
    if (!json && !bpe) {
      throw new IllegalArgumentException(dir + " has no tokenizer: it needs tokenizer.json, or vocab.json and merges.txt");
    }
    if (!json) return ByteLevelBpe.gpt2(dir.resolve("vocab.json"), dir.resolve("merges.txt"));
    ByteLevelBpe t = ByteLevelBpe.tokenizerJson(dir.resolve("tokenizer.json"));
    if (t.prefix().length > 0) return t;
    // no template in tokenizer.json: tokenizer_config.json's add_bos_token (LLaMA's tokenizers default to true)
    Path cfg = dir.resolve("tokenizer_config.json");
    if (!Files.isRegularFile(cfg)) return t;
    try {
      var c = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readAllBytes(cfg));
      String bos = c.path("bos_token").isObject() ? c.path("bos_token").path("content").asText(null) : c.path("bos_token").asText(null);
      // the LLaMA family and models built on it (LLaVA's text side) add BOS by default; GPT-2 does not
      var cfgJson = dir.resolve("config.json");
      String type = Files.isRegularFile(cfgJson) ? new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readAllBytes(cfgJson)).path("model_type").asText() : "";
      boolean llama = !type.equals("gpt2");
      boolean add = c.has("add_bos_token") ? c.path("add_bos_token").asBoolean() : llama;
      if (!add || bos == null) return t;
      int id = t.id(bos);
      if (id < 0) throw new IllegalArgumentException(cfg + ": bos_token " + bos + " is not in the vocabulary");
      return t.withPrefix(id);
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException(cfg + ": cannot read it (" + e.getMessage() + ")", e);
    }
  }
}
