package dev.sparkinfer.schemas;

import java.util.List;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Corpus input: one document per row. Columns {@code id} (string) and {@code text} (string); a corpus whose
 * columns have other names is read with {@code --id-col} / {@code --text-col}, and other columns are ignored.
 * Plain-text input has no id column: the id is {@code file:line}.
 */
public final class CorpusTable {
  private CorpusTable() {}

  public static final String ID = "id";
  public static final String TEXT = "text";

  /** The batch a text task reads: {@code id} utf8 (not null), {@code text} utf8 (not null once validated). */
  public static Schema arrowSchema() {
    return new Schema(List.of(
        new Field(ID, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        new Field(TEXT, FieldType.nullable(ArrowType.Utf8.INSTANCE), null)));
  }

  public static StructType sparkSchema() {
    return new StructType()
        .add(ID, DataTypes.StringType, true)
        .add(TEXT, DataTypes.StringType, true);
  }
}
