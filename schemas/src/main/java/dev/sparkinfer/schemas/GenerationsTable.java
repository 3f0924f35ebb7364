package dev.sparkinfer.schemas;

import java.util.List;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Generations output (bin/pipeline generate): one row per prompt.
 * <ul>
 *   <li>{@code id} string; {@code token_ids} array&lt;int&gt;: the new tokens only (EOS included when it ended the
 *   sequence); {@code text} string: them decoded; {@code mean_logprob} double: their mean log-prob under the model at
 *   T = 1; {@code n_prompt_tokens} int; {@code finish_reason} string ({@code eos} or {@code length}); {@code model}</li>
 * </ul>
 */
public final class GenerationsTable {
  private GenerationsTable() {}

  public static final String ID = "id", TOKEN_IDS = "token_ids", TEXT = "text", MEAN_LOGPROB = "mean_logprob",
      N_PROMPT_TOKENS = "n_prompt_tokens", FINISH_REASON = "finish_reason", MODEL = "model";

  public static Schema arrowSchema() {
    Field item = new Field("item", FieldType.notNullable(new ArrowType.Int(32, true)), null);
    return new Schema(List.of(
        new Field(ID, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        new Field(TOKEN_IDS, FieldType.nullable(ArrowType.List.INSTANCE), List.of(item)),
        new Field(TEXT, FieldType.nullable(ArrowType.Utf8.INSTANCE), null),
        new Field(MEAN_LOGPROB, FieldType.nullable(new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)), null),
        new Field(N_PROMPT_TOKENS, FieldType.nullable(new ArrowType.Int(32, true)), null),
        new Field(FINISH_REASON, FieldType.nullable(ArrowType.Utf8.INSTANCE), null),
        new Field(MODEL, FieldType.nullable(ArrowType.Utf8.INSTANCE), null)));
  }

  public static StructType sparkSchema() {
    return new StructType()
        .add(ID, DataTypes.StringType, false)
        .add(TOKEN_IDS, DataTypes.createArrayType(DataTypes.IntegerType, false), true)
        .add(TEXT, DataTypes.StringType, true)
        .add(MEAN_LOGPROB, DataTypes.DoubleType, true)
        .add(N_PROMPT_TOKENS, DataTypes.IntegerType, true)
        .add(FINISH_REASON, DataTypes.StringType, true)
        .add(MODEL, DataTypes.StringType, true);
  }
}
