package dev.sparkinfer.jobs.clip;

import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.function.LongFunction;
import org.apache.spark.api.java.JavaDoubleRDD;
import org.apache.spark.api.java.JavaRDD;

/**
 * The exact quantile of a score column held on the cluster, equal bit for bit to numpy's {@code np.quantile(x, q)} with
 * its default method 'linear' on the float64 column: with n scores sorted ascending and h = (n − 1)·q, the result lies
 * between the order statistics x[⌊h⌋] and x[⌊h⌋ + 1], interpolated by numpy's {@code _lerp} (see {@link #lerp}).
 *
 * <p><b>How, and what it costs.</b> The scores never come to the driver. The two order statistics are found by a radix
 * selection on the scores' 64-bit sortable keys (the IEEE bits turned so that unsigned order is numeric order), 16 bits
 * per pass: pass 1 counts every score into 65,536 buckets by the top 16 bits (it also gives n and finds NaN and null),
 * which names the bucket holding each wanted rank; passes 2, 3 and 4 count only the scores in those buckets by their
 * next 16 bits. That is <b>four passes over the scores (four Spark jobs) and no shuffle of the scores</b>: each task
 * yields one array of counts, 512 KiB per wanted bucket (one or two per quantile), and only these arrays move, summed by
 * {@code treeAggregate} (depth 2: with many partitions, a small combining stage first). Several quantiles asked in one call
 * ({@link #quantiles}) share the four passes. Each pass recomputes the RDD's lineage: persist the scores first when they
 * are expensive to compute (a model), and the column must be the same on every pass (a change is detected and refused).
 * A distributed sort would shuffle the whole column and still need three jobs (range sampling, zipWithIndex's partition
 * counts, the lookup).
 *
 * <p><b>Inputs.</b> NaN and null scores are refused with a clear message: numpy would answer NaN, which is no threshold;
 * the caller filters them (failed images, empty texts) first. An empty column is refused. Infinities are taken as numpy
 * takes them. -0.0 sorts before 0.0 here while numpy's sort holds them equal, so on a column holding both the two may
 * return zeros of different signs (equal as numbers).
 */
public final class ScoreQuantile {
  private ScoreQuantile() {}

  static final int DIGIT_BITS = 16;
  static final int BUCKETS = 1 << DIGIT_BITS;
  static final int PASSES = Long.SIZE / DIGIT_BITS;
  private static final int TREE_DEPTH = 2;

  /** Counts of a threshold's split: {@code kept} scores are {@code >= threshold}, {@code dropped} are below it. */
  public record KeepCounts(double threshold, long kept, long dropped) implements java.io.Serializable {
    public long total() { return kept + dropped; }

    public double keptFraction() { return total() == 0 ? 0 : (double) kept / total(); }

    @Override public String toString() {
      return String.format(Locale.ROOT, "threshold %.4f: %,d kept (%.2f%%), %,d dropped", threshold, kept,
          100 * keptFraction(), dropped);
    }
  }

  /** numpy's {@code np.quantile(scores, q)} (method 'linear'), exactly; {@code q} in [0, 1]. */
  public static double quantile(JavaRDD<Double> scores, double q) {
    return quantiles(scores, q)[0];
  }

  public static double quantile(JavaDoubleRDD scores, double q) {
    return quantile(scores.rdd().toJavaRDD(), q);
  }

  /** numpy's {@code np.quantile(scores, qs)} for several q at once: the same four passes for all of them. */
  public static double[] quantiles(JavaRDD<Double> scores, double... qs) {
    if (qs.length == 0) throw new IllegalArgumentException("quantiles: no q given");
    for (double q : qs) {
      if (!(q >= 0 && q <= 1)) throw new IllegalArgumentException("quantile q=" + q + " is outside [0, 1]");
    }
    Selection sel = select(scores, n -> {
      long[] ranks = new long[2 * qs.length];
      for (int i = 0; i < qs.length; i++) {
        Lerp l = Lerp.of(n, qs[i]);
        ranks[2 * i] = l.lower;
        ranks[2 * i + 1] = l.upper;
      }
      return ranks;
    }, "quantile");
    double[] out = new double[qs.length];
    for (int i = 0; i < qs.length; i++) {
      out[i] = lerp(sel.values[2 * i], sel.values[2 * i + 1], Lerp.of(sel.n, qs[i]).gamma);
    }
    return out;
  }

  public static double[] quantiles(JavaDoubleRDD scores, double... qs) {
    return quantiles(scores.rdd().toJavaRDD(), qs);
  }

  /**
   * The score threshold that keeps the top {@code fraction} of rows: <b>keep rows with score &gt;= threshold</b>. It is
   * numpy's quantile at q = 1 − fraction. Ties at the threshold are all kept, so more than fraction·n rows may pass
   * (count them with {@link #countKept}); fraction 1 gives the minimum (every row kept), fraction 0 the maximum (the rows
   * holding it are kept, not none).
   */
  public static double thresholdForTopFraction(JavaRDD<Double> scores, double fraction) {
    if (!(fraction >= 0 && fraction <= 1)) {
      throw new IllegalArgumentException("top fraction " + fraction + " is outside [0, 1] (0.1 keeps the top 10%)");
    }
    return quantile(scores, 1.0 - fraction);
  }

  public static double thresholdForTopFraction(JavaDoubleRDD scores, double fraction) {
    return thresholdForTopFraction(scores.rdd().toJavaRDD(), fraction);
  }

  /** How many scores a threshold keeps ({@code >= threshold}) and drops: one pass, no shuffle. NaN and null refused. */
  public static KeepCounts countKept(JavaRDD<Double> scores, double threshold) {
    if (Double.isNaN(threshold)) throw new IllegalArgumentException("threshold is NaN");
    long[] c = scores.mapPartitions((Iterator<Double> it) -> {
      long[] k = new long[4]; // kept, dropped, NaN, null
      while (it.hasNext()) {
        Double d = it.next();
        if (d == null) k[3]++;
        else if (Double.isNaN(d)) k[2]++;
        else if (d >= threshold) k[0]++;
        else k[1]++;
      }
      return List.of(k).iterator();
    }).treeAggregate(NONE, ScoreQuantile::addInto, ScoreQuantile::addInto, TREE_DEPTH);
    if (c.length == 0) c = new long[4]; // no partitions
    refuseBad(c[2], c[3], c[0] + c[1] + c[2] + c[3], "count kept");
    return new KeepCounts(threshold, c[0], c[1]);
  }

  public static KeepCounts countKept(JavaDoubleRDD scores, double threshold) {
    return countKept(scores.rdd().toJavaRDD(), threshold);
  }

  /**
   * numpy's {@code _lerp(a, b, t)}: {@code a + (b − a)·t} for t &lt; 0.5 and {@code b − (b − a)·(1 − t)} for t &gt;= 0.5,
   * each operation rounded in float64 (no fused multiply-add), so the result is exact at t = 0 and t = 1.
   */
  public static double lerp(double a, double b, double t) {
    double diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
  }

  /**
   * The scores of the given 0-based ranks in ascending order (rank 0 is the minimum): four passes, no shuffle of the scores. The ranks
   * are asked for once n is known ({@code ranksOfN.apply(n)}), each in [0, n).
   */
  public static double[] orderStatistics(JavaRDD<Double> scores, LongFunction<long[]> ranksOfN) {
    return select(scores, ranksOfN, "order statistics").values;
  }

  // --- numpy's index arithmetic (numpy/lib/_function_base_impl.py: _quantile, _get_indexes, _get_gamma)

  /** Where q falls: the ranks of the two order statistics and the weight, as numpy computes them. */
  private record Lerp(long lower, long upper, double gamma) {
    static Lerp of(long n, double q) {
      double h = (n - 1) * q; // numpy: (n - 1) * quantiles in float64
      if (h >= n - 1) {
        // above the last index numpy takes the last element twice, and its gamma is h - (-1): the index it stores there
        return new Lerp(n - 1, n - 1, h + 1);
      }
      double floor = Math.floor(h);
      return new Lerp((long) floor, (long) floor + 1, h - floor);
    }
  }

  // --- the radix selection

  /** The scores of the ranks and the column's size n. */
  private record Selection(long n, double[] values) {}

  private static Selection select(JavaRDD<Double> scores, LongFunction<long[]> ranksOfN, String what) {
    // pass 1: every score by its top 16 bits; NaN and null counted apart
    long[] first = scores.mapPartitions((Iterator<Double> it) -> {
      long[] h = new long[BUCKETS + 2];
      while (it.hasNext()) {
        Double d = it.next();
        if (d == null) h[BUCKETS + 1]++;
        else if (Double.isNaN(d)) h[BUCKETS]++;
        else h[(int) (sortableKey(d) >>> (Long.SIZE - DIGIT_BITS))]++;
      }
      return List.of(h).iterator();
    }).treeAggregate(NONE, ScoreQuantile::addInto, ScoreQuantile::addInto, TREE_DEPTH);
    if (first.length == 0) first = new long[BUCKETS + 2]; // no partitions
    long nan = first[BUCKETS], nulls = first[BUCKETS + 1], n = 0;
    for (int b = 0; b < BUCKETS; b++) n += first[b];
    refuseBad(nan, nulls, n + nan + nulls, what);
    if (n == 0) {
      throw new IllegalArgumentException(what + ": the score column is empty (0 rows): there is no quantile of nothing; "
          + "check the input and the filters before it");
    }
    long[] ranks = ranksOfN.apply(n).clone();
    for (long r : ranks) {
      if (r < 0 || r >= n) throw new IllegalArgumentException(what + ": rank " + r + " is outside [0, " + n + ")");
    }
    long[] prefix = new long[ranks.length]; // the key's bits found so far, per rank
    long[] within = ranks.clone(); // the rank among the scores that share the prefix
    long[] bucketCount = new long[ranks.length]; // how many scores share the prefix (to check the next pass)
    for (int j = 0; j < ranks.length; j++) {
      int d = digitOf(first, 0, within, j);
      prefix[j] = d;
      bucketCount[j] = first[d];
    }
    // passes 2..4: only the scores in the wanted buckets, by their next 16 bits
    for (int pass = 1; pass < PASSES; pass++) {
      long[] wanted = Arrays.stream(prefix).distinct().sorted().toArray();
      int prefixShift = Long.SIZE - DIGIT_BITS * pass, digitShift = prefixShift - DIGIT_BITS;
      long[] h = scores.mapPartitions((Iterator<Double> it) -> {
        long[] c = new long[wanted.length * BUCKETS];
        while (it.hasNext()) {
          Double d = it.next();
          if (d == null || Double.isNaN(d)) continue;
          long key = sortableKey(d);
          int g = Arrays.binarySearch(wanted, key >>> prefixShift);
          if (g >= 0) c[g * BUCKETS + (int) ((key >>> digitShift) & (BUCKETS - 1))]++;
        }
        return List.of(c).iterator();
      }).treeAggregate(NONE, ScoreQuantile::addInto, ScoreQuantile::addInto, TREE_DEPTH);
      for (int j = 0; j < ranks.length; j++) {
        int g = Arrays.binarySearch(wanted, prefix[j]);
        long seen = 0;
        for (int b = 0; b < BUCKETS; b++) seen += h[g * BUCKETS + b];
        if (seen != bucketCount[j]) {
          throw new IllegalStateException(String.format(Locale.ROOT, "%s: the scores changed between passes (%,d scores "
              + "with key prefix %x in pass %d, %,d in pass %d): persist the score RDD (or make its lineage "
              + "deterministic) before taking quantiles", what, bucketCount[j], prefix[j], pass, seen, pass + 1));
        }
        int d = digitOf(h, g * BUCKETS, within, j);
        prefix[j] = (prefix[j] << DIGIT_BITS) | d;
        bucketCount[j] = h[g * BUCKETS + d];
      }
    }
    double[] out = new double[ranks.length];
    for (int j = 0; j < ranks.length; j++) out[j] = fromSortableKey(prefix[j]);
    return new Selection(n, out);
  }

  /** The bucket of {@code counts[from .. from + BUCKETS)} that holds rank {@code within[j]}; makes it bucket-relative. */
  private static int digitOf(long[] counts, int from, long[] within, int j) {
    long r = within[j];
    for (int b = 0; b < BUCKETS; b++) {
      long c = counts[from + b];
      if (r < c) {
        within[j] = r;
        return b;
      }
      r -= c;
    }
    throw new IllegalStateException("rank beyond the counted scores"); // unreachable: ranks are checked against n
  }

  /** The IEEE bits turned so that unsigned order of keys is the numeric order of doubles (-0.0 just before 0.0). */
  static long sortableKey(double v) {
    long bits = Double.doubleToRawLongBits(v);
    return bits >= 0 ? bits ^ Long.MIN_VALUE : ~bits;
  }

  static double fromSortableKey(long key) {
    return Double.longBitsToDouble(key < 0 ? key ^ Long.MIN_VALUE : ~key);
  }

  /**
   * The aggregation's zero: empty, so that no 512 KiB of zeros travels with every task (a zero value is serialized into
   * the task); every partition yields one full count array, which {@link #addInto} takes as it is.
   */
  static final long[] NONE = new long[0];

  /** Adds count arrays; an empty one (the zero) adds nothing. Both may be modified (aggregate allows it). */
  static long[] addInto(long[] acc, long[] c) {
    if (acc.length == 0) return c;
    if (c.length == 0) return acc;
    for (int i = 0; i < acc.length; i++) acc[i] += c[i];
    return acc;
  }

  private static void refuseBad(long nan, long nulls, long total, String what) {
    if (nan > 0 || nulls > 0) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "%s: %,d of %,d scores are NaN and %,d are null: "
          + "filter them out first (rows whose image or text failed have no score), then take the quantile", what, nan,
          total, nulls));
    }
  }
}
