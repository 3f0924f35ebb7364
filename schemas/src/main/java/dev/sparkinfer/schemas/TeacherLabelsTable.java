package dev.sparkinfer.schemas;

import java.util.List;
import java.util.Locale;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Teacher labels output (bin/pipeline teacher-labels): one row per text, n = n_tokens positions, k = the run's top-k.
 * <ul>
 *   <li>{@code id} string: the corpus id</li>
 *   <li>{@code token_ids} array&lt;int&gt;[n]: the text's tokens, the model's special-token template included</li>
 *   <li>{@code topk_ids} array&lt;int&gt;[n * k]: position i's k most likely next tokens, most likely first (position i
 *   predicts token i + 1)</li>
 *   <li>{@code topk_logprobs} binary: their log_softmax(logits / T), n * k values encoded per {@link LogprobEncoding}</li>
 *   <li>{@code target_logprob} array&lt;float&gt;[n]: log-prob at T of the token that follows position i (null at the
 *   last position)</li>
 *   <li>{@code sum_logprob} double: sum of the next-token log-probs at T = 1 (the text's log-likelihood)</li>
 *   <li>{@code n_tokens} int, {@code windows} int (forward passes the text took), {@code note} string (null, or why a
 *   row is special: one token has no next-token target), {@code model} string</li>
 * </ul>
 */
public final class TeacherLabelsTable {
  private TeacherLabelsTable() {}

  public static final String ID = "id", TOKEN_IDS = "token_ids", TOPK_IDS = "topk_ids", TOPK_LOGPROBS = "topk_logprobs",
      TARGET_LOGPROB = "target_logprob", SUM_LOGPROB = "sum_logprob", N_TOKENS = "n_tokens", WINDOWS = "windows",
      NOTE = "note", MODEL = "model";

  /**
   * How {@code topk_logprobs} stores each value, little-endian: {@code float16} (2 bytes, IEEE half, the default),
   * {@code float32} (4 bytes), or {@code uint8} (1 byte: q = min(255, round(-logprob * 16)), logprob = -q / 16: steps
   * of 1/16 nat down to -15.94, lower log-probs stored as 255).
   */
  public enum LogprobEncoding {
    FLOAT16(2), FLOAT32(4), UINT8(1);

    public final int bytes;

    LogprobEncoding(int bytes) { this.bytes = bytes; }

    public static final float UINT8_STEPS_PER_NAT = 16f;

    public static LogprobEncoding parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException | NullPointerException e) {
        throw new IllegalArgumentException("unknown --logprob-dtype '" + s + "': use float16, float32 or uint8");
      }
    }

    public String label() { return name().toLowerCase(Locale.ROOT); }
  }

  public static Schema arrowSchema() {
    return new Schema(List.of(
        new Field(ID, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        list(TOKEN_IDS, new ArrowType.Int(32, true), false),
        list(TOPK_IDS, new ArrowType.Int(32, true), false),
        new Field(TOPK_LOGPROBS, FieldType.nullable(ArrowType.Binary.INSTANCE), null),
        list(TARGET_LOGPROB, new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE), true),
        new Field(SUM_LOGPROB, FieldType.nullable(new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)), null),
        new Field(N_TOKENS, FieldType.nullable(new ArrowType.Int(32, true)), null),
        new Field(WINDOWS, FieldType.nullable(new ArrowType.Int(32, true)), null),
        new Field(NOTE, FieldType.nullable(ArrowType.Utf8.INSTANCE), null),
        new Field(MODEL, FieldType.nullable(ArrowType.Utf8.INSTANCE), null)));
  }

  private static Field list(String name, ArrowType item, boolean itemsNullable) {
    Field element = new Field("item", itemsNullable ? FieldType.nullable(item) : FieldType.notNullable(item), null);
    return new Field(name, FieldType.nullable(ArrowType.List.INSTANCE), List.of(element));
  }

  public static StructType sparkSchema() {
    return new StructType()
        .add(ID, DataTypes.StringType, false)
        .add(TOKEN_IDS, DataTypes.createArrayType(DataTypes.IntegerType, false), true)
        .add(TOPK_IDS, DataTypes.createArrayType(DataTypes.IntegerType, false), true)
        .add(TOPK_LOGPROBS, DataTypes.BinaryType, true)
        .add(TARGET_LOGPROB, DataTypes.createArrayType(DataTypes.FloatType, true), true)
        .add(SUM_LOGPROB, DataTypes.DoubleType, true)
        .add(N_TOKENS, DataTypes.IntegerType, true)
        .add(WINDOWS, DataTypes.IntegerType, true)
        .add(NOTE, DataTypes.StringType, true)
        .add(MODEL, DataTypes.StringType, true);
  }
}
