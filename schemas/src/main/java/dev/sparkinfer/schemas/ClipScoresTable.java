package dev.sparkinfer.schemas;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * CLIP scores ({@code clip-score}, and the kept rows of {@code clip-filter}): one row per image–caption pair.
 * <ul>
 *   <li>{@code id} string: the corpus id, unchanged</li>
 *   <li>{@code cosine} float: cosine of the normalised image and text embeddings (what DataComp's thresholds use)</li>
 *   <li>{@code clip_score} float: 100 · max(cosine, 0) (the CLIPScore of Hessel et al. with w = 100, as clip-retrieval
 *       and torchmetrics report it)</li>
 *   <li>{@code caption_truncated} boolean: the caption had more than 77 tokens and was cut (EOT kept)</li>
 *   <li>{@code image_width}, {@code image_height} int: the decoded image's size</li>
 *   <li>{@code image_embedding}, {@code text_embedding} (only with {@code --emit-embeddings}): the projected,
 *       L2-normalised embeddings; {@code float32}: array&lt;float&gt; (FixedSizeList&lt;float32&gt;[dim] in Arrow);
 *       {@code float16}: binary, dim little-endian IEEE half floats ({@code np.frombuffer(b, '<f2')}), as
 *       clip-retrieval stores embeddings</li>
 *   <li>{@code model} string: the model's short name</li>
 * </ul>
 * Columns named with {@code --keep-cols} follow, carried unchanged from the input.
 */
public final class ClipScoresTable {
  private ClipScoresTable() {}

  public static final String ID = "id";
  public static final String COSINE = "cosine";
  public static final String CLIP_SCORE = "clip_score";
  public static final String CAPTION_TRUNCATED = "caption_truncated";
  public static final String IMAGE_WIDTH = "image_width";
  public static final String IMAGE_HEIGHT = "image_height";
  public static final String IMAGE_EMBEDDING = "image_embedding";
  public static final String TEXT_EMBEDDING = "text_embedding";
  public static final String MODEL = "model";

  /** How embeddings are stored. */
  public enum EmbeddingDtype {
    FLOAT16, FLOAT32;

    public static EmbeddingDtype parse(String s) {
      return switch (s.trim().toLowerCase(java.util.Locale.ROOT)) {
        case "float16", "fp16", "f16" -> FLOAT16;
        case "float32", "fp32", "f32" -> FLOAT32;
        default -> throw new IllegalArgumentException("--embedding-dtype must be float16 or float32, got '" + s + "'");
      };
    }
  }

  /** @param dim embedding width; {@code dtype} null: no embedding columns */
  public static Schema arrowSchema(int dim, EmbeddingDtype dtype) {
    List<Field> f = new ArrayList<>(List.of(
        new Field(ID, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        new Field(COSINE, FieldType.nullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)), null),
        new Field(CLIP_SCORE, FieldType.nullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)), null),
        new Field(CAPTION_TRUNCATED, FieldType.nullable(ArrowType.Bool.INSTANCE), null),
        new Field(IMAGE_WIDTH, FieldType.nullable(new ArrowType.Int(32, true)), null),
        new Field(IMAGE_HEIGHT, FieldType.nullable(new ArrowType.Int(32, true)), null)));
    if (dtype != null) {
      f.add(embeddingField(IMAGE_EMBEDDING, dim, dtype));
      f.add(embeddingField(TEXT_EMBEDDING, dim, dtype));
    }
    f.add(new Field(MODEL, FieldType.nullable(ArrowType.Utf8.INSTANCE), null));
    return new Schema(f);
  }

  public static StructType sparkSchema(EmbeddingDtype dtype) {
    StructType s = new StructType()
        .add(ID, DataTypes.StringType, false)
        .add(COSINE, DataTypes.FloatType, true)
        .add(CLIP_SCORE, DataTypes.FloatType, true)
        .add(CAPTION_TRUNCATED, DataTypes.BooleanType, true)
        .add(IMAGE_WIDTH, DataTypes.IntegerType, true)
        .add(IMAGE_HEIGHT, DataTypes.IntegerType, true);
    if (dtype != null) {
      DataType t = dtype == EmbeddingDtype.FLOAT32 ? DataTypes.createArrayType(DataTypes.FloatType, false) : DataTypes.BinaryType;
      s = s.add(IMAGE_EMBEDDING, t, true).add(TEXT_EMBEDDING, t, true);
    }
    return s.add(MODEL, DataTypes.StringType, true);
  }

  static Field embeddingField(String name, int dim, EmbeddingDtype dtype) {
    if (dtype == EmbeddingDtype.FLOAT16) return new Field(name, FieldType.nullable(ArrowType.Binary.INSTANCE), null);
    if (dim <= 0) throw new IllegalArgumentException("embedding dimension must be positive, got " + dim);
    Field element = new Field("item", FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)), null);
    return new Field(name, FieldType.nullable(new ArrowType.FixedSizeList(dim)), List.of(element));
  }
}
