package dev.sparkinfer.jobs.io;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Utf8LinesTest {
  @TempDir Path tmp;

  List<Utf8Lines.Line> read(Path f) throws Exception {
    List<Utf8Lines.Line> out = new ArrayList<>();
    try (Utf8Lines lines = new Utf8Lines(new org.apache.hadoop.fs.Path(f.toUri()), new Configuration())) {
      for (Utf8Lines.Line l; (l = lines.next()) != null; ) out.add(l);
    }
    return out;
  }

  @Test
  void decodesStrictlyAndNumbersLines() throws Exception {
    Path f = tmp.resolve("a.txt");
    byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
    byte[] body = "first\r\nzweite Straße\n\u6771\u4eac \uD83D\uDE42\nbad ".getBytes(StandardCharsets.UTF_8);
    byte[] tail = {(byte) 0xE2, (byte) 0x82, '\n', 'l', 'a', 's', 't'};
    Files.write(f, concat(bom, body, tail));
    List<Utf8Lines.Line> lines = read(f);
    assertEquals(5, lines.size());
    assertEquals("first", lines.get(0).text(), "BOM and CRLF dropped");
    assertEquals("zweite Straße", lines.get(1).text());
    assertEquals("\u6771\u4eac \uD83D\uDE42", lines.get(2).text());
    assertFalse(lines.get(3).valid());
    assertEquals(4, lines.get(3).number());
    assertTrue(lines.get(3).utf8Error().contains("malformed UTF-8 at byte 4"), lines.get(3).utf8Error());
    assertEquals("last", lines.get(4).text());
  }

  @Test
  void readsGzip() throws Exception {
    Path f = tmp.resolve("a.jsonl.gz");
    try (GZIPOutputStream out = new GZIPOutputStream(Files.newOutputStream(f))) {
      out.write("one\ntwo\n".getBytes(StandardCharsets.UTF_8));
    }
    assertEquals(List.of("one", "two"), read(f).stream().map(Utf8Lines.Line::text).toList());
  }

  @Test
  void rejectsOverlongAndSurrogateEncodings() {
    var strict = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT);
    assertFalse(Utf8Lines.decode(1, new byte[] {(byte) 0xC0, (byte) 0xAF}, 0, 2, strict).valid(), "overlong '/'");
    assertFalse(Utf8Lines.decode(1, new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, 0, 3, strict).valid(), "UTF-16 surrogate");
  }

  static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) n += p.length;
    byte[] out = new byte[n];
    int o = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, out, o, p.length);
      o += p.length;
    }
    return out;
  }
}
