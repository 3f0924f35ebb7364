package dev.sparkinfer.models.decoder;

/** A decoder's tokenizer as the teacher-label and generation jobs use it: text to ids (template included) and back. */
public interface TextTokenizer {
  /** The text's ids with the model's special-token template (LLaMA-3: {@code <|begin_of_text|>} first; GPT-2: none). */
  int[] encode(String text);

  /** Ids back to text (special tokens of the template left out). */
  String decode(int[] ids);

  /** A hash of the tokenizer files, for the run's config file (a trainer checks it matches its own tokenizer). */
  String fingerprint();

  /** Ids the vocabulary holds (the embedding rows must match). */
  int vocabSize();
}
