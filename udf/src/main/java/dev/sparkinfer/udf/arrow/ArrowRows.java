package dev.sparkinfer.udf.arrow;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;

/**
 * Rows as {@code Object[]} (in schema order) to and from Arrow vectors, for the column types the tables use:
 * utf8 = String, binary = byte[], int32 = Integer, int64 = Long, bool = Boolean, float32 = Float, float64 = Double,
 * FixedSizeList&lt;float32&gt; = float[], List&lt;int32&gt; = int[], List&lt;float32&gt; = Float[] (null elements kept);
 * null stays null. Batches are reused: {@link #reset} keeps the buffers, {@code setSafe} grows them.
 */
public final class ArrowRows {
  private ArrowRows() {}

  /** Empties every vector of the batch, keeping its buffers for the next batch. */
  public static void reset(VectorSchemaRoot root) {
    for (FieldVector v : root.getFieldVectors()) v.reset();
    root.setRowCount(0);
  }

  /** Writes {@code rows} into the batch (which must be reset or fresh) and sets its row count. */
  public static void fill(VectorSchemaRoot root, List<Object[]> rows) {
    List<FieldVector> vectors = root.getFieldVectors();
    for (int r = 0; r < rows.size(); r++) {
      Object[] row = rows.get(r);
      if (row.length != vectors.size()) {
        throw new IllegalArgumentException("row has " + row.length + " values, batch schema has " + vectors.size()
            + " columns: " + root.getSchema());
      }
      for (int c = 0; c < row.length; c++) set(vectors.get(c), r, row[c]);
    }
    root.setRowCount(rows.size());
  }

  /** Reads row {@code r} of the batch in schema order. */
  public static Object[] row(VectorSchemaRoot root, int r) {
    List<FieldVector> vectors = root.getFieldVectors();
    Object[] out = new Object[vectors.size()];
    for (int c = 0; c < out.length; c++) out[c] = get(vectors.get(c), r);
    return out;
  }

  public static void set(FieldVector v, int i, Object value) {
    if (value == null) {
      setNull(v, i);
    } else if (v instanceof VarCharVector s) {
      s.setSafe(i, value instanceof byte[] b ? b : value.toString().getBytes(StandardCharsets.UTF_8));
    } else if (v instanceof VarBinaryVector b) {
      b.setSafe(i, (byte[]) value);
    } else if (v instanceof IntVector n) {
      n.setSafe(i, ((Number) value).intValue());
    } else if (v instanceof BigIntVector n) {
      n.setSafe(i, ((Number) value).longValue());
    } else if (v instanceof BitVector b) {
      b.setSafe(i, ((Boolean) value) ? 1 : 0);
    } else if (v instanceof Float4Vector f) {
      f.setSafe(i, ((Number) value).floatValue());
    } else if (v instanceof Float8Vector f) {
      f.setSafe(i, ((Number) value).doubleValue());
    } else if (v instanceof FixedSizeListVector list && list.getDataVector() instanceof Float4Vector data) {
      setFloats(list, data, i, (float[]) value);
    } else if (v instanceof ListVector list && list.getDataVector() instanceof IntVector data) {
      int[] values = (int[]) value;
      int start = list.startNewValue(i);
      for (int j = 0; j < values.length; j++) data.setSafe(start + j, values[j]);
      list.endValue(i, values.length);
    } else if (v instanceof ListVector list && list.getDataVector() instanceof Float4Vector data) {
      Float[] values = (Float[]) value;
      int start = list.startNewValue(i);
      for (int j = 0; j < values.length; j++) {
        if (values[j] == null) data.setNull(start + j);
        else data.setSafe(start + j, values[j]);
      }
      list.endValue(i, values.length);
    } else {
      throw new UnsupportedOperationException("column " + v.getName() + " of type " + v.getField().getType()
          + " is not supported by ArrowRows");
    }
  }

  /** Writes one FixedSizeList&lt;float32&gt; cell; the array length must equal the list size. */
  public static void setFloats(FixedSizeListVector list, Float4Vector data, int i, float[] values) {
    int size = list.getListSize();
    if (values.length != size) {
      throw new IllegalArgumentException("column " + list.getName() + " holds " + size + " floats per row, got " + values.length);
    }
    list.setNotNull(i); // grows the validity buffer as needed
    int base = i * size;
    for (int j = 0; j < size; j++) data.setSafe(base + j, values[j]);
  }

  private static void setNull(FieldVector v, int i) {
    if (v instanceof FixedSizeListVector list) {
      list.setNull(i); // the child's slots are sized by setValueCount; their values do not matter
    } else if (v instanceof ListVector list) {
      list.setNull(i);
    } else if (v instanceof Float8Vector f) {
      f.setNull(i);
    } else if (v instanceof VarCharVector s) {
      s.setNull(i);
    } else if (v instanceof VarBinaryVector b) {
      b.setNull(i);
    } else if (v instanceof IntVector n) {
      n.setNull(i);
    } else if (v instanceof BigIntVector n) {
      n.setNull(i);
    } else if (v instanceof BitVector b) {
      b.setNull(i);
    } else if (v instanceof Float4Vector f) {
      f.setNull(i);
    } else {
      throw new UnsupportedOperationException("column " + v.getName() + " of type " + v.getField().getType()
          + " is not supported by ArrowRows");
    }
  }

  public static Object get(FieldVector v, int i) {
    if (v.isNull(i)) return null;
    if (v instanceof VarCharVector s) return new String(s.get(i), StandardCharsets.UTF_8);
    if (v instanceof VarBinaryVector b) return b.get(i);
    if (v instanceof IntVector n) return n.get(i);
    if (v instanceof BigIntVector n) return n.get(i);
    if (v instanceof BitVector b) return b.get(i) != 0;
    if (v instanceof Float4Vector f) return f.get(i);
    if (v instanceof Float8Vector f) return f.get(i);
    if (v instanceof ListVector list && list.getDataVector() instanceof IntVector data) {
      int start = list.getElementStartIndex(i), end = list.getElementEndIndex(i);
      int[] out = new int[end - start];
      for (int j = 0; j < out.length; j++) out[j] = data.get(start + j);
      return out;
    }
    if (v instanceof ListVector list && list.getDataVector() instanceof Float4Vector data) {
      int start = list.getElementStartIndex(i), end = list.getElementEndIndex(i);
      Float[] out = new Float[end - start];
      for (int j = 0; j < out.length; j++) out[j] = data.isNull(start + j) ? null : data.get(start + j);
      return out;
    }
    if (v instanceof FixedSizeListVector list && list.getDataVector() instanceof Float4Vector data) {
      int size = list.getListSize();
      float[] out = new float[size];
      for (int j = 0; j < size; j++) out[j] = data.get(i * size + j);
      return out;
    }
    throw new UnsupportedOperationException("column " + v.getName() + " of type " + v.getField().getType()
        + " is not supported by ArrowRows");
  }
}
