package dev.sparkinfer.models;

/**
 * A sentence embedding and what the tokenizer did to its text.
 *
 * @param vector    the pooled (and, for sentence-transformers models, L2-normalised) embedding
 * @param nTokens   tokens the model saw, special tokens included
 * @param truncated true when the text was longer than the model's max sequence length and was cut
 */
public record Embedding(float[] vector, int nTokens, boolean truncated) {}
