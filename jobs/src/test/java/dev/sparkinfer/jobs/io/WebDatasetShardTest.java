package dev.sparkinfer.jobs.io;

import static org.junit.jupiter.api.Assertions.*;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WebDatasetShardTest {
  @TempDir Path tmp;

  /** A tar member: a file with bytes, or a directory (bytes null). */
  record Member(String name, byte[] bytes) {
    static Member dir(String name) { return new Member(name, null); }
  }

  static Member file(String name, String text) { return new Member(name, text.getBytes(StandardCharsets.UTF_8)); }

  static Member file(String name, byte[] bytes) { return new Member(name, bytes); }

  static byte[] png(int width, int height, int rgb) throws Exception {
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) for (int x = 0; x < width; x++) img.setRGB(x, y, rgb + x * 7 + y * 13);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertTrue(ImageIO.write(img, "png", out));
    return out.toByteArray();
  }

  /** img2dataset's json for a sample (Python's json.dumps(meta, indent=4): NaN allowed, non-ASCII escaped). */
  static String meta(String key, String caption, int width, int height) {
    return "{\n    \"url\": \"https://example.com/img/" + key + ".png\",\n    \"caption\": " + (caption == null ? "null" : "\"" + caption + "\"")
        + ",\n    \"key\": \"" + key + "\",\n    \"status\": \"success\",\n    \"error_message\": null,\n    \"width\": " + width
        + ",\n    \"height\": " + height + ",\n    \"original_width\": 640,\n    \"similarity\": NaN,\n    \"aesthetic\": 5.250,\n"
        + "    \"exif\": {\"Image Make\": \"Canon\",  \"sizes\": [1, 2]}\n}";
  }

  Path tar(String name, List<Member> members) throws Exception {
    Path f = tmp.resolve(name);
    try (OutputStream raw = Files.newOutputStream(f); TarArchiveOutputStream out = new TarArchiveOutputStream(raw)) {
      out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (Member m : members) {
        TarArchiveEntry e = new TarArchiveEntry(m.name() + (m.bytes() == null ? "/" : ""));
        if (m.bytes() != null) e.setSize(m.bytes().length);
        out.putArchiveEntry(e);
        if (m.bytes() != null) out.write(m.bytes());
        out.closeArchiveEntry();
      }
    }
    return f;
  }

  static List<WebDatasetShard.Sample> read(Path f) throws Exception { return read(f, WebDatasetShard.DEFAULT_MAX_MEMBER_BYTES); }

  static List<WebDatasetShard.Sample> read(Path f, long maxMember) throws Exception {
    List<WebDatasetShard.Sample> out = new ArrayList<>();
    try (WebDatasetShard shard = WebDatasetShard.open(new org.apache.hadoop.fs.Path(f.toUri()), new Configuration(), maxMember)) {
      shard.forEachRemaining(out::add);
      assertFalse(shard.hasNext());
    }
    return out;
  }

  /** Three img2dataset samples (members in webdataset TarWriter's order: sorted by extension). */
  List<Member> goodSamples() throws Exception {
    List<Member> m = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      String key = String.format("%09d", i);
      m.add(file(key + ".jpg", png(2 + i, 3, 0x102030 * i)));
      m.add(file(key + ".json", meta(key, "caption in json " + i, 2 + i, 3)));
      m.add(file(key + ".txt", "a photo number " + i + " \u00e9\u6771"));
    }
    return m;
  }

  @Test
  void readsImg2datasetSamples() throws Exception {
    List<Member> members = goodSamples();
    List<WebDatasetShard.Sample> s = read(tar("00000.tar", members));
    assertEquals(3, s.size());
    for (int i = 0; i < 3; i++) {
      WebDatasetShard.Sample x = s.get(i);
      assertNull(x.problem(), x.problem());
      assertTrue(x.ok());
      assertEquals(String.format("%09d", i + 1), x.key());
      assertEquals("jpg", x.imageExt());
      assertArrayEquals(members.get(3 * i).bytes(), x.image());
      BufferedImage decoded = ImageIO.read(new java.io.ByteArrayInputStream(x.image()));
      assertEquals(3 + i, decoded.getWidth());
      assertEquals("a photo number " + (i + 1) + " \u00e9\u6771", x.caption(), "the .txt wins over the json's caption");
    }
    Map<String, String> j = s.get(1).json();
    assertEquals("https://example.com/img/000000002.png", j.get("url"), "a string as its plain value");
    assertEquals("000000002", j.get("key"));
    assertEquals("success", j.get("status"));
    assertEquals("4", j.get("width"));
    assertEquals("3", j.get("height"));
    assertEquals("640", j.get("original_width"));
    assertEquals("null", j.get("error_message"));
    assertEquals("NaN", j.get("similarity"), "Python's json.dumps writes NaN");
    assertEquals("5.250", j.get("aesthetic"), "numbers as written");
    assertEquals("{\"Image Make\":\"Canon\",\"sizes\":[1,2]}", j.get("exif"), "nested values as compact JSON");
    assertEquals(List.of("url", "caption", "key", "status", "error_message", "width", "height", "original_width", "similarity",
        "aesthetic", "exif"), List.copyOf(j.keySet()), "fields in the json's order");
  }

  @Test
  void captionFromJsonWhenNoTxtAndNoneWhenNeither() throws Exception {
    List<WebDatasetShard.Sample> s = read(tar("00001.tar", List.of(
        file("a.png", png(2, 2, 0)), file("a.json", meta("a", "from json", 2, 2)),
        file("b.webp", new byte[] {1, 2, 3}), file("b.json", meta("b", null, 2, 2)),
        file("c.jpeg", new byte[] {4}), file("c.json", "{\"caption\": 42}"),
        file("d.gif", new byte[] {5}))));
    assertEquals(List.of("a", "b", "c", "d"), s.stream().map(WebDatasetShard.Sample::key).toList());
    assertTrue(s.stream().allMatch(WebDatasetShard.Sample::ok), s.toString());
    assertEquals("from json", s.get(0).caption());
    assertNull(s.get(1).caption(), "json caption null");
    assertNull(s.get(2).caption(), "a number is no caption");
    assertEquals("42", s.get(2).json().get("caption"));
    assertNull(s.get(3).caption());
    assertEquals(Map.of(), s.get(3).json(), "no json, empty map");
    assertEquals(List.of("png", "webp", "jpeg", "gif"), s.stream().map(WebDatasetShard.Sample::imageExt).toList());
  }

  @Test
  void groupsAsWebdatasetDoes() throws Exception {
    byte[] img = png(2, 2, 0x00ff00);
    List<WebDatasetShard.Sample> s = read(tar("00002.tar", List.of(
        Member.dir("dir.v1"),
        file("dir.v1/000001.jpg", img), file("dir.v1/000001.txt", "in a dotted dir"),
        file("dir.v1/000001.seg.PNG", new byte[] {9}), // extension "seg.png": split at the base name's first dot, not an image
        file("__index__", "meta"), file("__meta__/x.json", "{}"), // webdataset's metadata names
        file("README", "no extension"), file("dir.v1/._000002.jpg", new byte[] {1}), file(".hidden.txt", "x"),
        file("000003.JPG", img), file("000003.TXT", "upper-case extensions"),
        file("./000004.jpg", img), file("000004.txt", "another key: ./000004 is not 000004"),
        file("000005.jpg", img), file("000006.jpg", img), file("000005.txt", "a key that comes back"))));
    assertEquals(List.of("dir.v1/000001", "000003", "./000004", "000004", "000005", "000006", "000005"),
        s.stream().map(WebDatasetShard.Sample::key).toList());
    assertEquals("in a dotted dir", s.get(0).caption());
    assertEquals("jpg", s.get(0).imageExt(), "seg.png is not an image");
    assertNull(s.get(0).problem());
    assertEquals("jpg", s.get(1).imageExt(), "extension lower-cased");
    assertEquals("upper-case extensions", s.get(1).caption());
    assertTrue(s.get(3).problem().startsWith("no image in sample (members: txt)"), s.get(3).problem());
    assertNull(s.get(4).problem(), "a sample without caption is fine here");
    assertNull(s.get(4).caption());
    assertTrue(s.get(6).problem().startsWith("no image in sample"), "the repeated key is a second sample");
    assertEquals("a key that comes back", s.get(6).caption());
  }

  @Test
  void keyAndExtensionRule() {
    assertArrayEquals(new String[] {"dir.v1/000001", "jpg"}, WebDatasetShard.keyAndExtension("dir.v1/000001.jpg"));
    assertArrayEquals(new String[] {"a/b", "c.d"}, WebDatasetShard.keyAndExtension("a/b.C.D"));
    assertArrayEquals(new String[] {"x", ""}, WebDatasetShard.keyAndExtension("x."));
    assertArrayEquals(new String[] {"__x", "jpg"}, WebDatasetShard.keyAndExtension("__x.jpg"), "only __name__ is metadata");
    assertArrayEquals(new String[] {"__key__", "jpg"}, WebDatasetShard.keyAndExtension("__key__.jpg"));
    assertNull(WebDatasetShard.keyAndExtension("x.y/z"));
    assertNull(WebDatasetShard.keyAndExtension("__index__"));
    assertNull(WebDatasetShard.keyAndExtension("__meta__/a.json"));
    assertNull(WebDatasetShard.keyAndExtension("d/.a.jpg"));
  }

  @Test
  void problemsInSamples() throws Exception {
    byte[] img = png(2, 2, 0);
    List<WebDatasetShard.Sample> s = read(tar("00003.tar", List.of(
        file("t.txt", "caption only"),
        file("two.jpg", img), file("two.png", img), file("two.txt", "two images"),
        file("bad.jpg", img), file("bad.txt", new byte[] {'o', 'k', (byte) 0xC3, (byte) 0x28}),
        file("js.jpg", img), file("js.json", "{\"url\": \"u\", \"width\": }"), file("js.txt", "kept"),
        file("arr.jpg", img), file("arr.json", "[1, 2]"),
        file("nonutf.jpg", img), file("nonutf.json", new byte[] {'{', '"', (byte) 0xFF, '"', ':', '1', '}'}),
        file("dup.jpg", img), file("dup.jpg", img),
        file("good.jpg", img), file("good.txt", "fine"))));
    assertEquals(List.of("t", "two", "bad", "js", "arr", "nonutf", "dup", "good"), s.stream().map(WebDatasetShard.Sample::key).toList());
    assertEquals("no image in sample (members: txt)", s.get(0).problem());
    assertEquals("caption only", s.get(0).caption());
    assertEquals("two images in sample (jpg, png)", s.get(1).problem());
    assertTrue(s.get(2).problem().startsWith("caption not UTF-8: bad.txt has malformed UTF-8 at byte 2"), s.get(2).problem());
    assertNull(s.get(2).caption());
    assertTrue(s.get(3).problem().startsWith("json unreadable: js.json: "), s.get(3).problem());
    assertEquals(Map.of(), s.get(3).json());
    assertEquals("kept", s.get(3).caption());
    assertEquals("json unreadable: arr.json: not a JSON object (starts with [)", s.get(4).problem());
    assertTrue(s.get(5).problem().startsWith("json unreadable: nonutf.json: not UTF-8"), s.get(5).problem());
    assertEquals("duplicate member: dup.jpg appears twice in the sample", s.get(6).problem());
    assertNull(s.get(7).problem());
  }

  @Test
  void memberTooLargeIsSkippedUnread() throws Exception {
    byte[] big = new byte[5000];
    Arrays.fill(big, (byte) 7);
    List<WebDatasetShard.Sample> s = read(tar("00004.tar", List.of(
        file("a.jpg", big), file("a.txt", "big image"),
        file("b.jpg", new byte[100]), file("b.txt", "x".repeat(2000)),
        file("c.jpg", new byte[100]), file("c.npy", big), file("c.txt", "an unused member is never read, whatever its size"))), 1024);
    assertEquals(3, s.size());
    assertEquals("member too large: a.jpg is 5000 bytes, over the limit of 1024 bytes a member", s.get(0).problem());
    assertNull(s.get(0).image());
    assertEquals("big image", s.get(0).caption());
    assertTrue(s.get(1).problem().startsWith("member too large: b.txt is 2000 bytes"), s.get(1).problem());
    assertNull(s.get(2).problem());
    assertEquals(100, s.get(2).image().length);
  }

  @Test
  void truncatedInsideAMemberGivesWhatCameBeforeThenOneProblem() throws Exception {
    Path whole = tar("whole.tar", goodSamples());
    byte[] bytes = Files.readAllBytes(whole);
    // cut in the middle of the second sample's image: its header is at 3 * 512 + padded sizes of sample 1
    long secondImageData = secondSampleImageDataOffset(whole);
    Path cut = tmp.resolve("00005.tar");
    Files.write(cut, Arrays.copyOf(bytes, (int) secondImageData + 20));
    List<WebDatasetShard.Sample> s = read(cut);
    assertEquals(2, s.size(), s.toString());
    assertNull(s.get(0).problem());
    assertEquals("000000001", s.get(0).key());
    assertEquals("000000002", s.get(1).key(), "the sample in progress");
    assertTrue(s.get(1).problem().startsWith("truncated tar: the file (" + (secondImageData + 20) + " bytes) ends inside member "
        + "'000000002.jpg' (entry 4, "), s.get(1).problem());
    assertNull(s.get(1).image());
  }

  @Test
  void truncatedInsideAMemberSkippedUnread() throws Exception {
    byte[] big = new byte[5000];
    Arrays.fill(big, (byte) 7);
    Path whole = tar("whole.tar", List.of(file("a.jpg", new byte[10]), file("a.txt", "ok"),
        file("b.jpg", new byte[10]), file("b.npy", big), file("b.txt", "never reached")));
    // b.npy's data starts after 5 headers and a.jpg, a.txt, b.jpg padded to 512 each: cut 1000 bytes into it
    Path cut = tmp.resolve("00016.tar");
    Files.write(cut, Arrays.copyOf(Files.readAllBytes(whole), 4 * 512 + 3 * 512 + 1000));
    List<WebDatasetShard.Sample> s = read(cut);
    assertEquals(List.of("a", "b"), s.stream().map(WebDatasetShard.Sample::key).toList());
    assertNull(s.get(0).problem());
    assertTrue(s.get(1).problem().startsWith("truncated tar: the file (4584 bytes) ends inside entry 4"), s.get(1).problem());

    // the same cut with a limit that makes b.jpg too large: skipped unread too, then the file ends in b.npy
    s = read(cut, 5);
    assertEquals(List.of("a", "b"), s.stream().map(WebDatasetShard.Sample::key).toList());
    assertTrue(s.get(1).problem().startsWith("truncated tar: the file (4584 bytes) ends inside entry 4"), s.get(1).problem());
  }

  @Test
  void truncatedBetweenMembersOrInsideAHeader() throws Exception {
    Path whole = tar("whole.tar", goodSamples());
    byte[] bytes = Files.readAllBytes(whole);
    long boundary = secondSampleImageDataOffset(whole) - 512; // where sample 2's first header starts
    Path atBoundary = tmp.resolve("00006.tar");
    Files.write(atBoundary, Arrays.copyOf(bytes, (int) boundary));
    List<WebDatasetShard.Sample> s = read(atBoundary);
    assertEquals(1, s.size(), s.toString());
    assertEquals("000000001", s.get(0).key(), "complete, but nothing says so: it is the damaged one");
    assertEquals("truncated tar: the file (" + boundary + " bytes) ends after entry 3 without the end-of-archive marker",
        s.get(0).problem());

    Path inHeader = tmp.resolve("00007.tar");
    Files.write(inHeader, Arrays.copyOf(bytes, (int) boundary + 100));
    s = read(inHeader);
    assertEquals(1, s.size());
    assertTrue(s.get(0).problem().startsWith("truncated tar: ") && s.get(0).problem().contains("100 bytes of a header"),
        s.get(0).problem());

    // the whole tar but its end-of-archive marker: the last sample cannot be known complete
    long lastData = bytes.length;
    while (lastData > 0 && bytes[(int) lastData - 1] == 0) lastData--;
    Path noMarker = tmp.resolve("00008.tar");
    Files.write(noMarker, Arrays.copyOf(bytes, (int) ((lastData + 511) / 512 * 512)));
    s = read(noMarker);
    assertEquals(3, s.size());
    assertNull(s.get(1).problem());
    assertTrue(s.get(2).problem().startsWith("truncated tar: ") && s.get(2).problem().contains("without the end-of-archive marker"),
        s.get(2).problem());
  }

  @Test
  void corruptHeaderStopsTheShard() throws Exception {
    Path whole = tar("whole.tar", goodSamples());
    byte[] bytes = Files.readAllBytes(whole);
    int header = (int) secondSampleImageDataOffset(whole) - 512;
    bytes[header + 3] ^= 0x55; // a byte of the name: the checksum no longer matches
    Path f = tmp.resolve("00009.tar");
    Files.write(f, bytes);
    List<WebDatasetShard.Sample> s = read(f);
    assertEquals(1, s.size(), s.toString());
    assertEquals("000000001", s.get(0).key());
    assertTrue(s.get(0).problem().startsWith("corrupt tar header: entry 4 at byte " + header), s.get(0).problem());
  }

  @Test
  void garbageEmptyAndMemberlessFiles() throws Exception {
    Path garbage = tmp.resolve("00010.tar");
    Files.writeString(garbage, "this is not a tar file, only text that goes on for a while.\n".repeat(40));
    List<WebDatasetShard.Sample> s = read(garbage);
    assertEquals(1, s.size());
    assertEquals(garbage.toUri().getPath() + ":1", s.get(0).key());
    assertTrue(s.get(0).problem().startsWith("corrupt tar header: entry 1 at byte 0"), s.get(0).problem());

    Path small = tmp.resolve("00011.tar");
    Files.writeString(small, "<html>404</html>");
    s = read(small);
    assertEquals(1, s.size());
    assertEquals(small.toUri().getPath() + ":1", s.get(0).key());
    assertEquals("truncated tar: the file is 16 bytes, shorter than one 512-byte tar header", s.get(0).problem());

    Path empty = tmp.resolve("00012.tar");
    Files.write(empty, new byte[0]);
    s = read(empty);
    assertEquals(1, s.size());
    assertEquals(empty.toUri().getPath() + ":1", s.get(0).key());
    assertTrue(s.get(0).problem().startsWith("truncated tar: the file is empty"), s.get(0).problem());

    assertEquals(List.of(), read(tar("00013.tar", List.of())), "a tar with no members holds no samples");
    assertEquals(List.of(), read(tar("00014.tar", List.of(Member.dir("d"), file("README", "x")))), "nor one of skipped entries");
  }

  @Test
  void readsLazilyAndClosesEarly() throws Exception {
    Path f = tar("00015.tar", goodSamples());
    try (WebDatasetShard shard = WebDatasetShard.open(new org.apache.hadoop.fs.Path(f.toUri()), new Configuration())) {
      assertTrue(shard.hasNext());
      assertTrue(shard.hasNext(), "hasNext twice reads nothing more");
      assertEquals("000000001", shard.next().key());
      shard.close();
      assertFalse(shard.hasNext(), "closed: no more samples, no error");
      assertThrows(java.util.NoSuchElementException.class, shard::next);
    }
  }

  /** Where the data of the 4th member (sample 2's image) starts, from the tar's own headers. */
  static long secondSampleImageDataOffset(Path tar) throws Exception {
    try (var in = new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(Files.newInputStream(tar))) {
      for (int i = 0; i < 4; i++) assertNotNull(in.getNextEntry());
      return in.getBytesRead();
    }
  }
}
