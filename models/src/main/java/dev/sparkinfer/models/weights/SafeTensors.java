package dev.sparkinfer.models.weights;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A <a href="https://github.com/huggingface/safetensors">safetensors</a> file, memory-mapped read-only.
 *
 * <p>Layout: an 8-byte little-endian unsigned header length {@code n}, {@code n} bytes of UTF-8 JSON mapping each
 * tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end)}} (offsets relative to the data region that
 * follows the header; the optional {@code __metadata__} entry is ignored), then the raw little-endian data.
 *
 * <p>{@link #open(Path)} validates the whole header up front (length cap and bounds, JSON, dtypes, shapes, offsets
 * inside the data region, sizes matching the shape, no two tensors overlapping) and fails with an
 * {@link IllegalArgumentException} whose message names the file, the tensor and the problem. Files over 2 GiB are mapped
 * as several read-only windows; nothing is read into the heap until {@link #floats(String)} / {@link #longs(String)}.
 * Instances are safe for concurrent reads.
 */
public final class SafeTensors implements WeightSource {
  /** Largest header accepted (the reference implementation caps it at 100 MB too). */
  public static final long MAX_HEADER_BYTES = 100_000_000L;
  /** Size of each read-only mapping window. */
  static final int DEFAULT_WINDOW = 1 << 30;
  /** Bytes converted per step when widening (a multiple of every element width). */
  private static final int BLOCK = 1 << 16;

  private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  /** One tensor of the header; offsets are absolute positions in the file. */
  private record Entry(String name, DType dtype, long[] shape, long elements, long start, long end) {}

  private final Path file;
  private final Map<String, Entry> entries;
  private final Set<String> names;
  private final long dataStart;
  private final long window;
  private volatile MappedByteBuffer[] windows;

  private SafeTensors(Path file, Map<String, Entry> entries, long dataStart, long window, MappedByteBuffer[] windows) {
    this.file = file;
    this.entries = entries;
    this.names = Collections.unmodifiableSet(entries.keySet());
    this.dataStart = dataStart;
    this.window = window;
    this.windows = windows;
  }

  /** Opens and validates a safetensors file; the data is memory-mapped, not read. */
  public static SafeTensors open(Path file) {
    return open(file, DEFAULT_WINDOW);
  }

  /** As {@link #open(Path)} with a chosen mapping window size (small windows let tests cross window boundaries). */
  static SafeTensors open(Path file, int windowBytes) {
    if (windowBytes < 1) throw new IllegalArgumentException("window size must be positive");
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("safetensors file " + file.toAbsolutePath() + " does not exist or is not a regular file");
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      String where = "safetensors file " + file.toAbsolutePath();
      if (size < 8) {
        throw new IllegalArgumentException(where + " is truncated: " + size + " bytes, shorter than the 8-byte header length");
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, lenBuf, 0);
      long headerLen = lenBuf.getLong(0); // unsigned: a negative value is >= 2^63
      if (headerLen < 0 || headerLen > MAX_HEADER_BYTES) {
        throw new IllegalArgumentException(where + ": header length " + Long.toUnsignedString(headerLen)
            + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes (not a safetensors file, or a corrupt one)");
      }
      if (8 + headerLen > size) {
        throw new IllegalArgumentException(where + " is truncated: header length " + headerLen + " but the file has only "
            + (size - 8) + " bytes after the length field");
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLen);
      readFully(ch, header, 8);
      long dataStart = 8 + headerLen;
      long dataSize = size - dataStart;
      Map<String, Entry> entries = parseHeader(where, header.array(), dataStart, dataSize);
      MappedByteBuffer[] windows = map(ch, dataStart, dataSize, windowBytes);
      return new SafeTensors(file, entries, dataStart, windowBytes, windows);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read safetensors file " + file.toAbsolutePath() + ": " + e.getMessage(), e);
    }
  }

  /**
   * The weights of a Hugging Face model folder: {@code model.safetensors}, or the shards listed by
   * {@code model.safetensors.index.json} ({@code weight_map}: tensor name → shard file) presented as one source.
   */
  public static WeightSource openModelDir(Path dir) {
    Path single = dir.resolve("model.safetensors");
    if (Files.isRegularFile(single)) return open(single);
    Path index = dir.resolve("model.safetensors.index.json");
    if (Files.isRegularFile(index)) return Sharded.open(dir, index);
    throw new IllegalArgumentException("model folder " + dir.toAbsolutePath()
        + " has neither model.safetensors nor model.safetensors.index.json");
  }

  private static void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
    while (dst.hasRemaining()) {
      int n = ch.read(dst, pos);
      if (n < 0) throw new IOException("unexpected end of file at byte " + pos);
      pos += n;
    }
  }

  private static MappedByteBuffer[] map(FileChannel ch, long start, long length, int window) throws IOException {
    int count = (int) ((length + window - 1) / window);
    MappedByteBuffer[] out = new MappedByteBuffer[count];
    for (int i = 0; i < count; i++) {
      long off = (long) i * window;
      long len = Math.min(window, length - off);
      out[i] = ch.map(FileChannel.MapMode.READ_ONLY, start + off, len);
    }
    return out;
  }

  private static Map<String, Entry> parseHeader(String where, byte[] header, long dataStart, long dataSize) {
    JsonNode root;
    try {
      root = JSON.readTree(header);
    } catch (JacksonException e) {
      throw new IllegalArgumentException(where + ": header is not valid JSON: " + e.getOriginalMessage()
          + " (header starts with '" + preview(header) + "')", e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(where + ": header is not a JSON object (starts with '" + preview(header) + "')");
    }
    Map<String, Entry> entries = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      String name = f.getKey();
      if (name.equals("__metadata__")) continue;
      entries.put(name, parseEntry(where, name, f.getValue(), dataStart, dataSize));
    }
    checkOverlaps(where, entries, dataStart);
    return entries;
  }

  private static Entry parseEntry(String where, String name, JsonNode e, long dataStart, long dataSize) {
    String at = where + ": tensor '" + name + "'";
    if (!e.isObject()) throw new IllegalArgumentException(at + ": header entry is not a JSON object");
    JsonNode dt = e.get("dtype");
    if (dt == null || !dt.isTextual()) throw new IllegalArgumentException(at + ": missing or non-string dtype");
    DType dtype;
    try {
      dtype = DType.valueOf(dt.asText());
    } catch (IllegalArgumentException x) {
      throw new IllegalArgumentException(at + ": unknown dtype '" + dt.asText() + "' (known: " + Arrays.toString(DType.values()) + ")");
    }
    JsonNode sh = e.get("shape");
    if (sh == null || !sh.isArray()) throw new IllegalArgumentException(at + ": missing shape array");
    long[] shape = new long[sh.size()];
    long elements = 1;
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = sh.get(i);
      if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
        throw new IllegalArgumentException(at + ": shape " + sh + " has a dimension that is not a non-negative integer");
      }
      shape[i] = d.asLong();
      try {
        elements = Math.multiplyExact(elements, shape[i]);
      } catch (ArithmeticException x) {
        throw new IllegalArgumentException(at + ": shape " + sh + " overflows");
      }
    }
    JsonNode off = e.get("data_offsets");
    if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()
        || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
      throw new IllegalArgumentException(at + ": data_offsets must be two integers [begin, end), got " + off);
    }
    long begin = off.get(0).asLong();
    long end = off.get(1).asLong();
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException(at + ": data_offsets [" + begin + ", " + end + ") are not a valid range");
    }
    if (end > dataSize) {
      throw new IllegalArgumentException(at + ": data_offsets [" + begin + ", " + end + ") end outside the data region of "
          + dataSize + " bytes: the file is truncated or its header is wrong");
    }
    long expected;
    try {
      expected = Math.multiplyExact(elements, (long) dtype.bytes);
    } catch (ArithmeticException x) {
      throw new IllegalArgumentException(at + ": shape " + Arrays.toString(shape) + " is too large");
    }
    if (end - begin != expected) {
      throw new IllegalArgumentException(at + ": data_offsets [" + begin + ", " + end + ") hold " + (end - begin)
          + " bytes but shape " + Arrays.toString(shape) + " of " + dtype + " needs " + expected);
    }
    return new Entry(name, dtype, shape, elements, dataStart + begin, dataStart + end);
  }

  private static void checkOverlaps(String where, Map<String, Entry> entries, long dataStart) {
    List<Entry> sorted = new ArrayList<>();
    for (Entry e : entries.values()) if (e.end > e.start) sorted.add(e);
    sorted.sort(Comparator.comparingLong(Entry::start).thenComparingLong(Entry::end));
    Entry prev = null;
    for (Entry e : sorted) {
      if (prev != null && e.start < prev.end) {
        throw new IllegalArgumentException(where + ": tensors '" + prev.name + "' and '" + e.name + "' overlap (data_offsets ["
            + (prev.start - dataStart) + ", " + (prev.end - dataStart) + ") and [" + (e.start - dataStart) + ", "
            + (e.end - dataStart) + "))");
      }
      if (prev == null || e.end > prev.end) prev = e;
    }
  }

  private static String preview(byte[] header) {
    String s = new String(header, 0, Math.min(header.length, 40), StandardCharsets.UTF_8);
    return s.replaceAll("\\p{Cntrl}", "?");
  }

  // ---------------------------------------------------------------------------------------------------- WeightSource

  @Override public Set<String> names() { return names; }

  @Override public boolean has(String name) { return entries.containsKey(name); }

  @Override public long[] shape(String name) { return entry(name).shape.clone(); }

  @Override public DType dtype(String name) { return entry(name).dtype; }

  /** Number of elements of a tensor (may exceed what one Java array holds). */
  public long elements(String name) { return entry(name).elements; }

  @Override
  public float[] floats(String name) {
    Entry e = entry(name);
    switch (e.dtype) {
      case F32: case F16: case BF16: break;
      default:
        throw new IllegalArgumentException(origin() + ": tensor '" + name + "' is " + e.dtype
            + ", not a floating-point type floats() widens (F32, F16, BF16)");
    }
    float[] out = new float[arrayLength(e)];
    forEachBlock(e, (bb, done, n) -> {
      if (e.dtype == DType.F32) {
        bb.asFloatBuffer().get(out, done, n);
      } else if (e.dtype == DType.F16) {
        for (int i = 0; i < n; i++) out[done + i] = Half.toFloat(bb.getShort(2 * i));
      } else {
        for (int i = 0; i < n; i++) out[done + i] = Half.bf16ToFloat(bb.getShort(2 * i));
      }
    });
    return out;
  }

  @Override
  public char[] bits16(String name) {
    Entry e = entry(name);
    if (e.dtype != DType.F16 && e.dtype != DType.BF16) {
      throw new IllegalArgumentException(origin() + ": tensor '" + name + "' is " + e.dtype + ", not a 16-bit type (F16, BF16)");
    }
    char[] out = new char[arrayLength(e)];
    forEachBlock(e, (bb, done, n) -> bb.asCharBuffer().get(out, done, n));
    return out;
  }

  /** Decodes {@code n} elements from the start of {@code block} (little-endian) into the output at {@code done}. */
  private interface BlockDecoder {
    void decode(ByteBuffer block, int done, int n);
  }

  /** Reads a tensor's bytes in blocks of BLOCK (across mapping windows) and hands each block to the decoder. */
  private void forEachBlock(Entry e, BlockDecoder decoder) {
    byte[] buf = new byte[BLOCK];
    ByteBuffer bb = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
    int done = 0;
    long pos = e.start;
    while (pos < e.end) {
      int len = (int) Math.min(BLOCK, e.end - pos);
      read(pos, buf, len);
      int n = len / e.dtype.bytes;
      bb.clear();
      decoder.decode(bb, done, n);
      done += n;
      pos += len;
    }
  }

  @Override
  public long[] longs(String name) {
    Entry e = entry(name);
    if (e.dtype != DType.I64 && e.dtype != DType.I32) {
      throw new IllegalArgumentException(origin() + ": tensor '" + name + "' is " + e.dtype + ", not an integer type longs() reads (I64, I32)");
    }
    long[] out = new long[arrayLength(e)];
    forEachBlock(e, (bb, done, n) -> {
      if (e.dtype == DType.I64) {
        bb.asLongBuffer().get(out, done, n);
      } else {
        for (int k = 0; k < n; k++) out[done + k] = bb.getInt(4 * k);
      }
    });
    return out;
  }

  /** The raw little-endian bytes of a tensor (for tensors under 2 GiB). */
  public byte[] rawBytes(String name) {
    Entry e = entry(name);
    if (e.end - e.start > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(origin() + ": tensor '" + name + "' has " + (e.end - e.start) + " bytes, too many for one array");
    }
    byte[] out = new byte[(int) (e.end - e.start)];
    read(e.start, out, out.length);
    return out;
  }

  @Override public String origin() { return file.toAbsolutePath().toString(); }

  /** Drops the mappings (the operating system unmaps them once they are garbage collected). */
  @Override public void close() { windows = null; }

  @Override public String toString() { return "SafeTensors[" + origin() + ", " + entries.size() + " tensors]"; }

  private Entry entry(String name) {
    Entry e = entries.get(name);
    if (e == null) throw new IllegalArgumentException(origin() + ": no tensor named '" + name + "'" + Names.suggest(name, names));
    return e;
  }

  private int arrayLength(Entry e) {
    if (e.elements > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(origin() + ": tensor '" + e.name + "' has " + e.elements
          + " elements, more than one Java array holds (2^31 - 1); read it in parts");
    }
    return (int) e.elements;
  }

  /** Copies {@code len} bytes at absolute file position {@code pos}, across mapping windows. */
  private void read(long pos, byte[] dst, int len) {
    MappedByteBuffer[] w = windows;
    if (w == null) throw new IllegalStateException(origin() + " is closed");
    long rel = pos - dataStart;
    int off = 0;
    while (off < len) {
      int wi = (int) (rel / window);
      int wo = (int) (rel % window);
      int n = Math.min(len - off, w[wi].capacity() - wo);
      w[wi].get(wo, dst, off, n); // absolute bulk get: no shared position, safe across threads
      off += n;
      rel += n;
    }
  }

  // ------------------------------------------------------------------------------------------------------- shards

  /** Several shard files presented as one source through the index's {@code weight_map}. */
  private static final class Sharded implements WeightSource {
    private final Path index;
    private final Map<String, SafeTensors> byName;
    private final List<SafeTensors> shards;

    private Sharded(Path index, Map<String, SafeTensors> byName, List<SafeTensors> shards) {
      this.index = index;
      this.byName = byName;
      this.shards = shards;
    }

    static Sharded open(Path dir, Path index) {
      String where = "safetensors index " + index.toAbsolutePath();
      JsonNode root;
      try {
        root = JSON.readTree(index.toFile());
      } catch (JacksonException e) {
        throw new IllegalArgumentException(where + " is not valid JSON: " + e.getOriginalMessage(), e);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + where + ": " + e.getMessage(), e);
      }
      JsonNode map = root == null ? null : root.get("weight_map");
      if (map == null || !map.isObject() || map.isEmpty()) {
        throw new IllegalArgumentException(where + " has no weight_map object (tensor name -> shard file)");
      }
      Map<String, SafeTensors> files = new LinkedHashMap<>();
      Map<String, SafeTensors> byName = new LinkedHashMap<>();
      Path base = dir.toAbsolutePath().normalize();
      try {
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> f = it.next();
          if (!f.getValue().isTextual()) {
            throw new IllegalArgumentException(where + ": weight_map entry for tensor '" + f.getKey() + "' is not a file name");
          }
          String shardName = f.getValue().asText();
          Path shard = base.resolve(shardName).normalize();
          if (!shard.startsWith(base)) {
            throw new IllegalArgumentException(where + ": tensor '" + f.getKey() + "' points outside the model folder: " + shardName);
          }
          if (!files.containsKey(shardName) && !Files.isRegularFile(shard)) {
            throw new IllegalArgumentException(where + ": tensor '" + f.getKey() + "' is in shard " + shardName + ", which is missing");
          }
          SafeTensors st = files.computeIfAbsent(shardName, k -> SafeTensors.open(shard));
          if (!st.has(f.getKey())) {
            throw new IllegalArgumentException(where + ": weight_map puts tensor '" + f.getKey() + "' in " + shardName
                + ", which does not hold it");
          }
          byName.put(f.getKey(), st);
        }
      } catch (RuntimeException e) {
        files.values().forEach(SafeTensors::close);
        throw e;
      }
      return new Sharded(index, byName, new ArrayList<>(files.values()));
    }

    private SafeTensors shard(String name) {
      SafeTensors s = byName.get(name);
      if (s == null) throw new IllegalArgumentException(origin() + ": no tensor named '" + name + "'" + Names.suggest(name, byName.keySet()));
      return s;
    }

    @Override public Set<String> names() { return Collections.unmodifiableSet(byName.keySet()); }
    @Override public boolean has(String name) { return byName.containsKey(name); }
    @Override public long[] shape(String name) { return shard(name).shape(name); }
    @Override public DType dtype(String name) { return shard(name).dtype(name); }
    @Override public float[] floats(String name) { return shard(name).floats(name); }
    @Override public long[] longs(String name) { return shard(name).longs(name); }
    @Override public char[] bits16(String name) { return shard(name).bits16(name); }
    @Override public String origin() { return index.toAbsolutePath() + " (" + shards.size() + " shards)"; }
    @Override public void close() { shards.forEach(SafeTensors::close); }
    @Override public String toString() { return "SafeTensors.Sharded[" + origin() + ", " + byName.size() + " tensors]"; }
  }
}
