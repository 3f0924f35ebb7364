package dev.sparkinfer.models.decoder;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The tokenizer of a decoder's folder: {@code tokenizer.json} (byte-level BPE with its pre-tokenizer, added tokens and
 * template, e.g. LLaMA-3's {@code <|begin_of_text|>}), else GPT-2's {@code vocab.json} + {@code merges.txt} (no
 * template).
 */
public final class DecoderTokenizers {
  private DecoderTokenizers() {}

  public static TextTokenizer load(Path dir) {
    boolean json = Files.isRegularFile(dir.resolve("tokenizer.json"));
    boolean bpe = Files.isRegularFile(dir.resolve("vocab.json")) && Files.isRegularFile(dir.resolve("merges.txt"));
    if (!json && !bpe) {
      throw new IllegalArgumentException(dir + " has no tokenizer: it needs tokenizer.json, or vocab.json and merges.txt");
    }
    throw new UnsupportedOperationException("byte-level BPE tokenizers are not merged yet");
  }
}
