package dev.sparkinfer.jobs.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.udf.arrow.ArrowRows;
import dev.sparkinfer.udf.testing.StrictAllocator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/** Reads job outputs back: with Spark, with Arrow's own file reader, and the summary with Jackson. */
public final class Outputs {
  private Outputs() {}

  public static List<Row> sparkRows(SparkSession spark, Path dir, String format) {
    return switch (format) {
      case "parquet" -> spark.read().parquet(dir.toString()).collectAsList();
      case "jsonl" -> spark.read().json(dir.toString()).collectAsList();
      default -> throw new IllegalArgumentException(format);
    };
  }

  /** Every row of every {@code *.arrow} file directly in {@code dir}, as Object[] (schema order); schema into {@code schemaOut}. */
  public static List<Object[]> arrowRows(Path dir, List<Schema> schemaOut) {
    List<Object[]> rows = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".arrow")).sorted().toList()) {
        try (StrictAllocator allocator = new StrictAllocator();
             ArrowFileReader reader = new ArrowFileReader(Files.newByteChannel(f), allocator)) {
          VectorSchemaRoot root = reader.getVectorSchemaRoot();
          if (schemaOut != null) schemaOut.add(root.getSchema());
          for (ArrowBlock block : reader.getRecordBlocks()) {
            reader.loadRecordBatch(block);
            for (int i = 0; i < root.getRowCount(); i++) rows.add(ArrowRows.row(root, i));
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return rows;
  }

  public static JsonNode summary(Path dir) {
    try {
      return new ObjectMapper().readTree(dir.resolve("_SUMMARY.json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
