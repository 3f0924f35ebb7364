package dev.sparkinfer.jobs.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sparkinfer.jobs.testing.TestSpark;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ScoreHistogram} on Spark local[2]: the counts of the 100,000-score column equal numpy.histogram's (golden from
 * make_quantile_cases.py), values on the edges land in the bins numpy puts them in, and the PNG is written through the
 * Hadoop FileSystem API and reads back with ImageIO at its size, with the threshold line drawn. The picture is also copied
 * to jobs/target/clip/_cosine_histogram.png for a look.
 */
class ScoreHistogramTest {
  static JsonNode cases;
  static JavaSparkContext sc;
  static List<Double> column;

  @TempDir Path tmp;

  @BeforeAll
  static void setUp() throws IOException {
    cases = ScoreQuantileTest.readCases();
    sc = JavaSparkContext.fromSparkContext(TestSpark.session().sparkContext());
    column = ScoreQuantileTest.column(cases.path("n").asInt());
  }

  @Test
  void countsEqualNumpysHistogramAndSumToN() {
    JavaRDD<Double> scores = sc.parallelize(column, 7);
    for (JsonNode h : cases.path("histograms")) {
      int bins = h.path("bins").asInt();
      ScoreHistogram hist = ScoreHistogram.compute(scores, bins);
      long[] numpy = new long[bins];
      for (int i = 0; i < bins; i++) numpy[i] = h.path("counts").get(i).asLong();
      assertArrayEquals(numpy, hist.counts(), bins + " bins");
      assertEquals(column.size(), hist.total());
      assertEquals(0, hist.outsideRange());
      for (int i = 0; i <= bins; i++) {
        double e = ScoreQuantileTest.hex(h.path("edges").get(i));
        assertEquals(Double.doubleToRawLongBits(e), Double.doubleToRawLongBits(ScoreHistogram.edge(i, bins)),
            "edge " + i + " of " + bins + " (numpy's linspace)");
      }
    }
  }

  @Test
  void valuesOnEdgesLandInTheBinTheyOpen() {
    for (int bins : new int[] {1, 7, 200, 256}) {
      List<Double> values = new ArrayList<>();
      List<Integer> expected = new ArrayList<>();
      for (int i = 0; i < bins; i++) {
        double e = ScoreHistogram.edge(i, bins);
        values.add(e);
        expected.add(i); // an edge opens its bin
        if (i > 0) {
          values.add(Math.nextDown(e));
          expected.add(i - 1); // just below an edge: the bin before
        }
      }
      values.add(1.0);
      expected.add(bins - 1); // 1 closes the last bin
      values.add(Math.nextDown(1.0));
      expected.add(bins - 1);
      values.add(-1.0);
      expected.add(0);
      values.add(1.0000001192092896); // a float32 cosine just above 1: the last bin, counted as outside
      expected.add(bins - 1);
      values.add(-1.5);
      expected.add(0);
      long[] want = new long[bins];
      for (int i = 0; i < values.size(); i++) {
        assertEquals(expected.get(i), ScoreHistogram.binOf(values.get(i), bins), values.get(i) + " in " + bins + " bins");
        want[expected.get(i)]++;
      }
      ScoreHistogram hist = ScoreHistogram.compute(sc.parallelize(values, 3), bins);
      assertArrayEquals(want, hist.counts(), bins + " bins on Spark");
      assertEquals(values.size(), hist.total());
      assertEquals(2, hist.outsideRange());
    }
    // dyadic edges are exact: with 256 bins 0.5 opens bin 192, 0 opens bin 128, -0.0 lands there too
    assertEquals(192, ScoreHistogram.binOf(0.5, 256));
    assertEquals(191, ScoreHistogram.binOf(Math.nextDown(0.5), 256));
    assertEquals(128, ScoreHistogram.binOf(0.0, 256));
    assertEquals(128, ScoreHistogram.binOf(-0.0, 256));
    assertEquals(127, ScoreHistogram.binOf(-Double.MIN_VALUE, 256));
  }

  @Test
  void nanIsRefusedAndBinsAreChecked() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ScoreHistogram.compute(sc.parallelize(Arrays.asList(0.2, Double.NaN), 2), 200));
    assertTrue(e.getMessage().contains("1 cosines are NaN"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ScoreHistogram.compute(sc.parallelize(List.of(0.2), 1), 0));
  }

  @Test
  void countsSurviveJavaSerialization() throws Exception {
    ScoreHistogram hist = ScoreHistogram.compute(sc.parallelize(column, 4), 200);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(hist);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      ScoreHistogram back = (ScoreHistogram) in.readObject();
      assertArrayEquals(hist.counts(), back.counts());
      assertEquals(hist.outsideRange(), back.outsideRange());
    }
    assertEquals(200, hist.toMap().get("bins"));
  }

  @Test
  void theXRangeZoomsToTheOccupiedBinsAndTheMarkers() {
    ScoreHistogram hist = ScoreHistogram.compute(sc.parallelize(column, 4), 200);
    double[] view = hist.viewRange(null, null);
    assertTrue(view[0] < -0.125 && view[0] > -0.25, Arrays.toString(view)); // the column spans [-0.125, 0.375)
    assertTrue(view[1] > 0.375 && view[1] < 0.5, Arrays.toString(view));
    double[] wider = hist.viewRange(ScoreHistogram.Marker.threshold(0.6), null);
    assertTrue(wider[1] > 0.6 && wider[1] <= 1.0, Arrays.toString(wider));
    assertArrayEquals(new double[] {-1, 1}, ScoreHistogram.of(new long[200], 0).viewRange(null, null));
  }

  @Test
  void thePngIsWrittenThroughHadoopAndReadsBack() throws Exception {
    ScoreHistogram hist = ScoreHistogram.compute(sc.parallelize(column, 7), 200);
    JsonNode top10 = cases.path("top_fractions").get(2); // numpy's threshold for the top 10%
    double threshold = ScoreQuantileTest.hex(top10.path("threshold"));
    org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(tmp.toUri().toString(), ScoreHistogram.FILE);
    hist.writePng(file, sc.hadoopConfiguration(), "clip-filter: image-text cosine, top 10% kept",
        ScoreHistogram.Marker.threshold(threshold), ScoreHistogram.Marker.reference(0.2, "fixed cut-off 0.2000"));
    Path png = tmp.resolve(ScoreHistogram.FILE);
    BufferedImage img = ImageIO.read(png.toFile());
    assertNotNull(img, "ImageIO cannot read " + png);
    assertEquals(ScoreHistogram.DEFAULT_WIDTH, img.getWidth());
    assertEquals(ScoreHistogram.DEFAULT_HEIGHT, img.getHeight());
    int red = 0, kept = 0;
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        int rgb = img.getRGB(x, y) & 0xFFFFFF;
        if (rgb == 0xD62728) red++;
        if (rgb == 0x2F6DB5) kept++;
      }
    }
    assertTrue(red > 300, "the threshold line is drawn (" + red + " red pixels)");
    assertTrue(kept > 1000, "bars right of the threshold are drawn as kept (" + kept + " pixels)");
    Path look = Path.of("target", "clip");
    Files.createDirectories(look);
    Files.copy(png, look.resolve(ScoreHistogram.FILE), StandardCopyOption.REPLACE_EXISTING);
    // an empty histogram still draws (the whole range, no bars)
    ImageIO.write(ScoreHistogram.of(new long[50], 0).render(null, null, null, 800, 400), "png",
        look.resolve("empty.png").toFile());
  }
}
