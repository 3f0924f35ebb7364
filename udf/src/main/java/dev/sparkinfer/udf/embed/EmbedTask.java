package dev.sparkinfer.udf.embed;

import dev.sparkinfer.kernels.DeviceMemoryException;
import dev.sparkinfer.kernels.KernelFallbackException;
import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.models.Embedding;
import dev.sparkinfer.models.bert.BertEmbedder;
import dev.sparkinfer.schemas.CorpusTable;
import dev.sparkinfer.schemas.EmbeddingsTable;
import dev.sparkinfer.schemas.RejectsTable;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.TaskConfig;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.Float4Vector;

/**
 * Corpus batch (id, text) in, embeddings batch (id, embedding, n_tokens, truncated, model) out.
 *
 * <p>Steps: validate (null or blank text is rejected, stage {@code validate}); cut texts over
 * {@link TaskConfig#maxTextChars()} (flagged truncated); embed the batch in one call; if that call fails, retry row by
 * row so one bad row does not reject its neighbours (stage {@code embed}); reject texts the tokenizer left with no
 * token (only control or zero-width characters: as many tokens as the empty text, i.e. [CLS][SEP]) as
 * {@code empty text}, since they would all get the same vector; copy vector, token count and the model's truncation
 * flag into the output.
 */
public final class EmbedTask implements BatchTask {
  private final Embedder embedder;
  private final TaskConfig config;
  private final Schema outputSchema;
  private int consecutiveFailures;
  /** Tokens the model gives the empty text (its special tokens); learned once; MIN_VALUE when it cannot be told. */
  private int emptyTextTokens = -1;

  public EmbedTask(Embedder embedder, TaskConfig config) {
    this.embedder = embedder;
    this.config = config;
    this.outputSchema = EmbeddingsTable.arrowSchema(embedder.dimension());
  }

  @Override
  public Schema inputSchema() { return CorpusTable.arrowSchema(); }

  @Override
  public Schema outputSchema() { return outputSchema; }

  @Override
  public String modelName() { return embedder.modelName(); }

  @Override
  public String deviceDescription() { return embedder.deviceDescription(); }

  public Embedder embedder() { return embedder; }

  @Override
  public void run(VectorSchemaRoot in, VectorSchemaRoot out, RowRejects rejects) {
    int n = in.getRowCount();
    VarCharVector ids = (VarCharVector) in.getVector(CorpusTable.ID);
    VarCharVector texts = (VarCharVector) in.getVector(CorpusTable.TEXT);

    // validate: null and blank texts never reach the model
    List<Integer> rows = new ArrayList<>(n);
    List<String> batch = new ArrayList<>(n);
    boolean[] cut = new boolean[n];
    for (int i = 0; i < n; i++) {
      if (texts.isNull(i)) {
        rejects.reject(i, RejectsTable.STAGE_VALIDATE, "null text", "the text column is null or missing for this row");
        continue;
      }
      String text = new String(texts.get(i), StandardCharsets.UTF_8);
      if (text.isBlank()) {
        rejects.reject(i, RejectsTable.STAGE_VALIDATE, "empty text",
            text.isEmpty() ? "the text is the empty string" : "the text is only whitespace (" + text.length() + " chars)");
        continue;
      }
      if (text.length() > config.maxTextChars()) {
        text = cutAt(text, config.maxTextChars());
        cut[i] = true;
      }
      rows.add(i);
      batch.add(text);
    }

    // embed: the whole batch at once, or row by row when the batch fails
    Embedding[] result = new Embedding[n];
    if (!batch.isEmpty()) {
      List<Embedding> all = tryEmbed(batch);
      if (all != null) {
        for (int k = 0; k < rows.size(); k++) result[rows.get(k)] = all.get(k);
        consecutiveFailures = 0;
      } else {
        for (int k = 0; k < rows.size(); k++) {
          int i = rows.get(k);
          try {
            result[i] = checked(embedder.embedDetailed(new ArrayList<>(List.of(batch.get(k)))), 1).get(0);
            consecutiveFailures = 0;
          } catch (BrokenModelException | KernelFallbackException | DeviceMemoryException e) {
            throw e;
          } catch (RuntimeException e) {
            rejects.reject(i, RejectsTable.STAGE_EMBED, "model failed on this row", describe(e));
            if (++consecutiveFailures >= config.maxConsecutiveRowFailures()) {
              throw new IllegalStateException("model " + embedder.modelName() + " failed on " + consecutiveFailures
                  + " rows in a row (last: " + describe(e) + "): this looks like a broken model or device, not bad input;"
                  + " check the model and --device", e);
            }
          }
        }
      }
    }

    // texts that tokenized to nothing (only [CLS][SEP]): empty, whatever their characters
    for (int k = 0; k < rows.size(); k++) {
      int i = rows.get(k);
      if (result[i] != null && result[i].nTokens() == emptyTextTokens()) {
        rejects.reject(i, RejectsTable.STAGE_VALIDATE, "empty text", "the text (" + batch.get(k).length()
            + " chars) has no token for the model: only control, format or zero-width characters");
        result[i] = null;
      }
    }

    // output: one row per input row, null columns for rejected rows
    VarCharVector outIds = (VarCharVector) out.getVector(EmbeddingsTable.ID);
    FixedSizeListVector outVectors = (FixedSizeListVector) out.getVector(EmbeddingsTable.EMBEDDING);
    Float4Vector outFloats = (Float4Vector) outVectors.getDataVector();
    IntVector outTokens = (IntVector) out.getVector(EmbeddingsTable.N_TOKENS);
    BitVector outTruncated = (BitVector) out.getVector(EmbeddingsTable.TRUNCATED);
    VarCharVector outModel = (VarCharVector) out.getVector(EmbeddingsTable.MODEL);
    byte[] model = embedder.modelName().getBytes(StandardCharsets.UTF_8);
    int dim = embedder.dimension();
    for (int i = 0; i < n; i++) {
      outIds.setSafe(i, ids.get(i));
      Embedding e = result[i];
      if (e == null) {
        outVectors.setNull(i);
        outTokens.setNull(i);
        outTruncated.setNull(i);
        outModel.setNull(i);
        continue;
      }
      float[] v = e.vector();
      outVectors.setNotNull(i);
      for (int j = 0; j < dim; j++) outFloats.setSafe(i * dim + j, v[j]);
      outTokens.setSafe(i, e.nTokens());
      outTruncated.setSafe(i, e.truncated() || cut[i] ? 1 : 0);
      outModel.setSafe(i, model);
    }
    out.setRowCount(n);
  }

  private int emptyTextTokens() {
    if (emptyTextTokens == -1) {
      if (embedder instanceof BertEmbedder bert) {
        emptyTextTokens = bert.encode("").length(); // the tokenizer alone: no model run
      } else {
        try {
          emptyTextTokens = checked(embedder.embedDetailed(new ArrayList<>(List.of(""))), 1).get(0).nTokens();
        } catch (RuntimeException e) {
          emptyTextTokens = Integer.MIN_VALUE; // cannot tell: no text is rejected for it
        }
      }
    }
    return emptyTextTokens;
  }

  /** The batch's embeddings, or null when the model threw (the caller then isolates the bad rows). */
  private List<Embedding> tryEmbed(List<String> batch) {
    try {
      return checked(embedder.embedDetailed(batch), batch.size());
    } catch (BrokenModelException | KernelFallbackException | DeviceMemoryException e) {
      throw e; // the engine, not a row: fail the task (and, after Spark's retries, the job)
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** An engine that answers with the wrong count or width is broken: fail, do not reject. */
  private List<Embedding> checked(List<Embedding> out, int expected) {
    if (out == null || out.size() != expected) {
      throw new BrokenModelException("model " + embedder.modelName() + " returned " + (out == null ? "null" : out.size())
          + " embeddings for " + expected + " texts");
    }
    for (Embedding e : out) {
      if (e == null || e.vector() == null || e.vector().length != embedder.dimension()) {
        throw new BrokenModelException("model " + embedder.modelName() + " returned an embedding of width "
            + (e == null || e.vector() == null ? "null" : e.vector().length) + ", expected " + embedder.dimension());
      }
    }
    return out;
  }

  /** The engine broke its contract (wrong count or width): a bug to fix, never a row to reject. */
  static final class BrokenModelException extends IllegalStateException {
    BrokenModelException(String message) { super(message); }
  }

  /** Cuts to at most {@code max} chars without splitting a surrogate pair. */
  static String cutAt(String text, int max) {
    int end = max;
    if (end > 0 && Character.isHighSurrogate(text.charAt(end - 1))) end--;
    return text.substring(0, end);
  }

  private static String describe(Throwable e) {
    String m = e.getMessage();
    return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }
}
