package dev.sparkinfer.models.weights;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes small safetensors files for tests: tensors laid out one after another, or a hand-made header. */
public final class SafeTensorsWriter {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final ObjectNode header = JSON.createObjectNode();
  private final ByteArrayOutputStream data = new ByteArrayOutputStream();

  public SafeTensorsWriter metadata(String key, String value) {
    ObjectNode m = header.has("__metadata__") ? (ObjectNode) header.get("__metadata__") : header.putObject("__metadata__");
    m.put(key, value);
    return this;
  }

  SafeTensorsWriter tensor(String name, String dtype, long[] shape, byte[] bytes) {
    long begin = data.size();
    data.writeBytes(bytes);
    return entry(name, dtype, shape, begin, data.size());
  }

  /** A header entry with arbitrary offsets (no data written). */
  SafeTensorsWriter entry(String name, String dtype, long[] shape, long begin, long end) {
    ObjectNode e = header.putObject(name);
    e.put("dtype", dtype);
    ArrayNode s = e.putArray("shape");
    for (long d : shape) s.add(d);
    e.putArray("data_offsets").add(begin).add(end);
    return this;
  }

  public SafeTensorsWriter f32(String name, long[] shape, float... v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) b.putFloat(x);
    return tensor(name, "F32", shape, b.array());
  }

  public SafeTensorsWriter u16(String name, String dtype, long[] shape, int... bits) {
    ByteBuffer b = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int x : bits) b.putShort((short) x);
    return tensor(name, dtype, shape, b.array());
  }

  SafeTensorsWriter i64(String name, long[] shape, long... v) {
    ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (long x : v) b.putLong(x);
    return tensor(name, "I64", shape, b.array());
  }

  public SafeTensorsWriter i32(String name, long[] shape, int... v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int x : v) b.putInt(x);
    return tensor(name, "I32", shape, b.array());
  }

  byte[] bytes() {
    try {
      return raw(JSON.writeValueAsString(header), data.toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Path write(Path file) throws IOException {
    return Files.write(file, bytes());
  }

  /**
   * Every tensor of {@code weights} as F16, in name order, streamed to {@code file} one tensor at a time: a whole
   * model's weights (ViT-B/32's 300 MB) need not be held twice in memory, as {@link #write} would hold them. The
   * header is padded with spaces to a multiple of 8 bytes, as the reference writer pads it.
   */
  public static Path writeF16(Path file, WeightSource weights) throws IOException {
    java.util.List<String> names = new java.util.ArrayList<>(weights.names());
    java.util.Collections.sort(names);
    ObjectNode h = JSON.createObjectNode();
    long offset = 0;
    for (String name : names) {
      long[] shape = weights.shape(name);
      long bytes = 2;
      for (long d : shape) bytes = Math.multiplyExact(bytes, d);
      ObjectNode e = h.putObject(name);
      e.put("dtype", "F16");
      ArrayNode s = e.putArray("shape");
      for (long d : shape) s.add(d);
      e.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] json = JSON.writeValueAsString(h).getBytes(StandardCharsets.UTF_8);
    byte[] header = java.util.Arrays.copyOf(json, (json.length + 7) / 8 * 8);
    java.util.Arrays.fill(header, json.length, header.length, (byte) ' ');
    try (java.io.OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
      out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
      out.write(header);
      for (String name : names) {
        char[] bits = weights.dtype(name) == DType.F16 ? weights.bits16(name) : toF16(weights.floats(name));
        ByteBuffer b = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (char c : bits) b.putChar(c);
        out.write(b.array());
      }
    }
    return file;
  }

  private static char[] toF16(float[] f) {
    char[] h = new char[f.length];
    for (int i = 0; i < f.length; i++) h[i] = dev.sparkinfer.kernels.DType.F16.fromFloat(f[i]);
    return h;
  }

  /** A file with the given header text (any bytes, valid or not) and data. */
  static byte[] raw(String headerText, byte[] data) {
    byte[] h = headerText.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h).put(data);
    return b.array();
  }

  static long[] shape(long... d) { return d; }
}
