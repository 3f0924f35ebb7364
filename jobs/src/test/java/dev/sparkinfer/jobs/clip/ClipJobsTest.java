package dev.sparkinfer.jobs.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.jobs.Main;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.models.weights.SafeTensors;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLIP jobs end to end on Spark local[2] with the clip-tiny-hf fixture on the CPU engine. The golden numbers are
 * the fixture's (transformers CLIPModel on the same six images and captions): cosine(image i, caption i) =
 * logits_per_image[i][i] / logit_scale, and zero-shot probabilities softmax(logits_per_image[i][labels]). Inputs:
 * JSONL with relative paths and --image-root, Parquet with the image bytes, and img2dataset-style WebDataset shards.
 */
class ClipJobsTest {
  static Path fixture, images;
  static JsonNode expected;
  static float[] logits; // [6 images][6 texts]
  static float[] imageEmbeds;
  static float logitScale;
  @TempDir Path tmp;

  @BeforeAll
  static void fixture() throws Exception {
    fixture = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures")).resolve("clip-tiny-hf");
    assumeTrue(Files.isDirectory(fixture), "golden fixtures not found at " + fixture.toAbsolutePath());
    expected = new ObjectMapper().readTree(fixture.resolve("expected.json").toFile());
    images = fixture.resolve(expected.path("image_dir").asText()).normalize();
    try (SafeTensors want = SafeTensors.open(fixture.resolve("expected.safetensors"))) {
      logits = want.floats("logits_per_image");
      imageEmbeds = want.floats("image_embeds");
    }
    logitScale = (float) expected.path("logit_scale").asDouble();
    TestSpark.session();
  }

  static String image(int i) { return expected.path("images").get(i).asText(); }

  static String text(int i) { return expected.path("texts").get(i).asText(); }

  static double cosine(int image, int text) { return logits[image * 6 + text] / logitScale; }

  static int run(StringWriter out, StringWriter err, String... args) {
    return Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
  }

  static Map<String, Row> byId(List<Row> rows) {
    Map<String, Row> m = new HashMap<>();
    for (Row r : rows) m.put(r.getString(r.fieldIndex("id")), r);
    return m;
  }

  @Test
  void clipScoreOnJsonlEqualsTheReferenceAndCarriesColumns() throws Exception {
    List<Object> lines = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      lines.add("{\"id\": \"p" + i + "\", \"image\": " + TestCorpus.quote(image(i)) + ", \"caption\": " + TestCorpus.quote(text(i))
          + ", \"url\": \"https://example.com/" + i + "\", \"width\": " + (100 + i) + "}");
    }
    Path in = TestCorpus.writeLines(tmp.resolve("pairs.jsonl"), lines);
    Path out = tmp.resolve("scores");
    StringWriter o = new StringWriter(), e = new StringWriter();
    int status = run(o, e, "clip-score", "--model", fixture.toString(), "--input", in.toString(), "--output", out.toString(),
        "--image-root", images.toString(), "--keep-cols", "url,width", "--emit-embeddings", "--embedding-dtype", "float32",
        "--device", "cpu", "--master", "local[2]", "--batch-size", "4");
    assertEquals(0, status, e.toString());
    // text 5 is the empty caption: rejected, with its reason
    assertTrue(o.toString().contains("6 rows in, 5 written, 1 rejected"), o.toString());
    Map<String, Row> rows = byId(Outputs.sparkRows(TestSpark.session(), out, "parquet"));
    for (int i = 0; i < 5; i++) {
      Row r = rows.get("p" + i);
      assertNotNull(r, "p" + i);
      float cos = r.getFloat(r.fieldIndex("cosine"));
      assertEquals(cosine(i, i), cos, 1e-4, "cosine of pair " + i);
      assertEquals(100 * Math.max(cos, 0), r.getFloat(r.fieldIndex("clip_score")), 1e-4);
      assertFalse(r.getBoolean(r.fieldIndex("caption_truncated")));
      assertEquals("https://example.com/" + i, r.getString(r.fieldIndex("url")));
      assertEquals("" + (100 + i), r.getString(r.fieldIndex("width"))); // JSONL carried columns are strings
      List<Float> emb = r.getList(r.fieldIndex("image_embedding"));
      double norm = 0;
      for (int j = 0; j < 64; j++) norm += (double) imageEmbeds[i * 64 + j] * imageEmbeds[i * 64 + j];
      for (int j = 0; j < 64; j++) assertEquals(imageEmbeds[i * 64 + j] / Math.sqrt(norm), emb.get(j), 1e-4, "image_embedding " + i);
      BufferedImageSize size = BufferedImageSize.of(images.resolve(image(i)));
      assertEquals(size.w(), r.getInt(r.fieldIndex("image_width")));
      assertEquals(size.h(), r.getInt(r.fieldIndex("image_height")));
    }
    Row reject = Outputs.sparkRows(TestSpark.session(), out.resolve("_rejects"), "parquet").get(0);
    assertEquals("p5", reject.getString(0));
    assertEquals("validate", reject.getString(1));
    assertEquals("empty caption", reject.getString(2));
    JsonNode summary = Outputs.summary(out);
    assertTrue(summary.path("counts").path("reconciled").asBoolean());
    assertEquals(1, summary.path("counts").path("rejected_by_reason").path("validate: empty caption").asLong());
    assertTrue(Files.size(out.resolve("_cosine_histogram.png")) > 1000);
    assertNotNull(ImageIO.read(out.resolve("_cosine_histogram.png").toFile()));
  }

  /** Width and height of an image file, read by javax.imageio (GIFs on their logical screen are the same here). */
  record BufferedImageSize(int w, int h) {
    static BufferedImageSize of(Path f) throws Exception {
      var img = ImageIO.read(f.toFile());
      return new BufferedImageSize(img.getWidth(), img.getHeight());
    }
  }

  @Test
  void clipScoreRunsTheOpenClipLayoutWithItsOwnPreprocessingFromCsv() throws Exception {
    Path openClip = fixture.resolveSibling("clip-tiny-openclip");
    float[] want;
    try (SafeTensors t = SafeTensors.open(openClip.resolve("expected.safetensors"))) {
      want = t.floats("logits_per_image");
    }
    float scale = (float) new ObjectMapper().readTree(openClip.resolve("expected.json").toFile()).path("logit_scale").asDouble();
    List<Object> lines = new ArrayList<>(List.of("id,image,caption"));
    for (int i = 0; i < 5; i++) lines.add("c" + i + "," + images.resolve(image(i)) + ",\"" + text(i).replace("\"", "\"\"") + "\"");
    Path in = TestCorpus.writeLines(tmp.resolve("pairs.csv"), lines);
    Path out = tmp.resolve("openclip");
    StringWriter o = new StringWriter(), e = new StringWriter();
    // OpenCLIP folders on the hub carry the tokenizer files; the fixture does not: --tokenizer names them
    assertEquals(0, run(o, e, "clip-score", "--model", openClip.toString(), "--tokenizer", fixture.toString(), "--input", in.toString(),
        "--output", out.toString(), "--device", "cpu", "--master", "local[2]"), e.toString());
    Map<String, Row> rows = byId(Outputs.sparkRows(TestSpark.session(), out, "parquet"));
    for (int i = 0; i < 5; i++) {
      Row r = rows.get("c" + i);
      assertEquals(want[i * 6 + i] / scale, r.getFloat(r.fieldIndex("cosine")), 1e-4, "OpenCLIP pair " + i);
    }
  }

  @Test
  void clipScoreReadsParquetImageBytesAndWebDatasetShardsAlike() throws Exception {
    SparkSession spark = TestSpark.session();
    // Parquet with the image bytes in a binary column, a long id, a typed carried column
    StructType schema = new StructType().add("key", DataTypes.LongType).add("jpg", DataTypes.BinaryType)
        .add("txt", DataTypes.StringType).add("height", DataTypes.IntegerType);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 5; i++) rows.add(RowFactory.create(1000L + i, Files.readAllBytes(images.resolve(image(i))), text(i), 7 * i));
    Path parquet = tmp.resolve("bytes.parquet");
    spark.createDataFrame(rows, schema).coalesce(1).write().parquet(parquet.toString());
    Path out = tmp.resolve("from-parquet");
    StringWriter o = new StringWriter(), e = new StringWriter();
    assertEquals(0, run(o, e, "clip-score", "--model", fixture.toString(), "--input", parquet.toString(), "--output", out.toString(),
        "--id-col", "key", "--image-col", "jpg", "--caption-col", "txt", "--keep-cols", "height", "--device", "cpu",
        "--master", "local[2]"), e.toString());
    Map<String, Row> got = byId(Outputs.sparkRows(spark, out, "parquet"));
    for (int i = 0; i < 5; i++) {
      Row r = got.get("" + (1000 + i));
      assertEquals(cosine(i, i), r.getFloat(r.fieldIndex("cosine")), 1e-4, "parquet pair " + i);
      assertEquals(7 * i, r.getInt(r.fieldIndex("height"))); // Parquet carried columns keep their type
    }

    // two WebDataset shards as img2dataset writes them: KEY.jpg/png/gif, KEY.txt, KEY.json
    Path shards = Files.createDirectories(tmp.resolve("shards"));
    for (int s = 0; s < 2; s++) {
      try (TarArchiveOutputStream tar = new TarArchiveOutputStream(Files.newOutputStream(shards.resolve(String.format("%05d.tar", s))))) {
        for (int i = s * 3; i < Math.min(5, s * 3 + 3); i++) {
          String key = String.format("%05d%04d", s, i);
          String ext = image(i).substring(image(i).lastIndexOf('.') + 1);
          put(tar, key + "." + ext, Files.readAllBytes(images.resolve(image(i))));
          put(tar, key + ".txt", text(i).getBytes(StandardCharsets.UTF_8));
          put(tar, key + ".json", ("{\"url\": \"https://example.com/" + i + "\", \"key\": \"" + key + "\", \"status\": \"success\"}")
              .getBytes(StandardCharsets.UTF_8));
        }
      }
    }
    Path wdsOut = tmp.resolve("from-wds");
    o = new StringWriter();
    e = new StringWriter();
    assertEquals(0, run(o, e, "clip-score", "--model", fixture.toString(), "--input", shards.toString(), "--output", wdsOut.toString(),
        "--keep-cols", "url", "--device", "cpu", "--master", "local[2]", "--format", "arrow"), e.toString());
    assertTrue(o.toString().contains("5 rows in, 5 written, 0 rejected"), o.toString());
    List<org.apache.arrow.vector.types.pojo.Schema> arrowSchema = new ArrayList<>();
    List<Object[]> arrow = Outputs.arrowRows(wdsOut, arrowSchema);
    assertEquals(5, arrow.size());
    List<String> names = arrowSchema.get(0).getFields().stream().map(f -> f.getName()).toList();
    for (Object[] r : arrow) {
      int i = Integer.parseInt(((String) r[0]).substring(5));
      assertEquals(cosine(i, i), (Float) r[names.indexOf("cosine")], 1e-4, "webdataset pair " + i);
      assertEquals("https://example.com/" + i, r[names.indexOf("url")]);
    }

    // a shard cut in the middle (a copy that never finished): its samples before the cut are scored, the rest is one reject
    byte[] whole = Files.readAllBytes(shards.resolve("00000.tar"));
    Files.write(shards.resolve("00002.tar"), Arrays.copyOf(whole, whole.length * 2 / 3));
    Path cutOut = tmp.resolve("from-wds-cut");
    o = new StringWriter();
    e = new StringWriter();
    assertEquals(0, run(o, e, "clip-score", "--model", fixture.toString(), "--input", shards.toString(), "--output", cutOut.toString(),
        "--device", "cpu", "--master", "local[2]"), e.toString());
    JsonNode counts = Outputs.summary(cutOut).path("counts");
    assertTrue(counts.path("reconciled").asBoolean(), counts.toString());
    assertEquals(1, counts.path("rejected").asLong(), counts.toString());
    assertTrue(counts.path("rejected_by_reason").path("read: truncated tar").asLong() == 1, counts.toString());
    assertTrue(counts.path("written").asLong() >= 5, counts.toString());
  }

  static void put(TarArchiveOutputStream tar, String name, byte[] bytes) throws Exception {
    TarArchiveEntry entry = new TarArchiveEntry(name);
    entry.setSize(bytes.length);
    tar.putArchiveEntry(entry);
    tar.write(bytes);
    tar.closeArchiveEntry();
  }

  @Test
  void clipClassifyGivesTheReferenceProbabilitiesAndSoftLabels() throws Exception {
    List<Object> lines = new ArrayList<>();
    for (int i = 0; i < 6; i++) lines.add("{\"id\": \"i" + i + "\", \"image\": " + TestCorpus.quote(images.resolve(image(i)).toString()) + "}");
    Path in = TestCorpus.writeLines(tmp.resolve("images.jsonl"), lines);
    Path labels = tmp.resolve("labels.txt");
    Files.write(labels, List.of(text(0), text(1), text(2), "", text(3), text(4)), StandardCharsets.UTF_8); // the blank line is skipped
    Path out = tmp.resolve("classes");
    StringWriter o = new StringWriter(), e = new StringWriter();
    assertEquals(0, run(o, e, "clip-classify", "--model", fixture.toString(), "--input", in.toString(), "--output", out.toString(),
        "--labels", labels.toString(), "--template", "{}", "--top-k", "3", "--soft-labels", "--device", "cpu", "--master", "local[2]",
        "--format", "jsonl"), e.toString());
    Map<String, Row> rows = byId(Outputs.sparkRows(TestSpark.session(), out, "jsonl"));
    assertEquals(6, rows.size());
    for (int i = 0; i < 6; i++) {
      double[] p = new double[5];
      double max = Double.NEGATIVE_INFINITY, sum = 0;
      for (int t = 0; t < 5; t++) max = Math.max(max, logits[i * 6 + t]);
      for (int t = 0; t < 5; t++) sum += p[t] = Math.exp(logits[i * 6 + t] - max);
      for (int t = 0; t < 5; t++) p[t] /= sum;
      Row r = rows.get("i" + i);
      List<Double> probs = r.getList(r.fieldIndex("probs"));
      for (int t = 0; t < 5; t++) assertEquals(p[t], probs.get(t), 1e-4, "image " + i + " label " + t);
      int best = 0;
      for (int t = 1; t < 5; t++) if (p[t] > p[best]) best = t;
      assertEquals(best, r.getLong(r.fieldIndex("label_index")));
      assertEquals(text(best), r.getString(r.fieldIndex("label")));
      List<Long> top = r.getList(r.fieldIndex("top_indices"));
      assertEquals(3, top.size());
      assertEquals(best, top.get(0).intValue());
    }
    JsonNode labelsJson = new ObjectMapper().readTree(out.resolve("_LABELS.json").toFile());
    assertEquals(5, labelsJson.path("labels").size());
    assertEquals(6, Outputs.summary(out).path("clip-classify").path("top1_counts").properties().stream()
        .mapToLong(en -> en.getValue().asLong()).sum());
  }

  @Test
  void clipFilterKeepsTheTopFractionByTheExactQuantileAndMarksItInThePicture() throws Exception {
    // 5 images x 5 captions: 25 pairs with 25 different cosines
    List<Object> lines = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      for (int t = 0; t < 5; t++) {
        lines.add("{\"id\": \"" + i + "-" + t + "\", \"image\": " + TestCorpus.quote(image(i)) + ", \"caption\": " + TestCorpus.quote(text(t)) + "}");
      }
    }
    Path in = TestCorpus.writeLines(images.getParent().equals(images) ? tmp.resolve("x.jsonl") : tmp.resolve("grid.jsonl"), lines);
    Path out = tmp.resolve("kept");
    StringWriter o = new StringWriter(), e = new StringWriter();
    assertEquals(0, run(o, e, "clip-filter", "--model", fixture.toString(), "--input", in.toString(), "--output", out.toString(),
        "--image-root", images.toString(), "--keep-top-fraction", "0.3", "--device", "cpu", "--master", "local[2]"), e.toString());
    // numpy's quantile (linear) of the reference cosines at q = 0.7
    double[] all = new double[25];
    for (int i = 0; i < 5; i++) for (int t = 0; t < 5; t++) all[i * 5 + t] = cosine(i, t);
    Arrays.sort(all);
    double h = 24 * 0.7;
    int lo = (int) Math.floor(h);
    double want = ScoreQuantile.lerp(all[lo], all[lo + 1], h - lo);
    JsonNode own = Outputs.summary(out).path("clip-filter");
    assertEquals(want, own.path("threshold").asDouble(), 1e-4, own.toString());
    long kept = own.path("kept").asLong();
    assertEquals(kept, Arrays.stream(all).filter(c -> c >= own.path("threshold").asDouble()).count());
    List<Row> rows = Outputs.sparkRows(TestSpark.session(), out, "parquet");
    assertEquals(kept, rows.size());
    for (Row r : rows) assertTrue(r.getFloat(r.fieldIndex("cosine")) >= own.path("threshold").asDouble());
    JsonNode counts = Outputs.summary(out).path("counts");
    assertEquals(25 - kept, counts.path("dropped").asLong());
    assertEquals(kept, counts.path("written").asLong());
    assertTrue(counts.path("reconciled").asBoolean());
    assertTrue(o.toString().contains("threshold"), o.toString());
    assertNotNull(ImageIO.read(out.resolve("_cosine_histogram.png").toFile()));

    // a fixed minimum
    Path out2 = tmp.resolve("kept-min");
    assertEquals(0, run(o, e, "clip-filter", "--model", fixture.toString(), "--input", in.toString(), "--output", out2.toString(),
        "--image-root", images.toString(), "--min-cosine", "" + all[20], "--device", "cpu", "--master", "local[2]"), e.toString());
    long keptMin = Outputs.summary(out2).path("clip-filter").path("kept").asLong();
    assertTrue(keptMin >= 4 && keptMin <= 6, "about 5 of 25 at the 21st cosine: " + keptMin);
  }

  @Test
  void badArgumentsFailBeforeTheJob() throws Exception {
    Path in = TestCorpus.writeLines(tmp.resolve("p.jsonl"), List.of("{\"id\": \"a\", \"image\": \"x.png\", \"caption\": \"c\"}"));
    StringWriter o = new StringWriter(), e = new StringWriter();
    assertEquals(2, run(o, e, "clip-filter", "--model", fixture.toString(), "--input", in.toString(), "--output", tmp.resolve("o").toString()), e.toString());
    assertTrue(e.toString().contains("exactly one of --min-cosine"), e.toString());
    e = new StringWriter();
    assertEquals(2, run(o, e, "clip-score", "--model", fixture.toString(), "--input", in.toString(), "--output", tmp.resolve("o").toString(),
        "--image-col", "picture"), e.toString());
    assertTrue(e.toString().contains("image column 'picture' (--image-col)"), e.toString());
    e = new StringWriter();
    assertEquals(2, run(o, e, "clip-score", "--model", tmp.toString(), "--input", in.toString(), "--output", tmp.resolve("o").toString()), e.toString());
    assertTrue(e.toString().contains("neither config.json"), e.toString());
    e = new StringWriter();
    assertEquals(2, run(o, e, "clip-score", "--model", fixture.toString(), "--input", in.toString(), "--output", tmp.resolve("o").toString(),
        "--keep-cols", "cosine"), e.toString());
    assertTrue(e.toString().contains("--keep-cols"), e.toString());
    assertFalse(Files.exists(tmp.resolve("o").resolve("_SUMMARY.json")));
  }
}
