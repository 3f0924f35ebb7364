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
  private final BpeTokenizer bpe; // without template
  private final int[] prefix;
  private final String fingerprint;

  private ByteLevelBpe(BpeTokenizer bpe, int[] prefix, String fingerprint) {
    this.bpe = bpe;
    this.prefix = prefix;
    this.fingerprint = fingerprint;
  }

  /** GPT-2's files: {@code vocab.json} (token -> id) and {@code merges.txt}; no special tokens, no prefix. */
  public static ByteLevelBpe gpt2(Path vocabJson, Path mergesTxt) {
    return new ByteLevelBpe(BpeTokenizer.gpt2(vocabJson, mergesTxt), new int[0], sha256(vocabJson, mergesTxt));
  }

  /** A Hugging Face {@code tokenizer.json} with a byte-level BPE model; the prefix is its template's, if any. */
  public static ByteLevelBpe tokenizerJson(Path file) {
    BpeTokenizer t = BpeTokenizer.fromTokenizerJson(file);
    return new ByteLevelBpe(t.withTemplate(new int[0], new int[0]), t.prefix(), sha256(file));
  }

  /** The special tokens before the text ({@code <|begin_of_text|>} for LLaMA-3), empty for none. */
  public int[] prefix() { return prefix.clone(); }

  /** The same tokenizer with another prefix (when tokenizer_config.json, not tokenizer.json, says to add BOS). */
  public ByteLevelBpe withPrefix(int... ids) {
    bpe.withTemplate(ids, new int[0]); // checks the ids
    return new ByteLevelBpe(bpe, ids.clone(), fingerprint);
  }

  /** The id of a token (added tokens included), or -1. */
  public int id(String token) { return bpe.id(token); }

  /** The BPE tokenizer underneath, without the prefix. */
  public BpeTokenizer bpe() { return bpe; }

  @Override
  public int[] encode(String text) {
    int[] ids = bpe.encode(text, false);
    if (prefix.length == 0) return ids;
    int[] out = Arrays.copyOf(prefix, prefix.length + ids.length);
    System.arraycopy(ids, 0, out, prefix.length, ids.length);
    return out;
  }

  /** The text's tokens without the prefix (added tokens in the text are still single tokens). */
  public int[] encodeOrdinary(String text) { return bpe.encode(text, false); }

  /** Ids back to text; special tokens (the prefix's, and added tokens marked special) are left out. */
  @Override
  public String decode(int[] ids) {
    if (prefix.length == 0) return bpe.decode(ids, true);
    int[] kept = Arrays.stream(ids).filter(id -> Arrays.stream(prefix).noneMatch(p -> p == id)).toArray();
    return bpe.decode(kept, true);
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
  public String toString() { return "ByteLevelBpe[" + bpe.vocabSize() + " ids, prefix " + Arrays.toString(prefix) + "]"; }
}
