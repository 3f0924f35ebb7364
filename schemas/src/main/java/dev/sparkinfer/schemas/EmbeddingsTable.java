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
 * Embeddings output: one row per embedded document.
 * <ul>
 *   <li>{@code id} string: the corpus id, unchanged</li>
 *   <li>{@code embedding} array&lt;float&gt; in Spark / Parquet / JSONL; FixedSizeList&lt;float32&gt;[dim] in Arrow</li>
 *   <li>{@code n_tokens} int: tokens the model saw, special tokens included</li>
 *   <li>{@code truncated} boolean: the text was longer than the model's maximum and was cut</li>
 *   <li>{@code model} string: the model's short name</li>
 * </ul>
 */
public final class EmbeddingsTable {
  private EmbeddingsTable() {}

  public static final String ID = "id";
  public static final String EMBEDDING = "embedding";
  public static final String N_TOKENS = "n_tokens";
  public static final String TRUNCATED = "truncated";
  public static final String MODEL = "model";

  /** The Arrow schema for embeddings of width {@code dim}. */
  public static Schema arrowSchema(int dim) {
    if (dim <= 0) throw new IllegalArgumentException("embedding dimension must be positive, got " + dim);
    Field element = new Field("item", FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)), null);
    return new Schema(List.of(
        new Field(ID, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        new Field(EMBEDDING, FieldType.nullable(new ArrowType.FixedSizeList(dim)), List.of(element)),
        new Field(N_TOKENS, FieldType.nullable(new ArrowType.Int(32, true)), null),
        new Field(TRUNCATED, FieldType.nullable(ArrowType.Bool.INSTANCE), null),
        new Field(MODEL, FieldType.nullable(ArrowType.Utf8.INSTANCE), null)));
  }

  public static StructType sparkSchema() {
    return new StructType()
        .add(ID, DataTypes.StringType, false)
        .add(EMBEDDING, DataTypes.createArrayType(DataTypes.FloatType, false), true)
        .add(N_TOKENS, DataTypes.IntegerType, true)
        .add(TRUNCATED, DataTypes.BooleanType, true)
        .add(MODEL, DataTypes.StringType, true);
  }
}
