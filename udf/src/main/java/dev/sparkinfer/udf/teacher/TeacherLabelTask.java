package dev.sparkinfer.udf.teacher;

import dev.sparkinfer.udf.model.DecoderCache;
import dev.sparkinfer.kernels.DeviceMemoryException;
import dev.sparkinfer.kernels.KernelFallbackException;
import dev.sparkinfer.models.decoder.TeacherLabeler;
import dev.sparkinfer.schemas.CorpusTable;
import dev.sparkinfer.schemas.RejectsTable;
import dev.sparkinfer.schemas.TeacherLabelsTable;
import dev.sparkinfer.schemas.TeacherLabelsTable.LogprobEncoding;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.TextRows;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Corpus batch (id, text) in, teacher labels out (one row per text, {@link TeacherLabelsTable}).
 *
 * <p>Steps: validate (null or blank text: rejected, stage {@code validate}); cut texts over the safety bound (noted);
 * tokenize with the model's template; a text with no token is rejected as {@code empty text}; one token is labelled
 * (its top k) and noted, having no next-token target; label the batch with the teacher in one admitted call (windows
 * of all its texts batched); if that fails, row by row so one bad row does not reject its neighbours (stage
 * {@code label}); engine failures fail the task.
 */
public final class TeacherLabelTask implements BatchTask {
  private final DecoderCache.Teacher teacher;
  private final TeacherConfig config;
  private final TeacherLabeler labeler;

  public TeacherLabelTask(DecoderCache.Teacher teacher, TeacherConfig config) {
    this.teacher = teacher;
    this.config = config;
    // rows of logits one pass may hold: the windows of the cache, at most 64 M floats of logits
    int rows = (int) Math.max(config.maxLength(), Math.min((long) config.windowsPerPass() * config.maxLength(), (64L << 20) / teacher.model().vocabSize()));
    this.labeler = new TeacherLabeler(teacher.model(), config.settings(), rows);
  }

  @Override public Schema inputSchema() { return CorpusTable.arrowSchema(); }
  @Override public Schema outputSchema() { return TeacherLabelsTable.arrowSchema(); }
  @Override public String modelName() { return teacher.name(); }
  @Override public String deviceDescription() { return teacher.runtime().device().toString(); }

  @Override
  public void run(VectorSchemaRoot in, VectorSchemaRoot out, RowRejects rejects) {
    int n = in.getRowCount();
    VarCharVector ids = (VarCharVector) in.getVector(CorpusTable.ID);
    VarCharVector texts = (VarCharVector) in.getVector(CorpusTable.TEXT);
    List<Integer> rows = new ArrayList<>();
    List<int[]> tokens = new ArrayList<>();
    String[] note = new String[n];
    for (int i = 0; i < n; i++) {
      String text = TextRows.textOrReject(texts, i, rejects);
      if (text == null) continue;
      if (text.length() > config.maxTextChars()) {
        int end = config.maxTextChars();
        if (Character.isHighSurrogate(text.charAt(end - 1))) end--;
        text = text.substring(0, end);
        note[i] = "cut at " + end + " chars (--max-text-chars)";
      }
      int[] t;
      try {
        t = teacher.tokenizer().encode(text);
      } catch (RuntimeException e) {
        rejects.reject(i, RejectsTable.STAGE_VALIDATE, "cannot tokenize", e.getClass().getSimpleName() + ": " + e.getMessage());
        continue;
      }
      if (t.length == 0) {
        rejects.reject(i, RejectsTable.STAGE_VALIDATE, "empty text", "the text has no token for the model");
        continue;
      }
      if (t.length == 1) note[i] = (note[i] == null ? "" : note[i] + "; ") + "one token: no next-token target";
      rows.add(i);
      tokens.add(t);
    }

    TeacherLabeler.Labels[] result = new TeacherLabeler.Labels[n];
    if (!rows.isEmpty()) {
      List<TeacherLabeler.Labels> all = tryLabel(tokens);
      if (all != null) {
        for (int k = 0; k < rows.size(); k++) result[rows.get(k)] = all.get(k);
      } else {
        for (int k = 0; k < rows.size(); k++) {
          List<TeacherLabeler.Labels> one = tryLabel(List.of(tokens.get(k)));
          if (one != null) {
            result[rows.get(k)] = one.get(0);
            consecutiveFailures = 0;
          } else {
            rejects.reject(rows.get(k), RejectsTable.STAGE_LABEL, "model failed on this row", lastFailure);
            if (++consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) {
              throw new IllegalStateException("teacher " + teacher.name() + " failed on " + consecutiveFailures + " rows in a row (last: "
                  + lastFailure + "): this looks like a broken model or device, not bad input; check the model and --device");
            }
          }
        }
      }
    }
    write(out, ids, result, note, n);
  }

  private String lastFailure;
  private int consecutiveFailures;
  /** A model failing on this many rows in a row is broken, not fed bad rows: the task fails (as the embed task does). */
  static final int MAX_CONSECUTIVE_FAILURES = dev.sparkinfer.udf.TaskConfig.DEFAULT_MAX_CONSECUTIVE_ROW_FAILURES;

  private List<TeacherLabeler.Labels> tryLabel(List<int[]> tokens) {
    try {
      return teacher.runtime().admit(ops -> labeler.label(tokens));
    } catch (KernelFallbackException | DeviceMemoryException e) {
      throw e; // the engine, not a row
    } catch (RuntimeException e) {
      lastFailure = e.getClass().getSimpleName() + ": " + e.getMessage();
      return null;
    }
  }

  private void write(VectorSchemaRoot out, VarCharVector ids, TeacherLabeler.Labels[] result, String[] note, int n) {
    VarCharVector outIds = (VarCharVector) out.getVector(TeacherLabelsTable.ID);
    ListVector tokenIds = (ListVector) out.getVector(TeacherLabelsTable.TOKEN_IDS);
    ListVector topIds = (ListVector) out.getVector(TeacherLabelsTable.TOPK_IDS);
    VarBinaryVector topLp = (VarBinaryVector) out.getVector(TeacherLabelsTable.TOPK_LOGPROBS);
    ListVector target = (ListVector) out.getVector(TeacherLabelsTable.TARGET_LOGPROB);
    Float8Vector sum = (Float8Vector) out.getVector(TeacherLabelsTable.SUM_LOGPROB);
    IntVector nTokens = (IntVector) out.getVector(TeacherLabelsTable.N_TOKENS);
    IntVector windows = (IntVector) out.getVector(TeacherLabelsTable.WINDOWS);
    VarCharVector notes = (VarCharVector) out.getVector(TeacherLabelsTable.NOTE);
    VarCharVector model = (VarCharVector) out.getVector(TeacherLabelsTable.MODEL);
    byte[] modelName = teacher.name().getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < n; i++) {
      outIds.setSafe(i, ids.get(i));
      TeacherLabeler.Labels l = result[i];
      if (l == null) {
        tokenIds.setNull(i);
        topIds.setNull(i);
        topLp.setNull(i);
        target.setNull(i);
        sum.setNull(i);
        nTokens.setNull(i);
        windows.setNull(i);
        notes.setNull(i);
        model.setNull(i);
        continue;
      }
      ints(tokenIds, i, l.tokens());
      ints(topIds, i, l.topkIds());
      topLp.setSafe(i, encode(l.topkLogprobs(), config.encoding()));
      int start = target.startNewValue(i);
      Float4Vector t = (Float4Vector) target.getDataVector();
      for (int p = 0; p < l.positions(); p++) {
        if (Float.isNaN(l.targetLogprob()[p])) t.setNull(start + p);
        else t.setSafe(start + p, l.targetLogprob()[p]);
      }
      target.endValue(i, l.positions());
      sum.setSafe(i, l.sumLogprob());
      nTokens.setSafe(i, l.positions());
      windows.setSafe(i, windowCount(l.positions()));
      if (note[i] == null) notes.setNull(i);
      else notes.setSafe(i, note[i].getBytes(StandardCharsets.UTF_8));
      model.setSafe(i, modelName);
    }
    out.setRowCount(n);
  }

  private int windowCount(int positions) {
    return positions <= config.maxLength() ? 1 : 1 + (positions - config.maxLength() + config.stride() - 1) / config.stride();
  }

  private static void ints(ListVector list, int row, int[] values) {
    int start = list.startNewValue(row);
    IntVector data = (IntVector) list.getDataVector();
    for (int j = 0; j < values.length; j++) data.setSafe(start + j, values[j]);
    list.endValue(row, values.length);
  }

  /** The log-probs in the run's encoding, little-endian ({@link LogprobEncoding}). */
  public static byte[] encode(float[] lp, LogprobEncoding enc) {
    ByteBuffer b = ByteBuffer.allocate(lp.length * enc.bytes).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : lp) {
      switch (enc) {
        case FLOAT32 -> b.putFloat(v);
        case FLOAT16 -> b.putChar(dev.sparkinfer.kernels.DType.F16.fromFloat(v));
        case UINT8 -> b.put((byte) (int) Math.min(255, Math.max(0, Math.round(-v * LogprobEncoding.UINT8_STEPS_PER_NAT))));
      }
    }
    return b.array();
  }

  /** Decodes {@link #encode} (readers of the output, tests). */
  public static float[] decode(byte[] bytes, LogprobEncoding enc) {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[bytes.length / enc.bytes];
    for (int i = 0; i < out.length; i++) {
      out[i] = switch (enc) {
        case FLOAT32 -> b.getFloat();
        case FLOAT16 -> dev.sparkinfer.kernels.DType.F16.toFloat(b.getChar());
        case UINT8 -> -(b.get() & 0xff) / LogprobEncoding.UINT8_STEPS_PER_NAT;
      };
    }
    return out;
  }
}
