package dev.sparkinfer.schemas;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

class TablesTest {
  static List<String> names(Schema s) { return s.getFields().stream().map(Field::getName).toList(); }

  @Test
  void arrowAndSparkSchemasListTheSameColumnsInTheSameOrder() {
    assertEquals(names(CorpusTable.arrowSchema()), List.of(CorpusTable.sparkSchema().fieldNames()));
    assertEquals(names(EmbeddingsTable.arrowSchema(384)), List.of(EmbeddingsTable.sparkSchema().fieldNames()));
    assertEquals(names(RejectsTable.arrowSchema()), List.of(RejectsTable.sparkSchema().fieldNames()));
    assertEquals(List.of("id", "embedding", "n_tokens", "truncated", "model"), names(EmbeddingsTable.arrowSchema(8)));
    assertEquals(List.of("id", "stage", "reason", "detail"), names(RejectsTable.arrowSchema()));
  }

  @Test
  void embeddingsAreFixedSizeFloatListsInArrowAndFloatArraysInSpark() throws Exception {
    Field e = EmbeddingsTable.arrowSchema(384).findField("embedding");
    assertEquals(new ArrowType.FixedSizeList(384), e.getType());
    assertEquals(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE), e.getChildren().get(0).getType());
    StructType spark = EmbeddingsTable.sparkSchema();
    assertEquals(DataTypes.FloatType, ((ArrayType) spark.apply("embedding").dataType()).elementType());
    assertThrows(IllegalArgumentException.class, () -> EmbeddingsTable.arrowSchema(0));
    assertEquals(EmbeddingsTable.arrowSchema(16), Schema.fromJSON(EmbeddingsTable.arrowSchema(16).toJson()), "survives JSON");
  }

  @Test
  void clipTablesListTheSameColumnsInArrowAndSparkInEveryVariant() {
    for (ClipScoresTable.EmbeddingDtype d : new ClipScoresTable.EmbeddingDtype[] {null, ClipScoresTable.EmbeddingDtype.FLOAT16,
        ClipScoresTable.EmbeddingDtype.FLOAT32}) {
      assertEquals(names(ClipScoresTable.arrowSchema(512, d)), List.of(ClipScoresTable.sparkSchema(d).fieldNames()), "embeddings " + d);
    }
    assertEquals(List.of("id", "cosine", "clip_score", "caption_truncated", "image_width", "image_height", "model"),
        names(ClipScoresTable.arrowSchema(512, null)));
    assertEquals(new ArrowType.FixedSizeList(512),
        ClipScoresTable.arrowSchema(512, ClipScoresTable.EmbeddingDtype.FLOAT32).findField("image_embedding").getType());
    assertEquals(ArrowType.Binary.INSTANCE,
        ClipScoresTable.arrowSchema(512, ClipScoresTable.EmbeddingDtype.FLOAT16).findField("text_embedding").getType());
    for (boolean soft : new boolean[] {false, true}) {
      assertEquals(names(ClipClassesTable.arrowSchema(soft)), List.of(ClipClassesTable.sparkSchema(soft).fieldNames()));
    }
    assertEquals(List.of("id", "caption", "image"), names(ImageCorpusTable.arrowSchema()));
    assertThrows(IllegalArgumentException.class, () -> ClipScoresTable.EmbeddingDtype.parse("int8"));
  }
}
