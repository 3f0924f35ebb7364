package dev.sparkinfer.jobs.io;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.io.compress.CompressionCodec;
import org.apache.hadoop.io.compress.CompressionCodecFactory;
import org.apache.hadoop.util.LineReader;

/**
 * The lines of a file read as bytes through the Hadoop FileSystem API (decompressed by extension), each decoded as
 * strict UTF-8: a line with malformed bytes is reported as such instead of being silently repaired with U+FFFD.
 * Line endings \n, \r\n and \r; a UTF-8 byte order mark at the start of the file is dropped.
 */
public final class Utf8Lines implements Closeable {
  /**
   * One line: its 1-based number and either its text or, when the bytes are not UTF-8, a description of why; or, when
   * the file cannot be read on from here (a truncated or corrupt compressed file), {@code readError} says why, and
   * it is the last line returned.
   */
  public record Line(long number, String text, String utf8Error, byte[] raw, String readError) {
    public Line(long number, String text, String utf8Error, byte[] raw) { this(number, text, utf8Error, raw, null); }

    public boolean valid() { return utf8Error == null && readError == null; }

    public boolean damaged() { return readError != null; }
  }

  private final InputStream in;
  private final LineReader reader;
  private final CharsetDecoder strict = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
  private final Text buffer = new Text();
  private long number;
  private boolean broken;

  public Utf8Lines(Path file, Configuration conf) throws IOException {
    FileSystem fs = file.getFileSystem(conf);
    InputStream raw = fs.open(file);
    CompressionCodec codec = new CompressionCodecFactory(conf).getCodec(file);
    this.in = codec == null ? raw : codec.createInputStream(raw);
    this.reader = new LineReader(in, conf);
  }

  /**
   * The next line, or null at the end of the file. A file that cannot be read on (e.g. a truncated .gz) gives one
   * {@link Line#damaged()} line, numbered where reading stopped, then null: what was read before stays good.
   */
  public Line next() {
    if (broken) return null;
    try {
      if (reader.readLine(buffer) == 0) return null;
    } catch (IOException | RuntimeException e) {
      broken = true;
      return new Line(number + 1, null, null, null, e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
    }
    number++;
    int start = 0;
    int len = buffer.getLength();
    byte[] bytes = buffer.getBytes();
    if (number == 1 && len >= 3 && (bytes[0] & 0xff) == 0xEF && (bytes[1] & 0xff) == 0xBB && (bytes[2] & 0xff) == 0xBF) {
      start = 3;
      len -= 3;
    }
    return decode(number, bytes, start, len, strict);
  }

  /** Decodes strictly; on malformed input gives the byte offset of the first bad byte. */
  static Line decode(long number, byte[] bytes, int start, int len, CharsetDecoder strict) {
    ByteBuffer bb = ByteBuffer.wrap(bytes, start, len);
    try {
      CharBuffer cb = strict.reset().decode(bb);
      return new Line(number, cb.toString(), null, null);
    } catch (MalformedInputException e) {
      int offset = bb.position();
      return new Line(number, null, "malformed UTF-8 at byte " + (offset - start) + " (" + e.getInputLength()
          + " bad byte(s): " + hex(bytes, offset, Math.min(e.getInputLength(), 4)) + ")",
          java.util.Arrays.copyOfRange(bytes, start, start + len));
    } catch (CharacterCodingException e) {
      return new Line(number, null, "not UTF-8: " + e, java.util.Arrays.copyOfRange(bytes, start, start + len));
    }
  }

  private static String hex(byte[] b, int from, int n) {
    StringBuilder s = new StringBuilder();
    for (int i = from; i < from + n && i < b.length; i++) s.append(String.format("%02X", b[i] & 0xff)).append(i + 1 < from + n ? " " : "");
    return s.toString().trim();
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
