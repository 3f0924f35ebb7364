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
 * Captions ({@code bin/pipeline caption}): one row per image.
 * <ul>
 *   <li>{@code id} string</li>
 *   <li>{@code caption} string: the new tokens decoded (special tokens left out)</li>
 *   <li>{@code token_ids} array&lt;int&gt;: the new tokens, EOS included when it ended the caption</li>
 *   <li>{@code mean_logprob} double: mean log-prob of the new tokens under the model at T = 1</li>
 *   <li>{@code finish_reason} string: {@code eos} or {@code length}</li>
 *   <li>{@code image_width}, {@code image_height} int, {@code model} string</li>
 * </ul>
 * Columns named with {@code --keep-cols} follow, carried unchanged from the input.
 */
public final class CaptionsTable {
  private CaptionsTable() {}

  public static final String ID = "id", CAPTION = "caption", TOKEN_IDS = "token_ids", MEAN_LOGPROB = "mean_logprob",
      FINISH_REASON = "finish_reason", IMAGE_WIDTH = "image_width", IMAGE_HEIGHT = "image_height", MODEL = "model";

  public static Schema arrowSchema() {
    Field item = new Field("item", FieldType.notNullable(new ArrowType.Int(32, true)), null);
    return new Schema(List.of(
        new Field(ID, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        new Field(CAPTION, FieldType.nullable(ArrowType.Utf8.INSTANCE), null),
        new Field(TOKEN_IDS, FieldType.nullable(ArrowType.List.INSTANCE), List.of(item)),
        new Field(MEAN_LOGPROB, FieldType.nullable(new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)), null),
        new Field(FINISH_REASON, FieldType.nullable(ArrowType.Utf8.INSTANCE), null),
        new Field(IMAGE_WIDTH, FieldType.nullable(new ArrowType.Int(32, true)), null),
        new Field(IMAGE_HEIGHT, FieldType.nullable(new ArrowType.Int(32, true)), null),
        new Field(MODEL, FieldType.nullable(ArrowType.Utf8.INSTANCE), null)));
  }

  public static StructType sparkSchema() {
    return new StructType()
        .add(ID, DataTypes.StringType, false)
        .add(CAPTION, DataTypes.StringType, true)
        .add(TOKEN_IDS, DataTypes.createArrayType(DataTypes.IntegerType, false), true)
        .add(MEAN_LOGPROB, DataTypes.DoubleType, true)
        .add(FINISH_REASON, DataTypes.StringType, true)
        .add(IMAGE_WIDTH, DataTypes.IntegerType, true)
        .add(IMAGE_HEIGHT, DataTypes.IntegerType, true)
        .add(MODEL, DataTypes.StringType, true);
  }
}
