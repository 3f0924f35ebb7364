package dev.sparkinfer.models.decoder;

import dev.sparkinfer.models.tokenizer.BpeTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A decoder's byte-level BPE tokenizer as the teacher-label and generation jobs use it: {@link BpeTokenizer} (which
 * does the tokenizing: GPT-2's {@code vocab.json} + {@code merges.txt}, or a {@code tokenizer.json} such as
 * LLaMA-3's) with the special tokens put before the text (LLaMA-3's {@code <|begin_of_text|>}) and a fingerprint of
 * the files. Only a prefix is added, never a suffix: a prompt or a text to label must not end in EOS.
 */
public final class ByteLevelBpe implements TextTokenizer {
  private final BpeTokenizer bpe; // its template: the prefix only
  private final String fingerprint;

  private ByteLevelBpe(BpeTokenizer bpe, int[] prefix, String fingerprint) {
    this.bpe = bpe.withTemplate(prefix, new int[0]);
    this.fingerprint = fingerprint;
  }

  /** GPT-2's files: {@code vocab.json} (token -> id) and {@code merges.txt}; no special tokens, no prefix. */
  public static ByteLevelBpe gpt2(Path vocabJson, Path mergesTxt) {
    return new ByteLevelBpe(BpeTokenizer.gpt2(vocabJson, mergesTxt), new int[0], sha256(vocabJson, mergesTxt));
  }

  /** A Hugging Face {@code tokenizer.json} with a byte-level BPE model; the prefix is its template's, if any. */
  public static ByteLevelBpe tokenizerJson(Path file) {
    BpeTokenizer t = BpeTokenizer.fromTokenizerJson(file);
    return new ByteLevelBpe(t, t.prefix(), sha256(file));
  }

  /** The special tokens before the text ({@code <|begin_of_text|>} for LLaMA-3), empty for none. */
  public int[] prefix() { return bpe.prefix(); }

  /** The same tokenizer with another prefix (when tokenizer_config.json, not tokenizer.json, says to add BOS). */
  public ByteLevelBpe withPrefix(int... ids) {
    return new ByteLevelBpe(bpe, ids, fingerprint);
  }

  /** The id of a token (added tokens included), or -1. */
  public int id(String token) { return bpe.id(token); }

  /** The BPE tokenizer underneath (its template is the prefix). */
  public BpeTokenizer bpe() { return bpe; }

  @Override
  public int[] encode(String text) {
    return bpe.encode(text, true);
  }

  /** The text's tokens without the prefix (added tokens in the text are still single tokens). */
  public int[] encodeOrdinary(String text) { return bpe.encode(text, false); }

  /** Ids back to text; special tokens (the prefix's, and added tokens marked special) are left out. */
  @Override
  public String decode(int[] ids) {
    return bpe.decode(ids, true);
  }

  @Override
  public String fingerprint() { return fingerprint; }

  @Override
  public int vocabSize() { return bpe.vocabSize(); }

  private static String sha256(Path... files) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      for (Path f : files) d.update(Files.readAllBytes(f));
      return HexFormat.of().formatHex(d.digest());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + Arrays.toString(files) + " to fingerprint it: " + e.getMessage(), e);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() { return "ByteLevelBpe[" + bpe.vocabSize() + " ids, prefix " + Arrays.toString(bpe.prefix()) + "]"; }
}
