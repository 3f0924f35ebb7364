package dev.sparkinfer.schemas;

import java.util.List;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Rejects: one row per input row that could not be processed, written to {@code <output>/_rejects/} in the output's
 * format. Every input row ends up either in the output or here, so {@code input = written + rejected}.
 * <ul>
 *   <li>{@code id} string: the row's id, or {@code file:line} when the id could not be read</li>
 *   <li>{@code stage} string: where it failed, one of {@link #STAGES}</li>
 *   <li>{@code reason} string: a short, stable reason (e.g. {@code invalid UTF-8}, {@code empty text})</li>
 *   <li>{@code detail} string: what exactly was wrong (offsets, the exception message), may be null</li>
 * </ul>
 */
public final class RejectsTable {
  private RejectsTable() {}

  public static final String ID = "id";
  public static final String STAGE = "stage";
  public static final String REASON = "reason";
  public static final String DETAIL = "detail";

  /** Reading the input: malformed line, invalid UTF-8, unparsable JSON or CSV. */
  public static final String STAGE_READ = "read";
  /** Checking a parsed row: null id, null or empty text, a value of the wrong type. */
  public static final String STAGE_VALIDATE = "validate";
  /** The model failed on this row (isolated by retrying its batch row by row). */
  public static final String STAGE_EMBED = "embed";
  /** The teacher model failed on this row (teacher-labels). */
  public static final String STAGE_LABEL = "label";
  /** The image could not be fetched, decoded or preprocessed (CLIP jobs): missing path, corrupt bytes, bomb. */
  public static final String STAGE_IMAGE = "image";
  /** The CLIP model failed on this row (clip-score, clip-classify, clip-filter). */
  public static final String STAGE_SCORE = "score";
  /** The captioning model failed on this row (caption). */
  public static final String STAGE_CAPTION = "caption";
  public static final List<String> STAGES = List.of(STAGE_READ, STAGE_VALIDATE, STAGE_IMAGE, STAGE_EMBED, STAGE_LABEL, STAGE_SCORE,
      STAGE_CAPTION);

  public static Schema arrowSchema() {
    return new Schema(List.of(
        new Field(ID, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        new Field(STAGE, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        new Field(REASON, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        new Field(DETAIL, FieldType.nullable(ArrowType.Utf8.INSTANCE), null)));
  }

  public static StructType sparkSchema() {
    return new StructType()
        .add(ID, DataTypes.StringType, false)
        .add(STAGE, DataTypes.StringType, false)
        .add(REASON, DataTypes.StringType, false)
        .add(DETAIL, DataTypes.StringType, true);
  }
}
