package dev.sparkinfer.models;

import java.util.ArrayList;
import java.util.List;

/** Sentence embeddings without Spark: texts in, vectors out, batched with padding. Thread-safe. */
public interface Embedder extends AutoCloseable {
  /** Embedding width, e.g. 384 for all-MiniLM-L6-v2. */
  int dimension();

  /** Short model name written into outputs, e.g. {@code all-MiniLM-L6-v2}. */
  String modelName();

  /** Which device computes: e.g. {@code opencl:pthread-haswell (The pocl project, CPU)} or {@code java}. */
  String deviceDescription();

  /** Embeddings with token counts and truncation flags, in the order of {@code texts}. Null texts are not allowed. */
  List<Embedding> embedDetailed(List<String> texts);

  default float[][] embed(List<String> texts) {
    List<Embedding> e = embedDetailed(texts);
    float[][] out = new float[e.size()][];
    for (int i = 0; i < out.length; i++) out[i] = e.get(i).vector();
    return out;
  }

  default float[] embed(String text) { return embed(new ArrayList<>(List.of(text)))[0]; }

  @Override
  default void close() {}
}
