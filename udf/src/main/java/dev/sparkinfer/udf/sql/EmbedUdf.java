package dev.sparkinfer.udf.sql;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.schemas.CorpusTable;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.TaskConfig;
import dev.sparkinfer.udf.arrow.ArrowRows;
import dev.sparkinfer.udf.embed.EmbedTaskFactory;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * The SQL function {@code embed(text)}: array&lt;float&gt;, or null for a text the job would reject (null, blank, or
 * one the model fails on). It runs the job's own {@link dev.sparkinfer.udf.embed.EmbedTask} on a one-row batch with
 * the JVM's shared model, so results equal the job's; row at a time, it is slower than {@code pipeline embed}.
 *
 * <pre>
 *   EmbedUdf.register(spark, "default", DeviceChoice.AUTO);
 *   spark.sql("SELECT id, embed(text) AS embedding FROM corpus");
 * </pre>
 */
public final class EmbedUdf implements UDF1<String, float[]> {
  public static final String NAME = "embed";
  public static final DataType RETURN_TYPE = DataTypes.createArrayType(DataTypes.FloatType, false);

  private final EmbedTaskFactory factory;

  public EmbedUdf(String modelSpec, DeviceChoice device, TaskConfig config) {
    this.factory = new EmbedTaskFactory(modelSpec, device, config);
  }

  /** Registers {@code embed(text)} in the session for the given model and device. */
  public static void register(SparkSession spark, String modelSpec, DeviceChoice device) {
    spark.udf().register(NAME, new EmbedUdf(modelSpec, device, TaskConfig.defaults()), RETURN_TYPE);
  }

  @Override
  public float[] call(String text) {
    if (text == null) return null;
    List<Object[]> one = new ArrayList<>(1);
    one.add(new Object[] {"udf", text});
    try (BatchTask task = factory.create();
         BufferAllocator allocator = new RootAllocator();
         VectorSchemaRoot in = VectorSchemaRoot.create(CorpusTable.arrowSchema(), allocator);
         VectorSchemaRoot out = VectorSchemaRoot.create(task.outputSchema(), allocator)) {
      in.allocateNew();
      out.allocateNew();
      ArrowRows.fill(in, one);
      boolean[] rejected = {false};
      task.run(in, out, (row, stage, reason, detail) -> rejected[0] = true);
      return rejected[0] ? null : (float[]) ArrowRows.get(out.getVector(1), 0);
    }
  }
}
