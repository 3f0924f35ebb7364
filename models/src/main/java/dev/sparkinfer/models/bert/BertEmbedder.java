package dev.sparkinfer.models.bert;

import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.models.Embedding;
import dev.sparkinfer.models.tokenizer.Encoding;
import dev.sparkinfer.models.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Sentence embeddings from a BERT encoder: tokenize, sort by length (less padding), pad each batch to its longest
 * text, run the model, restore the caller's order. One forward at a time per device (its runtime's gate).
 */
public final class BertEmbedder implements Embedder {
  private final String name;
  private final Tokenizer tokenizer;
  private final BertModel model;
  private final DeviceRuntime runtime;
  private final boolean ownsRuntime;
  private final int batchSize;
  private final int maxLength;

  /** On {@code runtime}'s engine; {@code ownsRuntime}: closing the model closes the engine too. */
  public BertEmbedder(String name, Tokenizer tokenizer, BertModel model, DeviceRuntime runtime, int batchSize, boolean ownsRuntime) {
    if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
    this.name = name;
    this.tokenizer = tokenizer;
    this.model = model;
    this.runtime = runtime;
    this.ownsRuntime = ownsRuntime;
    this.batchSize = batchSize;
    this.maxLength = model.config().maxSeqLength();
  }

  @Override
  public int dimension() { return model.config().hidden(); }

  @Override
  public String modelName() { return name; }

  @Override
  public String deviceDescription() { return runtime.admit(Ops::ranOn); }

  public int maxLength() { return maxLength; }

  /** The engine this model runs on (shared by the executor's tasks unless the model owns it). */
  public DeviceRuntime runtime() { return runtime; }

  public Tokenizer tokenizer() { return tokenizer; }

  BertModel model() { return model; }

  /** Token ids as the model sees them (special tokens, truncation): for reference comparisons. */
  public Encoding encode(String text) { return tokenizer.encode(text, maxLength); }

  @Override
  public List<Embedding> embedDetailed(List<String> texts) {
    int n = texts.size();
    Encoding[] enc = new Encoding[n];
    for (int i = 0; i < n; i++) {
      String t = texts.get(i);
      if (t == null) throw new IllegalArgumentException("text " + i + " is null");
      enc[i] = tokenizer.encode(t, maxLength);
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) order[i] = i;
    Arrays.sort(order, Comparator.comparingInt(i -> enc[i].length()));
    float[][] vectors = new float[n][];
    for (int from = 0; from < n; from += batchSize) {
      int b = Math.min(batchSize, n - from);
      int seq = 0;
      for (int r = 0; r < b; r++) seq = Math.max(seq, enc[order[from + r]].length());
      int[] ids = new int[b * seq], types = new int[b * seq], mask = new int[b * seq];
      Arrays.fill(ids, tokenizer.padId());
      for (int r = 0; r < b; r++) {
        Encoding e = enc[order[from + r]];
        System.arraycopy(e.ids(), 0, ids, r * seq, e.length());
        System.arraycopy(e.typeIds(), 0, types, r * seq, e.length());
        Arrays.fill(mask, r * seq, r * seq + e.length(), 1);
      }
      int bb = b, sq = seq;
      float[][] out = runtime.admit(ops -> model.embed(ids, types, mask, bb, sq)); // the device to this call alone
      for (int r = 0; r < b; r++) vectors[order[from + r]] = out[r];
    }
    List<Embedding> result = new ArrayList<>(n);
    for (int i = 0; i < n; i++) result.add(new Embedding(vectors[i], enc[i].length(), enc[i].truncated()));
    return result;
  }

  @Override
  public void close() {
    if (ownsRuntime) runtime.close();
  }
}
