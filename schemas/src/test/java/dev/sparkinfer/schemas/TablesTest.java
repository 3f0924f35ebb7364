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
}
