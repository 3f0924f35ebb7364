package dev.sparkinfer.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * The {@code _SUMMARY.json} written beside the output when a job finishes: counts (input = written + dropped +
 * rejected, where dropped are rows a filter job left out on purpose), rejects by stage and by reason,
 * wall time, rows/s, model, device, Spark master, and the input folders that were skipped as earlier outputs. It is written last: an output without it is incomplete.
 */
public record JobSummary(
    String job, String input, String inputFormat, int inputFiles, java.util.List<String> inputSkipped, String output, String format,
    long inputRows, long written, long dropped, long rejected, Map<String, Long> rejectedByStage, Map<String, Long> rejectedByReason,
    double wallSeconds, double readSeconds, double runSeconds, double writeSeconds,
    String model, String device, String master, String sparkVersion, int partitions, int batchSize,
    String startedAt, String finishedAt, Map<String, Object> jobSummary, Shards shards) {

  /**
   * The run's shards: how many there are, how many this run computed and committed, how many an earlier,
   * interrupted run had committed ({@code --resume}).
   */
  public record Shards(int total, int computed, int resumed) {}

  public static final String FILE = "_SUMMARY.json";

  public boolean reconciled() { return inputRows == written + dropped + rejected; }

  /** Rows per second over the whole run (JVM and Spark start excluded: the clock starts with the job). */
  public double rowsPerSecond() { return wallSeconds > 0 ? inputRows / wallSeconds : 0; }

  public Map<String, Object> toMap() {
    Map<String, Object> counts = new LinkedHashMap<>();
    counts.put("input", inputRows);
    counts.put("written", written);
    if (dropped > 0 || jobSummary.containsKey("threshold")) counts.put("dropped", dropped);
    counts.put("rejected", rejected);
    counts.put("rejected_by_stage", rejectedByStage);
    counts.put("rejected_by_reason", rejectedByReason);
    counts.put("reconciled", reconciled());
    Map<String, Object> timings = new LinkedHashMap<>();
    timings.put("read_and_count", round(readSeconds));
    timings.put("run_tasks", round(runSeconds));
    timings.put("write", round(writeSeconds));
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("job", job);
    m.put("input", input);
    m.put("input_format", inputFormat);
    m.put("input_files", inputFiles);
    m.put("input_skipped", inputSkipped); // folders of the input left out: earlier outputs of this job
    m.put("output", output);
    m.put("format", format);
    m.put("counts", counts);
    m.put("wall_time_s", round(wallSeconds));
    m.put("rows_per_s", round(rowsPerSecond()));
    m.put("timings_s", timings);
    m.put("model", model);
    m.put("device", device);
    m.put("spark_master", master);
    m.put("spark_version", sparkVersion);
    m.put("partitions", partitions);
    Map<String, Object> sh = new LinkedHashMap<>();
    sh.put("total", shards.total());
    sh.put("computed", shards.computed());
    sh.put("resumed", shards.resumed());
    m.put("shards", sh);
    m.put("batch_size", batchSize);
    m.put("started_at", startedAt);
    m.put("finished_at", finishedAt);
    if (!jobSummary.isEmpty()) m.put(job, jobSummary); // the job's own: e.g. clip-filter's threshold and histogram
    return m;
  }

  public String toJson() {
    try {
      return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(toMap());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes {@code <output>/_SUMMARY.json} through the Hadoop FileSystem API. */
  public void writeTo(Path outputDir, Configuration conf) {
    Path file = new Path(outputDir, FILE);
    try (OutputStream out = file.getFileSystem(conf).create(file, true)) {
      out.write((toJson() + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  /** One line for the console. */
  public String oneLine() {
    return String.format(java.util.Locale.ROOT,
        "%s: %,d rows in, %,d written, %s%,d rejected%s; %.1f s, %,.0f rows/s; model %s on %s; output %s (%s)",
        job, inputRows, written, dropped > 0 ? String.format(java.util.Locale.ROOT, "%,d dropped, ", dropped) : "", rejected, rejected > 0 ? " " + rejectedByStage : "", wallSeconds, rowsPerSecond(), model,
        device, output, format);
  }

  private static double round(double v) { return Math.round(v * 1000) / 1000.0; }

}
