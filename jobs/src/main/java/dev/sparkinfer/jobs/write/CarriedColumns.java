package dev.sparkinfer.jobs.write;

import dev.sparkinfer.jobs.UsageException;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The input columns an image job carries into its output ({@code --keep-cols}, as img2dataset's
 * {@code save_additional_columns}): appended after the task's own columns, in the Spark and the Arrow schema. Their
 * types are the input's where atomic (string, int, bigint, float, double, boolean), else strings.
 */
public final class CarriedColumns {
  private CarriedColumns() {}

  public static StructType append(StructType output, StructType carried) {
    StructType s = output;
    for (StructField f : carried.fields()) {
      if (List.of(output.fieldNames()).contains(f.name())) {
        throw new UsageException("--keep-cols '" + f.name() + "' has the name of an output column " + List.of(output.fieldNames())
            + ": rename it in the input, or leave it out");
      }
      s = s.add(f.name(), f.dataType(), true);
    }
    return s;
  }

  public static Schema append(Schema output, StructType carried) {
    if (carried.fields().length == 0) return output;
    List<Field> fields = new ArrayList<>(output.getFields());
    for (StructField f : carried.fields()) fields.add(new Field(f.name(), FieldType.nullable(arrowType(f.dataType())), null));
    return new Schema(fields);
  }

  static ArrowType arrowType(DataType t) {
    if (t.equals(DataTypes.StringType)) return ArrowType.Utf8.INSTANCE;
    if (t.equals(DataTypes.IntegerType)) return new ArrowType.Int(32, true);
    if (t.equals(DataTypes.LongType)) return new ArrowType.Int(64, true);
    if (t.equals(DataTypes.FloatType)) return new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
    if (t.equals(DataTypes.DoubleType)) return new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
    if (t.equals(DataTypes.BooleanType)) return ArrowType.Bool.INSTANCE;
    throw new IllegalArgumentException("a carried column of type " + t.simpleString() + " (the reader casts others to string)");
  }
}
