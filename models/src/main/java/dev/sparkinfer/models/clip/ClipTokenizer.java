package dev.sparkinfer.models.clip;

import dev.sparkinfer.models.tokenizer.BpeTokenizer;
import dev.sparkinfer.models.tokenizer.Encoding;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * CLIP's tokenizer (OpenAI clip/simple_tokenizer.py) as the CLIP model uses it: SOT, the text's tokens, EOT, and the
 * 77-token context. The tokenizing itself (clean-up, CLIP's regex, byte-level BPE with {@code </w>}) is
 * {@link BpeTokenizer#clip}; from Hugging Face's {@code vocab.json} + {@code merges.txt} or OpenAI's
 * {@code bpe_simple_vocab_16e6.txt.gz}.
 */
public final class ClipTokenizer {
  public static final int CONTEXT = BpeTokenizer.CLIP_CONTEXT;

  private final BpeTokenizer bpe;

  private ClipTokenizer(BpeTokenizer bpe) { this.bpe = bpe; }

  /** Hugging Face's CLIPTokenizer files. */
  public static ClipTokenizer fromVocabAndMerges(Path vocabJson, Path mergesTxt) {
    return new ClipTokenizer(BpeTokenizer.clip(vocabJson, mergesTxt));
  }

  /** OpenAI's bpe_simple_vocab_16e6.txt.gz: the vocabulary is built from the byte alphabet and the first 48,894 merges. */
  public static ClipTokenizer fromOpenAiBpe(Path gz) {
    return new ClipTokenizer(BpeTokenizer.clipOpenAi(gz));
  }

  /**
   * The tokenizer files of a CLIP model folder: Hugging Face's {@code vocab.json} + {@code merges.txt}, else OpenAI's
   * {@code bpe_simple_vocab_16e6.txt.gz} (OpenCLIP folders on the Hugging Face hub carry the former).
   *
   * @throws IllegalArgumentException naming the files looked for
   */
  public static ClipTokenizer fromDir(Path dir) {
    Path vocab = dir.resolve("vocab.json"), merges = dir.resolve("merges.txt"), openAi = dir.resolve("bpe_simple_vocab_16e6.txt.gz");
    if (java.nio.file.Files.isRegularFile(vocab) && java.nio.file.Files.isRegularFile(merges)) return fromVocabAndMerges(vocab, merges);
    if (java.nio.file.Files.isRegularFile(openAi)) return fromOpenAiBpe(openAi);
    throw new IllegalArgumentException(dir + " has no CLIP tokenizer files (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz)");
  }

  /** Whether {@link #fromDir} finds tokenizer files in {@code dir}. */
  public static boolean hasTokenizer(Path dir) {
    return java.nio.file.Files.isRegularFile(dir.resolve("vocab.json")) && java.nio.file.Files.isRegularFile(dir.resolve("merges.txt"))
        || java.nio.file.Files.isRegularFile(dir.resolve("bpe_simple_vocab_16e6.txt.gz"));
  }

  /** SOT, the text's tokens, EOT (no padding, no truncation). */
  public int[] encode(String text) { return bpe.encode(text, true); }

  /** The model's input: encode(text) cut to 77 tokens keeping EOT last, zero-padded; {@code truncated} says if cut. */
  public int[] context(String text, boolean[] truncated) {
    Encoding e = bpe.encode(text, CONTEXT);
    if (truncated != null) truncated[0] = e.truncated();
    int[] out = Arrays.copyOf(e.ids(), CONTEXT);
    Arrays.fill(out, e.length(), CONTEXT, bpe.padId()); // 0, as OpenAI pads
    return out;
  }

  /** The BPE tokenizer underneath. */
  public BpeTokenizer bpe() { return bpe; }
}
