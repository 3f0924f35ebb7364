package dev.sparkinfer.jobs.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.jobs.testing.TestSpark;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link ScoreQuantile} on Spark local[2] against numpy: the golden numbers are numpy 2.x's {@code np.quantile} (method
 * 'linear') written by jobs/src/test/python/make_quantile_cases.py into clip/quantile_cases.json, as hex floats; the test
 * rebuilds the generator's 100,000-score column bit for bit and asks for bit equality. Small columns (n = 1, n = 2, all
 * equal, duplicates and negatives, extreme magnitudes) run over more partitions than rows, so some partitions are empty.
 */
class ScoreQuantileTest {
  static JsonNode cases;
  static JavaSparkContext sc;
  static List<Double> column;

  @BeforeAll
  static void setUp() throws IOException {
    cases = readCases();
    sc = JavaSparkContext.fromSparkContext(TestSpark.session().sparkContext());
    column = column(cases.path("n").asInt());
  }

  static JsonNode readCases() throws IOException {
    try (InputStream in = ScoreQuantileTest.class.getResourceAsStream("/clip/quantile_cases.json")) {
      if (in == null) throw new IllegalStateException("clip/quantile_cases.json not on the test classpath");
      return new ObjectMapper().readTree(in);
    }
  }

  // --- the generator's column (make_quantile_cases.py: splitmix64, triangular, half on a coarse grid)

  static long splitmix64(long i) {
    long z = i * 0x9E3779B97F4A7C15L + 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  static long scoreK(long i) {
    long z = splitmix64(i);
    long u = ((z & 0xFFFFFF) + ((z >>> 24) & 0xFFFFFF)) >>> 1;
    long k = u - (1L << 22);
    if (((z >>> 48) & 1) == 0) k &= ~0x3FFFL;
    return k;
  }

  /** A float32 score widened to double, as the job's cosines are. */
  static double score(long i) {
    return (double) (float) (scoreK(i) / (double) (1L << 25));
  }

  static List<Double> column(int n) {
    List<Double> xs = new ArrayList<>(n);
    for (int i = 0; i < n; i++) xs.add(score(i));
    return xs;
  }

  static double hex(JsonNode n) {
    return Double.parseDouble(n.asText());
  }

  static void assertBits(double expected, double actual, String what) {
    assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(actual),
        () -> what + ": numpy " + Double.toHexString(expected) + " (" + expected + "), ours " + Double.toHexString(actual)
            + " (" + actual + ")");
  }

  @Test
  void theColumnIsTheGeneratorsColumn() {
    JsonNode check = cases.path("column_check");
    long sumK = 0;
    for (int i = 0; i < column.size(); i++) sumK += scoreK(i);
    assertEquals(check.path("sum_k").asLong(), sumK);
    assertEquals(check.path("negatives").asLong(), column.stream().filter(v -> v < 0).count());
    assertEquals(check.path("distinct").asLong(), column.stream().distinct().count());
    assertBits(hex(check.path("min")), column.stream().mapToDouble(d -> d).min().orElseThrow(), "min");
    assertBits(hex(check.path("max")), column.stream().mapToDouble(d -> d).max().orElseThrow(), "max");
  }

  @Test
  void quantilesOverSevenPartitionsEqualNumpyBitForBit() {
    JavaRDD<Double> scores = sc.parallelize(column, 7).cache();
    JsonNode qs = cases.path("quantiles");
    double[] q = new double[qs.size()];
    for (int i = 0; i < q.length; i++) q[i] = hex(qs.get(i).path("q"));
    double[] all = ScoreQuantile.quantiles(scores, q); // one set of passes for all of them
    for (int i = 0; i < q.length; i++) {
      String what = "q=" + qs.get(i).path("q_repr").asText();
      assertBits(hex(qs.get(i).path("value")), all[i], what + " (quantiles)");
    }
    // one at a time, and through a JavaDoubleRDD of another partitioning
    assertBits(hex(qs.get(3).path("value")), ScoreQuantile.quantile(scores, q[3]), "q=0.5 (quantile)");
    assertBits(hex(qs.get(1).path("value")),
        ScoreQuantile.quantile(sc.parallelizeDoubles(column, 5), q[1]), "q=0.001 (JavaDoubleRDD)");
    scores.unpersist();
  }

  @Test
  void topFractionThresholdsAndKeptCountsEqualNumpy() {
    JavaRDD<Double> scores = sc.parallelize(column, 7).cache();
    for (JsonNode c : cases.path("top_fractions")) {
      double f = hex(c.path("fraction"));
      String what = "top fraction " + c.path("fraction_repr").asText();
      double threshold = ScoreQuantile.thresholdForTopFraction(scores, f);
      assertBits(hex(c.path("threshold")), threshold, what);
      ScoreQuantile.KeepCounts k = ScoreQuantile.countKept(scores, threshold);
      assertEquals(c.path("kept").asLong(), k.kept(), what + ": kept (score >= threshold), numpy's (x >= t).sum()");
      assertEquals(c.path("dropped").asLong(), k.dropped(), what + ": dropped");
    }
    scores.unpersist();
  }

  @Test
  void smallColumnsEqualNumpyIncludingEmptyPartitions() {
    for (JsonNode s : cases.path("small")) {
      List<Double> values = new ArrayList<>();
      for (JsonNode v : s.path("values")) values.add(hex(v));
      for (int partitions : new int[] {1, 3, 8}) {
        JavaRDD<Double> scores = sc.parallelize(values, partitions);
        JsonNode cs = s.path("cases");
        double[] q = new double[cs.size()];
        for (int i = 0; i < q.length; i++) q[i] = hex(cs.get(i).path("q"));
        double[] got = ScoreQuantile.quantiles(scores, q);
        for (int i = 0; i < q.length; i++) {
          assertBits(hex(cs.get(i).path("value")), got[i], s.path("name").asText() + " over " + partitions
              + " partitions, q=" + cs.get(i).path("q_repr").asText());
        }
      }
    }
  }

  /** The goldens have teeth: the textbook a + (b - a)·t misses numpy's value on some of them (numpy's _lerp does not). */
  @Test
  void theNaiveInterpolationWouldFailSomeGoldens() {
    int misses = 0;
    for (JsonNode s : cases.path("small")) {
      double[] x = new double[s.path("values").size()];
      for (int i = 0; i < x.length; i++) x[i] = hex(s.path("values").get(i));
      Arrays.sort(x);
      for (JsonNode c : s.path("cases")) {
        double h = (x.length - 1) * hex(c.path("q"));
        int lo = (int) Math.floor(h);
        double naive = lo + 1 >= x.length ? x[x.length - 1] : x[lo] + (h - lo) * (x[lo + 1] - x[lo]);
        if (Double.doubleToRawLongBits(naive) != Double.doubleToRawLongBits(hex(c.path("value")))) misses++;
      }
    }
    assertTrue(misses > 0, "no golden case tells numpy's _lerp from the naive formula");
  }

  @Test
  void anEmptyColumnIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ScoreQuantile.quantile(sc.parallelize(List.<Double>of(), 3), 0.5));
    assertTrue(e.getMessage().contains("empty (0 rows)"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ScoreQuantile.quantile(sc.<Double>emptyRDD(), 0.5));
    assertEquals(0, ScoreQuantile.countKept(sc.<Double>emptyRDD(), 0.3).total());
  }

  @Test
  void nanAndNullScoresAreRefusedWithACount() {
    JavaRDD<Double> withNan = sc.parallelize(Arrays.asList(0.1, Double.NaN, 0.3, 0.2), 2);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ScoreQuantile.quantile(withNan, 0.5));
    assertTrue(e.getMessage().contains("1 of 4 scores are NaN and 0 are null: filter them out first"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ScoreQuantile.countKept(withNan, 0.2));
    assertTrue(e.getMessage().contains("1 of 4 scores are NaN"), e.getMessage());
    JavaRDD<Double> withNull = sc.parallelize(Arrays.asList(0.1, null, 0.3), 2);
    e = assertThrows(IllegalArgumentException.class, () -> ScoreQuantile.thresholdForTopFraction(withNull, 0.1));
    assertTrue(e.getMessage().contains("0 of 3 scores are NaN and 1 are null"), e.getMessage());
  }

  @Test
  void qAndFractionOutsideZeroOneAreRefused() {
    JavaRDD<Double> scores = sc.parallelize(Arrays.asList(0.1, 0.2), 2);
    for (double q : new double[] {-0.01, 1.01, Double.NaN}) {
      assertThrows(IllegalArgumentException.class, () -> ScoreQuantile.quantile(scores, q), "q=" + q);
      assertThrows(IllegalArgumentException.class, () -> ScoreQuantile.thresholdForTopFraction(scores, q), "f=" + q);
    }
  }

  /** A column that is different on every pass (an RDD recomputed from a non-deterministic source) is caught. */
  static final AtomicInteger evaluations = new AtomicInteger();

  @Test
  void aColumnThatChangesBetweenPassesIsRefused() {
    evaluations.set(0);
    JavaRDD<Double> drifting = sc.parallelize(column.subList(0, 1000), 1).mapPartitions((Iterator<Double> it) -> {
      double shift = 10.0 * evaluations.incrementAndGet(); // local mode: the executor is this JVM
      List<Double> out = new ArrayList<>();
      it.forEachRemaining(v -> out.add(v + shift));
      return out.iterator();
    });
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> ScoreQuantile.quantile(drifting, 0.5));
    assertTrue(e.getMessage().contains("the scores changed between passes"), e.getMessage());
  }

  @Test
  void sortableKeysOrderAsTheNumbersDo() {
    double[] v = {Double.NEGATIVE_INFINITY, -Double.MAX_VALUE, -1, -Double.MIN_VALUE, -0.0, 0.0, Double.MIN_VALUE,
        Double.MIN_NORMAL, 0.28, 1, Double.MAX_VALUE, Double.POSITIVE_INFINITY};
    for (int i = 0; i < v.length; i++) {
      long key = ScoreQuantile.sortableKey(v[i]);
      assertEquals(Double.doubleToRawLongBits(v[i]), Double.doubleToRawLongBits(ScoreQuantile.fromSortableKey(key)));
      if (i > 0) assertTrue(Long.compareUnsigned(ScoreQuantile.sortableKey(v[i - 1]), key) < 0, v[i - 1] + " < " + v[i]);
    }
  }
}
