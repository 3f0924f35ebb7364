package dev.sparkinfer.jobs.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sparkinfer.jobs.Main;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * More than 1,000 bad images and captions mixed with good pairs through clip-score on local[2]: zero-byte files,
 * truncated JPEGs and PNGs, HTML saved as .jpg, random bytes, missing paths, folders, decompression bombs (a PNG
 * header saying 30,000 x 30,000), null images, empty and null captions, captions over 77 tokens. The job succeeds;
 * every bad row is in the rejects with its stage, a reason and a detail; long captions are scored and flagged;
 * input = written + rejected, and the summary counts rejects by reason.
 */
class ClipBadImagesTest {
  @TempDir Path tmp;

  /** A PNG that is only a header (IHDR) saying w x h, then IEND: a decoder that trusts it would allocate w*h*3 bytes. */
  static byte[] bombPng(int w, int h) throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    DataOutputStream d = new DataOutputStream(b);
    d.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
    ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
    DataOutputStream i = new DataOutputStream(ihdr);
    i.writeInt(w);
    i.writeInt(h);
    i.write(new byte[] {8, 2, 0, 0, 0}); // 8-bit RGB
    chunk(d, "IHDR", ihdr.toByteArray());
    chunk(d, "IDAT", new byte[] {0x78, (byte) 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
    chunk(d, "IEND", new byte[0]);
    return b.toByteArray();
  }

  static void chunk(DataOutputStream d, String type, byte[] data) throws Exception {
    d.writeInt(data.length);
    byte[] t = type.getBytes(StandardCharsets.US_ASCII);
    d.write(t);
    d.write(data);
    CRC32 crc = new CRC32();
    crc.update(t);
    crc.update(data);
    d.writeInt((int) crc.getValue());
  }

  @Test
  void moreThanAThousandBadImagesAreRejectedWithReasonsAndTheJobSucceeds() throws Exception {
    ClipJobsTest.fixture();
    Path images = ClipJobsTest.images;
    Path dir = Files.createDirectories(tmp.resolve("imgs"));
    byte[] jpeg = Files.readAllBytes(images.resolve("gradient.jpg"));
    byte[] png = Files.readAllBytes(images.resolve("small.png"));
    Random rnd = new Random(7);
    List<Object> lines = new ArrayList<>();
    Map<String, String> expectStage = new HashMap<>(); // id -> stage of its reject
    Map<String, String> expectReason = new HashMap<>(); // id -> a word its reason must hold
    String[] good = {"gradient.jpg", "small.png", "palette.gif", "gray.png"};
    int n = 0;
    for (int k = 0; k < 200; k++) lines.add(line("good" + k, images.resolve(good[k % 4]).toString(), "a photo number " + k));
    String longCaption = "a very long caption " + "with many many words ".repeat(40);
    for (int k = 0; k < 50; k++) lines.add(line("long" + k, images.resolve(good[k % 4]).toString(), longCaption + k));
    String[] kinds = {"zero", "truncjpeg", "truncpng", "html", "random", "missing", "bomb"};
    for (String kind : kinds) {
      for (int k = 0; k < 120; k++) {
        String id = kind + k;
        Path f = dir.resolve(id + (kind.contains("png") || kind.equals("bomb") || kind.equals("random") ? ".png" : ".jpg"));
        switch (kind) {
          case "zero" -> Files.write(f, new byte[0]);
          case "truncjpeg" -> Files.write(f, java.util.Arrays.copyOf(jpeg, 200 + rnd.nextInt(jpeg.length / 2)));
          case "truncpng" -> Files.write(f, java.util.Arrays.copyOf(png, 40 + rnd.nextInt(png.length / 2)));
          case "html" -> Files.write(f, ("<html><body>404 Not Found " + k + "</body></html>").getBytes(StandardCharsets.UTF_8));
          case "random" -> {
            byte[] b = new byte[1 + rnd.nextInt(4000)];
            rnd.nextBytes(b);
            Files.write(f, b);
          }
          case "missing" -> { }
          case "bomb" -> Files.write(f, bombPng(30_000, 30_000));
          default -> throw new IllegalStateException(kind);
        }
        lines.add(line(id, f.toString(), "caption " + k));
        expectStage.put(id, "image");
        if (kind.equals("missing")) expectReason.put(id, "missing");
        if (kind.equals("bomb")) expectReason.put(id, "pixel");
      }
    }
    for (int k = 0; k < 20; k++) {
      lines.add(line("folder" + k, dir.toString(), "a folder"));
      expectStage.put("folder" + k, "image");
    }
    for (int k = 0; k < 40; k++) {
      lines.add("{\"id\": \"noimage" + k + "\", \"image\": null, \"caption\": \"c\"}");
      expectStage.put("noimage" + k, "image");
    }
    for (int k = 0; k < 60; k++) {
      lines.add(line("emptycap" + k, images.resolve("small.png").toString(), k % 2 == 0 ? "" : "   "));
      expectStage.put("emptycap" + k, "validate");
      lines.add("{\"id\": \"nullcap" + k + "\", \"image\": " + TestCorpus.quote(images.resolve("small.png").toString()) + ", \"caption\": null}");
      expectStage.put("nullcap" + k, "validate");
    }
    java.util.Collections.shuffle(lines, rnd);
    Path in = TestCorpus.writeLines(tmp.resolve("pairs.jsonl"), lines);
    Path out = tmp.resolve("scores");
    StringWriter o = new StringWriter(), e = new StringWriter();
    int status = Main.execute(new PrintWriter(o, true), new PrintWriter(e, true), "clip-score", "--model", ClipJobsTest.fixture.toString(),
        "--input", in.toString(), "--output", out.toString(), "--device", "cpu", "--master", "local[2]", "--batch-size", "64");
    assertEquals(0, status, e.toString());
    int bad = expectStage.size();
    assertTrue(bad >= 1000, "bad rows: " + bad);

    JsonNode counts = Outputs.summary(out).path("counts");
    assertEquals(lines.size(), counts.path("input").asLong());
    assertEquals(250, counts.path("written").asLong(), counts.toString());
    assertEquals(bad, counts.path("rejected").asLong(), counts.toString());
    assertTrue(counts.path("reconciled").asBoolean());

    List<Row> rejects = Outputs.sparkRows(TestSpark.session(), out.resolve("_rejects"), "parquet");
    assertEquals(bad, rejects.size());
    for (Row r : rejects) {
      String id = r.getString(0);
      assertEquals(expectStage.get(id), r.getString(1), id + ": " + r);
      assertFalse(r.isNullAt(2) || r.getString(2).isBlank(), id + " has no reason");
      assertFalse(r.isNullAt(3) || r.getString(3).isBlank(), id + " has no detail");
      if (expectReason.containsKey(id)) assertTrue(r.getString(2).contains(expectReason.get(id)), id + ": " + r.getString(2));
    }
    long byReason = 0;
    for (var en : counts.path("rejected_by_reason").properties()) byReason += en.getValue().asLong();
    assertEquals(bad, byReason);

    Map<String, Row> written = ClipJobsTest.byId(Outputs.sparkRows(TestSpark.session(), out, "parquet"));
    for (int k = 0; k < 50; k++) assertTrue(written.get("long" + k).getBoolean(written.get("long" + k).fieldIndex("caption_truncated")));
    for (int k = 0; k < 200; k++) assertFalse(written.get("good" + k).getBoolean(written.get("good" + k).fieldIndex("caption_truncated")));
  }

  static String line(String id, String image, String caption) {
    return "{\"id\": \"" + id + "\", \"image\": " + TestCorpus.quote(image) + ", \"caption\": " + TestCorpus.quote(caption) + "}";
  }
}
