package dev.sparkinfer.schemas;

import java.util.List;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Image corpus input of the CLIP jobs: one image (and its caption) per row. The input table names its columns with
 * {@code --id-col}, {@code --image-col} (a path relative to {@code --image-root}, a URI, or the image bytes) and
 * {@code --caption-col}; WebDataset shards hold {@code KEY.jpg} + {@code KEY.txt}/{@code KEY.json}. By the time a
 * batch reaches a task the image has been read: the batch holds its bytes.
 */
public final class ImageCorpusTable {
  private ImageCorpusTable() {}

  public static final String ID = "id";
  public static final String CAPTION = "caption";
  public static final String IMAGE = "image";

  /** The batch a CLIP task reads: {@code id} utf8, {@code caption} utf8 (null when absent), {@code image} the encoded bytes. */
  public static Schema arrowSchema() {
    return new Schema(List.of(
        new Field(ID, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null),
        new Field(CAPTION, FieldType.nullable(ArrowType.Utf8.INSTANCE), null),
        new Field(IMAGE, FieldType.nullable(ArrowType.Binary.INSTANCE), null)));
  }
}
