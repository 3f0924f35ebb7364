package dev.sparkinfer.udf.testing;

import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.models.Embedding;
import java.util.ArrayList;
import java.util.List;

/**
 * A deterministic stand-in for a sentence model, for tests only: whitespace "tokens", at most {@link #MAX_TOKENS}
 * (special tokens included, so longer texts are truncated and flagged), each hashed to a pseudo-random vector; the
 * sum is L2-normalised. Control and zero-width characters are dropped first, as BERT's tokenizer does. The result of a text does not depend on its batch, as with a real padded model.
 * A text containing {@link #FAIL_MARKER} makes the model throw, to exercise the row-by-row retry.
 */
public final class FakeHashEmbedder implements Embedder {
  public static final int MAX_TOKENS = 32;
  public static final String FAIL_MARKER = "<<fail>>";

  private final int dim;
  private final boolean broken;
  private final int workPerToken;
  private final String device;

  public FakeHashEmbedder(int dim, boolean broken) { this(dim, broken, 0); }

  /** @param workPerToken extra CPU work per token (hash rounds), to stand in for a real model's cost in benchmarks */
  public FakeHashEmbedder(int dim, boolean broken, int workPerToken) { this(dim, broken, workPerToken, "java (fake)"); }

  /** @param device what {@link #deviceDescription()} says (the cluster test reads the GPU pin a task was given there) */
  public FakeHashEmbedder(int dim, boolean broken, int workPerToken, String device) {
    this.dim = dim;
    this.broken = broken;
    this.workPerToken = workPerToken;
    this.device = device;
  }

  @Override public int dimension() { return dim; }
  @Override public String modelName() { return broken ? "fake-broken" : workPerToken > 0 ? "fake-slow-" + dim : "fake-hash-" + dim; }
  @Override public String deviceDescription() { return device; }

  @Override
  public List<Embedding> embedDetailed(List<String> texts) {
    if (broken) throw new IllegalStateException("fake device lost");
    List<Embedding> out = new ArrayList<>(texts.size());
    for (String t : texts) {
      if (t == null) throw new NullPointerException("null text");
      if (t.contains(FAIL_MARKER)) throw new IllegalArgumentException("fake model cannot embed a text with " + FAIL_MARKER);
      out.add(embedOne(t));
    }
    return out;
  }

  private Embedding embedOne(String raw) {
    String text = clean(raw);
    String[] words = text.trim().split("\\s+");
    int content = text.isBlank() ? 0 : words.length;
    int kept = Math.min(content, MAX_TOKENS - 2);
    float[] v = new float[dim];
    addToken(v, "[CLS]");
    for (int w = 0; w < kept; w++) addToken(v, words[w]);
    addToken(v, "[SEP]");
    if (workPerToken > 0) burn(kept + 2, v);
    double norm = 0;
    for (float x : v) norm += (double) x * x;
    float inv = (float) (1.0 / Math.sqrt(norm));
    for (int j = 0; j < dim; j++) v[j] *= inv;
    return new Embedding(v, kept + 2, content > kept);
  }

  /** Drops what BERT's normaliser drops: control (but tab and line breaks), format (zero-width) chars and U+FFFD. */
  static String clean(String s) {
    StringBuilder b = new StringBuilder(s.length());
    s.codePoints().forEach(c -> {
      int t = Character.getType(c);
      boolean drop = c == 0xFFFD || t == Character.FORMAT || t == Character.CONTROL && c != '\t' && c != '\n' && c != '\r';
      if (!drop) b.appendCodePoint(c);
    });
    return b.toString();
  }

  /** Deterministic busy work that leaves the vector unchanged (adds 0 * something the JIT cannot drop). */
  private void burn(int tokens, float[] v) {
    long h = 1;
    for (long i = 0; i < (long) tokens * workPerToken; i++) h = h * 6364136223846793005L + 1442695040888963407L;
    v[0] += (h == 42 ? 1e-30f : 0f);
  }

  private void addToken(float[] v, String token) {
    long h = 0xcbf29ce484222325L; // FNV-1a, then a splitmix walk per dimension
    for (int i = 0; i < token.length(); i++) h = (h ^ token.charAt(i)) * 0x100000001b3L;
    for (int j = 0; j < dim; j++) {
      h += 0x9e3779b97f4a7c15L;
      long z = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
      z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
      z ^= z >>> 31;
      v[j] += ((z >>> 40) / (float) (1 << 24)) - 0.5f;
    }
  }
}
