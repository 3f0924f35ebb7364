package dev.sparkinfer.models.tokenizer;

/**
 * One text after tokenization.
 *
 * @param ids        token ids, including special tokens ([CLS] ... [SEP] for BERT)
 * @param typeIds    token type (segment) ids, same length as ids
 * @param fullLength number of ids the text would have without truncation (special tokens included)
 * @param truncated  true when ids were cut to the maximum length
 */
public record Encoding(int[] ids, int[] typeIds, int fullLength, boolean truncated) {
  public int length() { return ids.length; }
}
