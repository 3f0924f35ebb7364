package dev.sparkinfer.jobs.write;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.sparkinfer.jobs.run.PartitionStats;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * What one committed shard holds: {@code <output>/_manifest/shard-NNNNN.json}. Its presence is the shard's commit: it
 * is renamed into place after the shard's data file and rejects file, so a shard with a manifest is complete, and a
 * shard without one is computed again by {@code --resume} (its files, if a crash left any, are replaced). The job's
 * {@code _SUMMARY.json} is the sum of the manifests, so a resumed job reports the rows of every shard, including those
 * an earlier run committed.
 *
 * @param shard     the shard number (a stable function of the row id: {@link ShardWriter#shardOf})
 * @param written   rows in the shard's data file
 * @param dropped   rows a filter left out on purpose (clip-filter)
 * @param rejected  rows in the shard's rejects file
 * @param tally     the job's own per-shard counts (histogram bins, label wins), summed over shards; may be empty
 * @param dataFile  the data file's name in the output folder; null when the shard wrote no row
 * @param rejectsFile the rejects file's name in {@code _rejects/}; null when the shard rejected no row
 * @param model     the model that ran (null when no row reached a model)
 * @param device    the device every batch of the shard ran on (null when no row reached a model)
 * @param arrowSchema the task's output Arrow schema as JSON (null when no row reached a model)
 * @param attempt   Spark's task attempt id that committed it (for the record)
 */
public record ShardManifest(int shard, long written, long dropped, long rejected, Map<String, Long> rejectedByStage,
    Map<String, Long> rejectedByReason, long[] tally, String dataFile, String rejectsFile, String model, String device,
    String arrowSchema, long attempt) implements Serializable {

  public static final String DIR = "_manifest";
  public static final String JOB_FILE = "job.json";
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public long inputRows() { return written + dropped + rejected; }

  public static Path dir(Path output) { return new Path(output, DIR); }

  public static Path file(Path output, int shard) { return new Path(dir(output), String.format("shard-%05d.json", shard)); }

  /** The shard's counts as partition stats (merged on the driver for the summary). */
  public PartitionStats stats() {
    PartitionStats s = new PartitionStats();
    s.written = written;
    s.rejected = rejected;
    s.rejectedByStage.putAll(rejectedByStage);
    s.rejectedByReason.putAll(rejectedByReason);
    return s;
  }

  public String toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("shard", shard);
    m.put("written", written);
    m.put("dropped", dropped);
    m.put("rejected", rejected);
    m.put("rejected_by_stage", rejectedByStage);
    m.put("rejected_by_reason", rejectedByReason);
    m.put("tally", tally);
    m.put("data_file", dataFile);
    m.put("rejects_file", rejectsFile);
    m.put("model", model);
    m.put("device", device);
    m.put("arrow_schema", arrowSchema);
    m.put("attempt", attempt);
    try {
      return JSON.writeValueAsString(m);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static ShardManifest fromJson(String json) throws IOException {
    JsonNode n = JSON.readTree(json);
    long[] tally = new long[n.path("tally").size()];
    for (int i = 0; i < tally.length; i++) tally[i] = n.path("tally").get(i).asLong();
    return new ShardManifest(n.path("shard").asInt(), n.path("written").asLong(), n.path("dropped").asLong(),
        n.path("rejected").asLong(), counts(n.path("rejected_by_stage")), counts(n.path("rejected_by_reason")), tally,
        text(n, "data_file"), text(n, "rejects_file"), text(n, "model"), text(n, "device"), text(n, "arrow_schema"),
        n.path("attempt").asLong());
  }

  private static Map<String, Long> counts(JsonNode n) {
    Map<String, Long> m = new TreeMap<>();
    n.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().asLong()));
    return m;
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  /** Every committed shard's manifest in the output folder, by shard number. */
  public static Map<Integer, ShardManifest> readAll(Path output, Configuration conf) {
    Map<Integer, ShardManifest> all = new TreeMap<>();
    try {
      FileSystem fs = output.getFileSystem(conf);
      FileStatus[] files;
      try {
        files = fs.listStatus(dir(output), p -> p.getName().startsWith("shard-") && p.getName().endsWith(".json"));
      } catch (FileNotFoundException e) {
        return all;
      }
      for (FileStatus f : files) {
        ShardManifest m = fromJson(read(fs, f.getPath()));
        all.put(m.shard(), m);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the shard manifests in " + dir(output) + ": " + e.getMessage(), e);
    }
    return all;
  }

  static String read(FileSystem fs, Path file) throws IOException {
    try (InputStream in = fs.open(file)) {
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  static void write(FileSystem fs, Path file, String text) throws IOException {
    try (OutputStream out = fs.create(file, true)) {
      out.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
  }

  /** Sums tallies of equal length (a shard that saw no row may have an empty one). */
  public static long[] sumTallies(List<long[]> tallies, int size) {
    long[] sum = new long[size];
    for (long[] t : tallies) {
      if (t.length == 0) continue;
      if (t.length != size) throw new IllegalStateException("a shard's tally has " + t.length + " counts, not " + size);
      for (int i = 0; i < size; i++) sum[i] += t[i];
    }
    return sum;
  }

  /** The tallies of these manifests. */
  public static List<long[]> tallies(Iterable<ShardManifest> manifests) {
    List<long[]> l = new ArrayList<>();
    for (ShardManifest m : manifests) l.add(m.tally());
    return l;
  }
}
