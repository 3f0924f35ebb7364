package dev.sparkinfer.jobs.write;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.JobSpec;
import dev.sparkinfer.jobs.UsageException;
import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * What a run is, written first into {@code <output>/_manifest/job.json}: the job, model, input files (with their
 * sizes), output format, number of shards, and a digest of every setting the tasks and the reader use. {@code --resume}
 * continues an interrupted run only when all of these match the new command, so the shards it computes now fit the
 * ones already committed, and it keeps the earlier run's number of shards (a shard is a function of the id and of it).
 *
 * @param inputFiles  each input file as "path (bytes)"
 * @param settings    the digest (SHA-256) of the job's settings: the task factory the executors get (model, device,
 *                    engine settings, task options) and the run's configuration without the output, master and
 *                    overwrite flags
 * @param lengthBands the shards' bounds on the rows' length keys (ascending; null: shards by id hash), chosen from a
 *                    sample at the first run and kept here, so a resumed run puts every row in the shard it had
 */
public record RunManifest(String job, String model, String input, List<String> inputFiles, String format, int shards, String settings,
    long[] lengthBands) {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public static Path file(Path output) { return new Path(ShardManifest.dir(output), ShardManifest.JOB_FILE); }

  /** This run's manifest. */
  public static RunManifest of(JobSpec spec, JobConfig cfg, String model, List<String> files, int shards, Configuration conf) {
    List<String> described = new ArrayList<>();
    try {
      for (String f : files) {
        Path p = new Path(f);
        described.add(f + " (" + p.getFileSystem(conf).getFileStatus(p).getLen() + " bytes)");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the input files' sizes: " + e.getMessage(), e);
    }
    JobConfig neutral = new JobConfig(cfg.input(), "-", cfg.model(), cfg.format(), cfg.inputFormat(), cfg.device(), null, cfg.batchSize(),
        cfg.idCol(), cfg.textCol(), JobConfig.Overwrite.NO, 0, cfg.sortWindowBatches(), 1, 1, cfg.task(), cfg.images());
    return new RunManifest(spec.name(), model, cfg.input(), described, cfg.format().name().toLowerCase(java.util.Locale.ROOT), shards,
        digest(spec.tasks(), neutral), null);
  }

  /** This manifest with the shards' length bounds. */
  public RunManifest withLengthBands(long[] bands) {
    return new RunManifest(job, model, input, inputFiles, format, shards, settings, bands);
  }

  private static String digest(Object... parts) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (Object p : parts) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
          out.writeObject(p);
        }
        sha.update(bytes.toByteArray());
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (IOException | NoSuchAlgorithmException e) {
      throw new IllegalStateException("cannot digest the job's settings: " + e.getMessage(), e);
    }
  }

  public void write(Path output, Configuration conf) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("job", job);
    m.put("model", model);
    m.put("input", input);
    m.put("input_files", inputFiles);
    m.put("format", format);
    m.put("shards", shards);
    m.put("settings_sha256", settings);
    m.put("length_bands", lengthBands);
    Path f = file(output);
    try {
      FileSystem fs = f.getFileSystem(conf);
      fs.mkdirs(f.getParent());
      ShardManifest.write(fs, f, JSON.writeValueAsString(m) + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + f + ": " + e.getMessage(), e);
    }
  }

  /** The manifest of the run that wrote {@code output}. */
  public static RunManifest read(Path output, Configuration conf) {
    Path f = file(output);
    try {
      JsonNode n = JSON.readTree(ShardManifest.read(f.getFileSystem(conf), f));
      List<String> files = new ArrayList<>();
      n.path("input_files").forEach(x -> files.add(x.asText()));
      long[] bands = null;
      if (n.hasNonNull("length_bands")) {
        bands = new long[n.get("length_bands").size()];
        for (int i = 0; i < bands.length; i++) bands[i] = n.get("length_bands").get(i).asLong();
      }
      return new RunManifest(n.path("job").asText(), n.path("model").asText(), n.path("input").asText(), files,
          n.path("format").asText(), n.path("shards").asInt(), n.path("settings_sha256").asText(), bands);
    } catch (FileNotFoundException e) {
      throw new UsageException("--resume: " + output + " holds no " + ShardManifest.DIR + "/" + ShardManifest.JOB_FILE
          + ", so it is not the output of a run that can be resumed: choose another --output, or pass --overwrite");
    } catch (IOException e) {
      throw new UsageException("--resume: cannot read " + f + ": " + e.getMessage(), e);
    }
  }

  /**
   * Checks that {@code now} continues this run; returns the run to continue (this one: its shards).
   *
   * @throws UsageException naming what differs and what to do
   */
  public RunManifest checkResumable(RunManifest now, JobConfig cfg) {
    List<String> differs = new ArrayList<>();
    if (!job.equals(now.job)) differs.add("the job (" + job + " then, " + now.job + " now)");
    if (!model.equals(now.model)) differs.add("the model (" + model + " then, " + now.model + " now)");
    if (!format.equals(now.format)) differs.add("the output format (" + format + " then, " + now.format + " now)");
    if (!input.equals(now.input)) differs.add("--input (" + input + " then, " + now.input + " now)");
    else if (!inputFiles.equals(now.inputFiles)) differs.add("the input files or their sizes (" + inputFiles.size() + " then, "
        + now.inputFiles.size() + " now)");
    if (differs.isEmpty() && !settings.equals(now.settings)) {
      differs.add("the settings (options of the job, device, engine, batch size or columns)");
    }
    if (cfg.partitions() > 0 && cfg.partitions() != shards) {
      differs.add("--partitions (the run being resumed has " + shards + " shards)");
    }
    if (!differs.isEmpty()) {
      throw new UsageException("--resume: this command differs from the run that wrote the output in " + String.join(", ", differs)
          + ": resume with the same arguments, or pass --overwrite to start again");
    }
    return this;
  }
}
