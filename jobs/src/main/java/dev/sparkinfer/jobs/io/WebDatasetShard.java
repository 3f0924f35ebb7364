package dev.sparkinfer.jobs.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The samples of one WebDataset tar shard as img2dataset writes them ({@code 00000.tar}: per sample {@code KEY.jpg},
 * {@code KEY.json}, {@code KEY.txt}, consecutive), read in one streaming pass through the Hadoop FileSystem API
 * (hdfs://, s3a://, file://), holding at most one sample in memory.
 *
 * <p>Grouping follows the webdataset library ({@code tariterators.base_plus_ext} and {@code group_by_keys}): a member's
 * key is its name up to the first '.' of its base name (the part after the last '/'; directories stay in the key, dots
 * in them included: {@code dir.v1/000001.jpg} is key {@code dir.v1/000001}, extension {@code jpg}); the extension is
 * the rest, lower-cased ({@code 000001.seg.PNG} is extension {@code seg.png}); a sample is a run of consecutive members
 * with the same key. Skipped, as webdataset does: entries that are not regular files (directories, links), names
 * without a '.' in the base name, and names whose first path component is {@code __name__} (webdataset's metadata,
 * e.g. {@code __index__}). Also skipped: base names starting with '.' (macOS {@code ._000001.jpg} and the like;
 * webdataset drops them at the top level and would give a nonsense key inside a directory).
 *
 * <p>Keys are meant to be unique in a shard, but nothing here remembers past keys (that would cost memory per
 * sample): a key that comes back after other keys is a second sample with the same key, as in webdataset, and the job
 * sees a duplicate id. Two members with the same extension in one run (webdataset raises on that) are a problem.
 *
 * <p>Bad input never throws out of the iterator: a sample that cannot be used carries a {@link Sample#problem()}. When
 * the tar itself is damaged the samples before the damage come out as read, then one last sample whose problem starts
 * with "truncated tar:" (the file ends inside a member or header, or without the end-of-archive marker), "corrupt tar
 * header:" (a header that does not parse or whose checksum is wrong) or "unreadable tar:" (any other read error); its
 * key is the key of the sample in progress (which cannot be known complete, so it is never passed as good, even when
 * the cut fell just after its last member), or {@code <file>:<entry>} when no sample was in progress, entries numbered
 * from 1 as {@code tar tf} lists them. A zero-byte file is one such sample ("truncated tar: the file is empty"): a
 * tar writer always writes the end-of-archive marker, so an empty file is a write that did not finish. A valid tar
 * with no members gives no samples.
 */
public final class WebDatasetShard implements Iterator<WebDatasetShard.Sample>, Closeable {
  /** The largest member read into memory unless told otherwise: bigger ones are skipped as "member too large". */
  public static final long DEFAULT_MAX_MEMBER_BYTES = 64L << 20;

  /** The extensions taken as the sample's image (img2dataset writes one of them per sample). */
  public static final Set<String> IMAGE_EXTENSIONS = Set.of("jpg", "jpeg", "png", "webp", "gif", "bmp");

  private static final int RECORD = 512; // a tar header, and the unit member data is padded to

  /**
   * One sample: its key; the image bytes and their extension (null when the sample has none); the caption (from
   * KEY.txt, else the json's "caption" string, else null); the json object's fields as JSON text per field (a string
   * field as its plain string value, others as their JSON text as written, nested ones compacted; empty when no json);
   * and a problem (null when fine), several joined by "; ".
   */
  public record Sample(String key, String imageExt, byte[] image, String caption, Map<String, String> json, String problem) {
    public boolean ok() { return problem == null; }
  }

  // img2dataset's json is Python's json.dumps, which writes NaN and Infinity for float columns that hold them
  private static final JsonFactory JSON = JsonFactory.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
  private static final ObjectMapper TREES = new ObjectMapper(JSON);

  private final TarArchiveInputStream tar;
  private final String shown;
  private final long fileLength;
  private final long maxMemberBytes;
  private final CharsetDecoder strict = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

  private int entries; // tar entries seen so far, skipped ones included (the number of the last one)
  private long nextHeader; // file offset where the next header should start
  private Group current; // the sample being gathered
  private TarArchiveEntry pending; // a header read whose data is still to be read (it began a new sample)
  private Sample ready;
  private boolean finished;
  private boolean closed;

  private WebDatasetShard(TarArchiveInputStream tar, String shown, long fileLength, long maxMemberBytes) {
    this.tar = tar;
    this.shown = shown;
    this.fileLength = fileLength;
    this.maxMemberBytes = maxMemberBytes;
  }

  public static WebDatasetShard open(Path tar, Configuration conf) throws IOException {
    return open(tar, conf, DEFAULT_MAX_MEMBER_BYTES);
  }

  /** As {@link #open(Path, Configuration)}, reading members of up to {@code maxMemberBytes} (at most 2 GiB - 16). */
  public static WebDatasetShard open(Path tar, Configuration conf, long maxMemberBytes) throws IOException {
    if (maxMemberBytes < 0 || maxMemberBytes > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("maxMemberBytes " + maxMemberBytes + " must be between 0 and " + (Integer.MAX_VALUE - 16)
          + " (a member is read into one byte array)");
    }
    FileSystem fs = tar.getFileSystem(conf);
    long length = fs.getFileStatus(tar).getLen();
    // names as UTF-8 whatever the JVM's default: Python's tarfile writes them so (in pax headers when not ASCII)
    TarArchiveInputStream in = new TarArchiveInputStream(fs.open(tar), StandardCharsets.UTF_8.name());
    return new WebDatasetShard(in, tar.toUri().getPath(), length, maxMemberBytes);
  }

  @Override
  public boolean hasNext() {
    if (ready == null && !finished) ready = advance();
    return ready != null;
  }

  @Override
  public Sample next() {
    if (!hasNext()) throw new NoSuchElementException();
    Sample s = ready;
    ready = null;
    return s;
  }

  /** Reads on until a sample is complete; null at the end. */
  private Sample advance() {
    while (true) {
      if (pending != null) {
        TarArchiveEntry e = pending;
        pending = null;
        Sample damaged = absorb(e);
        if (damaged != null) return damaged;
      }
      TarArchiveEntry e;
      try {
        e = tar.getNextEntry();
      } catch (IOException | RuntimeException x) {
        return damaged(headerProblem(x));
      }
      if (e == null) {
        String cut = missingEndMarker();
        if (cut != null) return damaged(cut);
        return end(current == null ? null : current.finish());
      }
      entries++;
      long dataStart = tar.getBytesRead();
      nextHeader = dataStart + roundUp(Math.max(0, e.getSize()));
      if (!e.isCheckSumOK()) {
        return damaged("corrupt tar header: entry " + entries + " at byte " + (dataStart - RECORD) + " ('" + e.getName()
            + "') fails its header checksum");
      }
      String[] keyExt = keyAndExtension(e);
      if (keyExt == null) continue;
      if (current != null && !current.key.equals(keyExt[0])) {
        Sample done = current.finish();
        current = new Group(keyExt[0]);
        pending = e; // its data is read when the next sample is asked for: one sample in memory at a time
        return done;
      }
      if (current == null) current = new Group(keyExt[0]);
      Sample damaged = absorb(e);
      if (damaged != null) return damaged;
    }
  }

  /**
   * The key and the lower-cased extension of a member, or null when webdataset would skip it (see the class comment).
   */
  static String[] keyAndExtension(TarArchiveEntry e) {
    return e.isFile() ? keyAndExtension(e.getName()) : null;
  }

  static String[] keyAndExtension(String name) {
    int slash = name.indexOf('/');
    String first = slash < 0 ? name : name.substring(0, slash);
    if (first.length() >= 4 && first.startsWith("__") && first.endsWith("__")) return null;
    int baseStart = name.lastIndexOf('/') + 1;
    int dot = name.indexOf('.', baseStart);
    if (dot <= baseStart) return null; // no extension, or a hidden name
    return new String[] {name.substring(0, dot), name.substring(dot + 1).toLowerCase(Locale.ROOT)};
  }

  /** Reads a member of the current sample into it; returns the final damaged sample when the data cannot be read. */
  private Sample absorb(TarArchiveEntry e) {
    String ext = keyAndExtension(e)[1];
    Group g = current;
    if (!g.extensions.add(ext)) {
      g.problems.add("duplicate member: " + e.getName() + " appears twice in the sample");
      return null;
    }
    boolean image = IMAGE_EXTENSIONS.contains(ext);
    if (image) g.imageExts.add(ext);
    if (!image && !ext.equals("txt") && !ext.equals("json")) return null; // not ours: skipped unread
    if (image && g.image != null) return null; // a second image: named in the problem, not kept
    long size = e.getSize();
    if (size > maxMemberBytes) {
      g.problems.add("member too large: " + e.getName() + " is " + size + " bytes, over the limit of " + maxMemberBytes
          + " bytes a member");
      return null;
    }
    byte[] data = new byte[(int) size];
    try {
      int n = tar.readNBytes(data, 0, data.length);
      if (n < data.length) throw new EOFException("member ends after " + n + " of " + size + " bytes");
    } catch (IOException | RuntimeException x) {
      long start = nextHeader - roundUp(size);
      String where = "member '" + e.getName() + "' (entry " + entries + ", " + size + " bytes from byte " + start + ")";
      if (truncation(x) || fileLength < start + size) {
        return damaged("truncated tar: the file (" + fileLength + " bytes) ends inside " + where);
      }
      return damaged("unreadable tar: " + where + ": " + describe(x));
    }
    if (image) {
      g.image = data;
      g.imageExt = ext;
    } else if (ext.equals("txt")) {
      g.txt = data;
    } else {
      g.json = data;
    }
    return null;
  }

  /** Why the next header could not be read. */
  private String headerProblem(Throwable x) {
    int entry = entries + 1;
    if (fileLength < nextHeader || truncation(x)) {
      return entries == 0
          ? "truncated tar: the file (" + fileLength + " bytes) ends inside the first header"
          : "truncated tar: the file (" + fileLength + " bytes) ends inside entry " + entries + " (data up to byte " + nextHeader + ")";
    }
    // commons-compress reports a bad header as a plain IOException (or lets a parse error through); the I/O layers
    // below it throw subclasses (ChecksumException, SocketTimeoutException, ...)
    if (x.getClass() == IOException.class || x instanceof RuntimeException) {
      return "corrupt tar header: entry " + entry + " at byte " + nextHeader + " is not a tar header (" + describe(x) + ")";
    }
    return "unreadable tar: at entry " + entry + " (byte " + nextHeader + "): " + describe(x);
  }

  /**
   * Why the tar ended where it did, when that was not at the end-of-archive marker (a zero record; commons-compress
   * takes a short last record for the end too, so this looks at the file's length); null when it ended well.
   */
  private String missingEndMarker() {
    if (fileLength == 0) return "truncated tar: the file is empty (0 bytes; a tar writer always writes an end-of-archive marker)";
    if (fileLength - nextHeader >= RECORD) return null;
    if (fileLength < nextHeader) {
      return "truncated tar: the file (" + fileLength + " bytes) ends inside entry " + entries + " (its data runs to byte " + nextHeader + ")";
    }
    if (entries == 0) return "truncated tar: the file is " + fileLength + " bytes, shorter than one " + RECORD + "-byte tar header";
    return "truncated tar: the file (" + fileLength + " bytes) ends after entry " + entries + " without the end-of-archive marker"
        + (fileLength > nextHeader ? " (" + (fileLength - nextHeader) + " bytes of a header follow it)" : "");
  }

  /** The last sample of a damaged shard: the one in progress, or one named by file and entry. */
  private Sample damaged(String problem) {
    Group g = current;
    current = null;
    pending = null;
    Sample s = g == null
        ? new Sample(shown + ":" + (entries + 1), null, null, null, Map.of(), problem)
        : new Sample(g.key, null, null, null, Map.of(), problem); // what it holds may be incomplete: none of it is passed on
    return end(s);
  }

  private Sample end(Sample last) {
    finished = true;
    try {
      close();
    } catch (IOException ignored) {
      // everything was read; a failure to release the stream changes no sample
    }
    return last;
  }

  private static boolean truncation(Throwable x) {
    return x instanceof EOFException || String.valueOf(x.getMessage()).toLowerCase(Locale.ROOT).contains("truncated");
  }

  private static String describe(Throwable x) {
    return x.getClass().getSimpleName() + (x.getMessage() == null ? "" : ": " + x.getMessage())
        + (x.getCause() == null || x.getCause().getMessage() == null ? "" : " (" + x.getCause().getMessage() + ")");
  }

  private static long roundUp(long n) { return (n + RECORD - 1) / RECORD * RECORD; }

  /** The members of one sample seen so far (unused members only by extension). */
  private final class Group {
    final String key;
    final Set<String> extensions = new LinkedHashSet<>();
    final Set<String> imageExts = new LinkedHashSet<>();
    final List<String> problems = new ArrayList<>();
    String imageExt;
    byte[] image;
    byte[] txt;
    byte[] json;

    Group(String key) { this.key = key; }

    Sample finish() {
      if (imageExts.isEmpty()) {
        problems.add(0, "no image in sample (members: " + (extensions.isEmpty() ? "none" : String.join(", ", extensions)) + ")");
      } else if (imageExts.size() > 1) {
        problems.add(0, (imageExts.size() == 2 ? "two" : String.valueOf(imageExts.size())) + " images in sample ("
            + String.join(", ", imageExts) + ")");
      }
      JsonFields parsed = JsonFields.NONE;
      if (json != null) {
        try {
          parsed = JsonFields.parse(json, strict);
        } catch (JsonUnreadable x) {
          problems.add("json unreadable: " + key + ".json: " + x.getMessage());
        }
      }
      String caption = parsed.caption();
      if (txt != null) {
        Utf8Lines.Line decoded = Utf8Lines.decode(0, txt, 0, txt.length, strict);
        caption = decoded.text();
        if (decoded.utf8Error() != null) problems.add("caption not UTF-8: " + key + ".txt has " + decoded.utf8Error());
      }
      return new Sample(key, imageExt, image, caption, parsed.fields(), problems.isEmpty() ? null : String.join("; ", problems));
    }
  }

  private static final class JsonUnreadable extends Exception {
    JsonUnreadable(String message) { super(message, null, false, false); }
  }

  /** The top-level fields of a JSON object (strings as their value, the rest as their JSON text) and its caption. */
  private record JsonFields(Map<String, String> fields, String caption) {
    static final JsonFields NONE = new JsonFields(Map.of(), null);

    static JsonFields parse(byte[] json, CharsetDecoder strict) throws JsonUnreadable {
      Utf8Lines.Line decoded = Utf8Lines.decode(0, json, 0, json.length, strict);
      if (decoded.utf8Error() != null) throw new JsonUnreadable("not UTF-8: " + decoded.utf8Error());
      Map<String, String> out = new LinkedHashMap<>();
      String caption = null;
      try (JsonParser p = JSON.createParser(decoded.text())) {
        JsonToken first = p.nextToken();
        if (first != JsonToken.START_OBJECT) {
          throw new JsonUnreadable(first == null ? "empty" : "not a JSON object (starts with " + first.asString() + ")");
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          String value = switch (p.nextToken()) {
            case START_OBJECT, START_ARRAY -> TREES.writeValueAsString(TREES.readTree(p)); // compacted
            default -> p.getText(); // a string's value; numbers as written; true, false, null, NaN
          };
          if (name.equals("caption")) caption = p.currentToken() == JsonToken.VALUE_STRING ? value : null;
          out.put(name, value);
        }
        if (p.nextToken() != null) throw new JsonUnreadable("trailing content after the JSON object");
      } catch (JsonProcessingException x) {
        throw new JsonUnreadable(x.getOriginalMessage() + " (line " + x.getLocation().getLineNr() + ", column "
            + x.getLocation().getColumnNr() + ")");
      } catch (IOException x) {
        throw new JsonUnreadable(x.toString());
      }
      return new JsonFields(Collections.unmodifiableMap(out), caption);
    }
  }

  @Override
  public void close() throws IOException {
    if (closed) return;
    closed = true;
    finished = true;
    tar.close();
  }
}
