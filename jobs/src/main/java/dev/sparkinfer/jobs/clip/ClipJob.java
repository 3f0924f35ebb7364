package dev.sparkinfer.jobs.clip;

import dev.sparkinfer.jobs.JobSpec;
import dev.sparkinfer.jobs.UsageException;
import dev.sparkinfer.jobs.run.ResultRecord;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.clip.ClipTokenizer;
import dev.sparkinfer.models.image.ClipImagePreprocessor;
import dev.sparkinfer.schemas.ClipClassesTable;
import dev.sparkinfer.schemas.ClipScoresTable;
import dev.sparkinfer.udf.BatchTaskFactory;
import dev.sparkinfer.udf.clip.ClipTaskConfig;
import dev.sparkinfer.udf.clip.ClipTaskFactory;
import dev.sparkinfer.udf.model.ClipCache;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;

/**
 * The CLIP jobs: {@code clip-score} (cosine and CLIPScore per image–caption pair), {@code clip-filter} (the same, then
 * only the pairs at or over a threshold: a fixed cosine, or the exact quantile that keeps the top fraction) and
 * {@code clip-classify} (zero-shot label probabilities per image). Scoring jobs draw the histogram of cosines into
 * {@code _cosine_histogram.png} beside the output, with the threshold marked.
 *
 * @param filter clip-filter's rule; null for clip-score and clip-classify
 */
public record ClipJob(String name, ClipTaskConfig config, DeviceChoice device, EngineConfig engine, Filter filter) implements JobSpec {
  /** Where cosine sits in a ClipScoresTable row. */
  static final int COSINE = 1;

  /** clip-filter's rule: exactly one of a fixed minimum cosine or the top fraction to keep. */
  public record Filter(Double minCosine, Double keepTopFraction) implements java.io.Serializable {
    public Filter {
      if ((minCosine == null) == (keepTopFraction == null)) {
        throw new IllegalArgumentException("clip-filter needs exactly one of --min-cosine X or --keep-top-fraction F");
      }
      if (minCosine != null && !(minCosine >= -1 && minCosine <= 1)) {
        throw new IllegalArgumentException("--min-cosine must be between -1 and 1, got " + minCosine);
      }
      if (keepTopFraction != null && !(keepTopFraction > 0 && keepTopFraction <= 1)) {
        throw new IllegalArgumentException("--keep-top-fraction must be in (0, 1], got " + keepTopFraction);
      }
    }
  }

  public static ClipJob score(ClipTaskConfig c, DeviceChoice d, EngineConfig e) { return new ClipJob("clip-score", c, d, e, null); }

  public static ClipJob filter(ClipTaskConfig c, DeviceChoice d, EngineConfig e, Filter f) { return new ClipJob("clip-filter", c, d, e, f); }

  public static ClipJob classify(ClipTaskConfig c, DeviceChoice d, EngineConfig e) { return new ClipJob("clip-classify", c, d, e, null); }

  @Override
  public BatchTaskFactory tasks() { return new ClipTaskFactory(config, device, engine); }

  @Override
  public StructType outputSparkSchema() {
    return config.classifies() ? ClipClassesTable.sparkSchema(config.softLabels()) : ClipScoresTable.sparkSchema(config.embeddings());
  }

  @Override
  public String checkModel() {
    Path dir = Path.of(config.modelDir());
    if (!Files.isDirectory(dir)) throw new UsageException("--model " + dir + " is not a folder: name a CLIP model folder (Hugging Face CLIPModel or OpenCLIP)");
    boolean openClip = Files.isRegularFile(dir.resolve("open_clip_config.json"));
    if (!openClip && !Files.isRegularFile(dir.resolve("config.json"))) {
      throw new UsageException("--model " + dir + " has neither config.json (Hugging Face CLIPModel) nor open_clip_config.json (OpenCLIP)");
    }
    try {
      if (!openClip) {
        String type = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("config.json").toFile()).path("model_type").asText();
        if (!type.equals("clip")) throw new IllegalArgumentException("config.json says model_type '" + type + "', not 'clip'");
      }
      ClipImagePreprocessor.fromModelDir(dir);
      Path tok = Path.of(config.tokenizerDir() == null ? config.modelDir() : config.tokenizerDir());
      if (!ClipTokenizer.hasTokenizer(tok)) {
        throw new IllegalArgumentException("no CLIP tokenizer files in " + tok + " (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz): "
            + "pass --tokenizer DIR");
      }
    } catch (java.io.IOException | RuntimeException e) {
      throw new UsageException("--model " + dir + ": " + e.getMessage(), e);
    }
    return dir.getFileName().toString() + engine.weightsSuffix();
  }

  @Override
  public String warmUp() {
    try {
      ClipCache.Clip clip = ClipCache.get(config.modelDir(), config.tokenizerDir(), device, engine);
      if (config.classifies()) ClipCache.promptEmbeddings(clip, config.prompts());
      return clip.runtime().device().toString();
    } catch (RuntimeException e) {
      throw new UsageException("cannot load CLIP '" + config.modelDir() + "' on device " + device.name().toLowerCase(Locale.ROOT) + ": " + e.getMessage(), e);
    }
  }

  @Override
  public org.apache.spark.api.java.function.Function<ResultRecord, Boolean> keep() {
    if (filter == null || filter.minCosine() == null) return null;
    double t = filter.minCosine();
    return r -> (double) (Float) r.values[COSINE] >= t;
  }

  @Override
  public boolean needsAllResults() { return filter != null && filter.keepTopFraction() != null; }

  @Override
  public Selection select(SparkSession spark, JavaRDD<ResultRecord> outputs, long count) {
    Map<String, Object> summary = new LinkedHashMap<>();
    if (count == 0) return new Selection(null, summary); // nothing scored: nothing to keep
    double t = ScoreQuantile.thresholdForTopFraction(outputs.map(r -> (double) (Float) r.values[COSINE]), filter.keepTopFraction());
    summary.put("threshold", t);
    summary.put("rule", String.format(Locale.ROOT, "cosine >= the %s quantile of all %,d cosines (--keep-top-fraction %s; numpy's linear method)",
        1 - filter.keepTopFraction(), count, filter.keepTopFraction()));
    return new Selection(r -> (double) (Float) r.values[COSINE] >= t, summary);
  }

  @Override
  public int tallySize() { return config.classifies() ? config.labels().size() : ScoreHistogram.tallySize(ScoreHistogram.DEFAULT_BINS); }

  @Override
  public void tally(ResultRecord r, long[] counts) {
    if (config.classifies()) counts[(Integer) r.values[2]]++; // the label that won
    else ScoreHistogram.count(r.values[COSINE] == null ? null : (double) (Float) r.values[COSINE], counts, ScoreHistogram.DEFAULT_BINS);
  }

  @Override
  public Finish finish(SparkSession spark, long[] tally, long written, long dropped, Map<String, Object> selected,
      org.apache.hadoop.fs.Path output) {
    if (config.classifies()) return classifyFinish(spark, tally, output);
    Map<String, Object> summary = new LinkedHashMap<>();
    ScoreHistogram histogram = ScoreHistogram.fromTally(tally, ScoreHistogram.DEFAULT_BINS);
    Double threshold = null;
    if (filter != null && written + dropped > 0) {
      if (filter.minCosine() != null) {
        threshold = filter.minCosine();
        summary.put("threshold", threshold);
        summary.put("rule", "cosine >= " + threshold + " (--min-cosine)");
      } else if (selected.containsKey("threshold")) {
        threshold = (Double) selected.get("threshold");
        summary.putAll(selected);
      }
    }
    org.apache.hadoop.fs.Path png = new org.apache.hadoop.fs.Path(output, ScoreHistogram.FILE);
    summary.put("histogram_png", ScoreHistogram.FILE);
    summary.put("cosine_histogram", histogram.toMap());
    if (filter != null) {
      if (written + dropped == 0) summary.put("rule", "no row was scored");
      else {
        summary.put("kept", written);
        summary.put("dropped", dropped);
      }
    }
    Double marked = threshold;
    return new Finish(summary, () -> histogram.writePng(png, spark.sparkContext().hadoopConfiguration(),
          name + ": cosine of image and caption, " + Path.of(config.modelDir()).getFileName(),
          marked == null ? null : ScoreHistogram.Marker.threshold(marked), null));
  }

  public static final String LABELS_FILE = "_LABELS.json";

  /** {@code _LABELS.json}: the labels in index order, the prompts and how probabilities were made. */
  private void writeLabels(SparkSession spark, org.apache.hadoop.fs.Path output) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("labels", config.labels());
    m.put("template", config.template());
    m.put("prompts", config.prompts());
    m.put("temperature", config.temperature());
    m.put("probability", "softmax(logit_scale * cos(image, prompt) / temperature)");
    org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(output, LABELS_FILE);
    try (java.io.OutputStream out = file.getFileSystem(spark.sparkContext().hadoopConfiguration()).create(file, true)) {
      out.write((new com.fasterxml.jackson.databind.ObjectMapper().enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
          .writeValueAsString(m) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  /** clip-classify's summary: how many images each label won. */
  private Finish classifyFinish(SparkSession spark, long[] won, org.apache.hadoop.fs.Path output) {
    Map<String, Long> byLabel = new LinkedHashMap<>();
    List<String> labels = config.labels();
    for (int i = 0; i < labels.size(); i++) byLabel.put(labels.get(i), won[i]);
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("labels", labels.size());
    summary.put("template", config.template());
    summary.put("temperature", config.temperature());
    summary.put("top1_counts", byLabel);
    summary.put("labels_file", LABELS_FILE);
    return new Finish(summary, () -> writeLabels(spark, output));
  }
}
