package dev.sparkinfer.udf.sql;

import static org.junit.jupiter.api.Assertions.*;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.TaskConfig;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import dev.sparkinfer.udf.testing.FakeHashEmbedder;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

class EmbedUdfTest {
  @Test
  void embedInSqlEqualsTheInProcessModel() {
    SparkSession spark = SparkSession.builder().master("local[2]").appName("udf-test")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    try {
      EmbedUdf.register(spark, FakeEmbedderProvider.HASH, DeviceChoice.JAVA);
      StructType schema = new StructType().add("id", DataTypes.StringType).add("text", DataTypes.StringType);
      Dataset<Row> corpus = spark.createDataFrame(List.of(RowFactory.create("1", "a small example"),
          RowFactory.create("2", null), RowFactory.create("3", ""),
          RowFactory.create("4", "bad " + FakeHashEmbedder.FAIL_MARKER)), schema);
      corpus.createOrReplaceTempView("corpus");
      List<Row> rows = spark.sql("SELECT id, embed(text) AS e FROM corpus ORDER BY id").collectAsList();
      FakeHashEmbedder model = new FakeHashEmbedder(FakeEmbedderProvider.DIM, false);
      float[] expected = model.embed("a small example");
      List<Float> got = rows.get(0).getList(1);
      assertEquals(expected.length, got.size());
      for (int j = 0; j < expected.length; j++) assertEquals(expected[j], got.get(j), 0f);
      assertTrue(rows.get(1).isNullAt(1), "null text gives null");
      assertTrue(rows.get(2).isNullAt(1), "empty text gives null");
      assertTrue(rows.get(3).isNullAt(1), "a row the model fails on gives null");
      assertArrayEquals(expected, new EmbedUdf(FakeEmbedderProvider.HASH, DeviceChoice.JAVA, TaskConfig.defaults())
          .call("a small example"));
    } finally {
      spark.stop();
    }
  }
}
