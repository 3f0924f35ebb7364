package dev.sparkinfer.jobs.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Corpora for tests: deterministic texts of varied length, written as JSONL (bytes, so bad UTF-8 can be planted). */
public final class TestCorpus {
  private TestCorpus() {}

  private static final String[] WORDS = ("the a river bank account model spark batch token vector paris london tokyo "
      + "mountain quickly slowly green seven coffee théâtre naïve straße 東京 données 🙂 über café science music "
      + "language embedding inference kernel device memory partition window sorted padding").split(" ");

  /** A text of 1 to 60 words (some longer than the fake model's 30-token limit). */
  public static String text(Random rnd) {
    int n = rnd.nextInt(10) == 0 ? 31 + rnd.nextInt(30) : 1 + rnd.nextInt(25);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < n; i++) s.append(i == 0 ? "" : " ").append(WORDS[rnd.nextInt(WORDS.length)]);
    return s.toString();
  }

  /** Good rows: ids {@code doc-0 ...}, texts from {@link #text}. */
  public static List<String[]> rows(int n, long seed) {
    Random rnd = new Random(seed);
    List<String[]> rows = new ArrayList<>(n);
    for (int i = 0; i < n; i++) rows.add(new String[] {"doc-" + i, text(rnd)});
    return rows;
  }

  public static String jsonLine(String id, String text) {
    return "{\"id\": " + quote(id) + ", \"text\": " + (text == null ? "null" : quote(text)) + "}";
  }

  public static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    return b.append('"').toString();
  }

  /** Writes lines; a line given as byte[] is written raw (for invalid UTF-8), a String as UTF-8. */
  public static Path writeLines(Path file, List<?> lines) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      for (Object line : lines) {
        out.write(line instanceof byte[] b ? b : line.toString().getBytes(StandardCharsets.UTF_8));
        out.write('\n');
      }
      Files.createDirectories(file.getParent());
      Files.write(file, out.toByteArray());
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A JSONL line whose text holds bytes that are not UTF-8 (a lone continuation byte and a truncated sequence). */
  public static byte[] invalidUtf8JsonLine(String id) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    byte[] head = ("{\"id\": \"" + id + "\", \"text\": \"caf").getBytes(StandardCharsets.UTF_8);
    b.write(head, 0, head.length);
    b.write(0xC3); // start of a two-byte sequence ...
    b.write(0x28); // ... not followed by a continuation byte
    b.write(0x80); // a lone continuation byte
    byte[] tail = "\"}".getBytes(StandardCharsets.UTF_8);
    b.write(tail, 0, tail.length);
    return b.toByteArray();
  }
}
