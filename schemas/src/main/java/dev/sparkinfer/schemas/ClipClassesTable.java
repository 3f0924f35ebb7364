package dev.sparkinfer.schemas;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Zero-shot CLIP classes ({@code clip-classify}): one row per image; probabilities are
 * softmax(logit_scale · cos(image, label prompt) / T) over the labels, in the order of the labels file (written to
 * {@code _LABELS.json} beside the output).
 * <ul>
 *   <li>{@code id} string</li>
 *   <li>{@code label} string: the most probable label; {@code label_index} int: its index</li>
 *   <li>{@code top_indices} array&lt;int&gt;, {@code top_probs} array&lt;float&gt;: the top k labels, most probable first</li>
 *   <li>{@code probs} array&lt;float&gt;: every label's probability (class soft labels for distillation), only with
 *       {@code --soft-labels}</li>
 *   <li>{@code image_width}, {@code image_height} int, {@code model} string</li>
 * </ul>
 * Columns named with {@code --keep-cols} follow, carried unchanged from the input.
 */
public final class ClipClassesTable {
  private ClipClassesTable() {}

  public static final String ID = "id";
  public static final String LABEL = "label";
  public static final String LABEL_INDEX = "label_index";
  public static final String TOP_INDICES = "top_indices";
  public static final String TOP_PROBS = "top_probs";
  public static final String PROBS = "probs";
  public static final String IMAGE_WIDTH = "image_width";
  public static final String IMAGE_HEIGHT = "image_height";
  public static final String MODEL = "model";

  public static Schema arrowSchema(boolean softLabels) {
    Field intItem = new Field("item", FieldType.notNullable(new ArrowType.Int(32, true)), null);
    Field floatItem = new Field("item", FieldType.nullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)), null);
    List<Field> f = new ArrayList<>(List.of(
        new Field(ID, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        new Field(LABEL, FieldType.nullable(ArrowType.Utf8.INSTANCE), null),
        new Field(LABEL_INDEX, FieldType.nullable(new ArrowType.Int(32, true)), null),
        new Field(TOP_INDICES, FieldType.nullable(ArrowType.List.INSTANCE), List.of(intItem)),
        new Field(TOP_PROBS, FieldType.nullable(ArrowType.List.INSTANCE), List.of(floatItem))));
    if (softLabels) f.add(new Field(PROBS, FieldType.nullable(ArrowType.List.INSTANCE), List.of(floatItem)));
    f.add(new Field(IMAGE_WIDTH, FieldType.nullable(new ArrowType.Int(32, true)), null));
    f.add(new Field(IMAGE_HEIGHT, FieldType.nullable(new ArrowType.Int(32, true)), null));
    f.add(new Field(MODEL, FieldType.nullable(ArrowType.Utf8.INSTANCE), null));
    return new Schema(f);
  }

  public static StructType sparkSchema(boolean softLabels) {
    StructType s = new StructType()
        .add(ID, DataTypes.StringType, false)
        .add(LABEL, DataTypes.StringType, true)
        .add(LABEL_INDEX, DataTypes.IntegerType, true)
        .add(TOP_INDICES, DataTypes.createArrayType(DataTypes.IntegerType, false), true)
        .add(TOP_PROBS, DataTypes.createArrayType(DataTypes.FloatType, true), true);
    if (softLabels) s = s.add(PROBS, DataTypes.createArrayType(DataTypes.FloatType, true), true);
    return s.add(IMAGE_WIDTH, DataTypes.IntegerType, true).add(IMAGE_HEIGHT, DataTypes.IntegerType, true)
        .add(MODEL, DataTypes.StringType, true);
  }
}
