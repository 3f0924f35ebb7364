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
