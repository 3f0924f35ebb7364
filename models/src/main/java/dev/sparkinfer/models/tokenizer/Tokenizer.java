package dev.sparkinfer.models.tokenizer;

import java.util.List;

/** Text to token ids, as a model's own tokenizer.json defines it. Implementations are thread-safe. */
public interface Tokenizer {
  /** Tokenize with the model's special tokens, truncated to at most {@code maxLength} ids (special tokens kept). */
  Encoding encode(String text, int maxLength);

  /** Tokens (as strings) of a text, without special tokens: for debugging and tests. */
  List<String> tokens(String text);

  int padId();

  int vocabSize();
}
