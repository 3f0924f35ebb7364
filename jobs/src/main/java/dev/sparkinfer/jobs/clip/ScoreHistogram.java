package dev.sparkinfer.jobs.clip;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaDoubleRDD;
import org.apache.spark.api.java.JavaRDD;

/**
 * A histogram of cosine similarities in equal bins over [-1, 1], counted on the cluster (one pass: per-partition
 * {@code long[]} counts summed by {@code treeAggregate}; the cosines never move), and its PNG picture for the clip-filter job's
 * output ({@code <output>/_cosine_histogram.png}).
 *
 * <p>Bins follow {@code numpy.histogram(x, bins, range=(-1, 1))}: the edges are numpy's {@code linspace} (edge i is
 * {@code i·(2/bins) − 1}, the last is 1), bin i holds {@code edge(i) <= v < edge(i + 1)} and the last bin also holds 1.
 * Unlike numpy, values beyond [-1, 1] (a float32 cosine may be 1.0000001) are counted in the edge bins and reported as
 * {@link #outsideRange()}; NaN and null are refused, as in {@link ScoreQuantile}. The counts are serializable (Java
 * serialization, or {@link #toMap()} for a JSON summary).
 */
public final class ScoreHistogram implements Serializable {
  private static final long serialVersionUID = 1L;

  public static final double LOW = -1.0, HIGH = 1.0;
  public static final int DEFAULT_BINS = 200;
  public static final String FILE = "_cosine_histogram.png";
  public static final int DEFAULT_WIDTH = 1200, DEFAULT_HEIGHT = 640;

  private final long[] counts; // [bins]
  private final long outsideRange;

  private ScoreHistogram(long[] counts, long outsideRange) {
    this.counts = counts;
    this.outsideRange = outsideRange;
  }

  /** Counts already made (read back from a summary): {@code counts.length} bins over [-1, 1]. */
  public static ScoreHistogram of(long[] counts, long outsideRange) {
    if (counts.length < 1) throw new IllegalArgumentException("a histogram needs at least one bin");
    for (long c : counts) if (c < 0) throw new IllegalArgumentException("negative bin count " + c);
    return new ScoreHistogram(counts.clone(), outsideRange);
  }

  public static ScoreHistogram compute(JavaRDD<Double> cosines) {
    return compute(cosines, DEFAULT_BINS);
  }

  public static ScoreHistogram compute(JavaDoubleRDD cosines, int bins) {
    return compute(cosines.rdd().toJavaRDD(), bins);
  }

  /** Counts the cosines into {@code bins} equal bins over [-1, 1]: one pass over the RDD, no shuffle. */
  public static ScoreHistogram compute(JavaRDD<Double> cosines, int bins) {
    if (bins < 1 || bins > 1_000_000) throw new IllegalArgumentException("bins=" + bins + ": use 1 .. 1,000,000");
    long[] c = cosines.mapPartitions((Iterator<Double> it) -> {
      long[] h = new long[tallySize(bins)];
      while (it.hasNext()) count(it.next(), h, bins);
      return List.of(h).iterator();
    }).treeAggregate(ScoreQuantile.NONE, ScoreQuantile::addInto, ScoreQuantile::addInto, 2);
    return fromTally(c.length == 0 ? new long[tallySize(bins)] : c, bins); // no partitions: no counts
  }

  /** The length of a tally of {@code bins} bins: the bins, then values outside [-1, 1], NaN, null. */
  public static int tallySize(int bins) { return bins + 3; }

  /** Counts one cosine into a tally (summable: per partition, per shard). */
  public static void count(Double d, long[] tally, int bins) {
    if (d == null) tally[bins + 2]++;
    else if (Double.isNaN(d)) tally[bins + 1]++;
    else {
      tally[binOf(d, bins)]++;
      if (d < LOW || d > HIGH) tally[bins]++;
    }
  }

  /** The histogram of summed tallies; NaN and null cosines are refused. */
  public static ScoreHistogram fromTally(long[] c, int bins) {
    if (bins < 1 || c.length != tallySize(bins)) throw new IllegalArgumentException("a tally of " + bins + " bins has " + tallySize(bins) + " counts, got " + c.length);
    long nan = c[bins + 1], nulls = c[bins + 2];
    if (nan > 0 || nulls > 0) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "cosine histogram: %,d cosines are NaN and %,d are "
          + "null: filter them out first (rows whose image or text failed have no score)", nan, nulls));
    }
    return new ScoreHistogram(java.util.Arrays.copyOf(c, bins), c[bins]);
  }

  /** Edge i of {@code bins} equal bins over [-1, 1], as numpy's linspace gives it (edge 0 is -1, edge bins is 1). */
  public static double edge(int i, int bins) {
    return i == bins ? HIGH : i * ((HIGH - LOW) / bins) + LOW;
  }

  /** The bin of v: {@code edge(i) <= v < edge(i + 1)}, 1 in the last bin, values beyond [-1, 1] in the edge bins. */
  public static int binOf(double v, int bins) {
    if (!(v > LOW)) return 0;
    if (v >= HIGH) return bins - 1;
    int i = (int) ((v - LOW) * (bins / (HIGH - LOW)));
    i = Math.min(Math.max(i, 0), bins - 1);
    // the product above may round across an edge: settle against the edges themselves (as numpy.histogram does)
    if (v < edge(i, bins)) i--;
    else if (i < bins - 1 && v >= edge(i + 1, bins)) i++;
    return i;
  }

  public int bins() { return counts.length; }

  public long count(int bin) { return counts[bin]; }

  public long[] counts() { return counts.clone(); }

  /** Values beyond [-1, 1], counted in the edge bins. */
  public long outsideRange() { return outsideRange; }

  public long total() {
    long n = 0;
    for (long c : counts) n += c;
    return n;
  }

  public double binWidth() { return (HIGH - LOW) / counts.length; }

  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("range", List.of(LOW, HIGH));
    m.put("bins", counts.length);
    m.put("total", total());
    m.put("outside_range", outsideRange);
    m.put("counts", counts.clone());
    return m;
  }

  // --- the picture

  /** A vertical line on the picture: at {@code value}, labelled, drawn in {@code color}, dashed or solid. */
  public record Marker(double value, String label, Color color, boolean dashed) implements Serializable {
    /** The filter's threshold: red, solid, "threshold 0.2800". */
    public static Marker threshold(double value) {
      return new Marker(value, String.format(Locale.ROOT, "threshold %.4f", value), new Color(0xD62728), false);
    }

    /** A second reference (e.g. another run's threshold or a fixed cut-off): dashed, dark orange. */
    public static Marker reference(double value, String label) {
      return new Marker(value, label, new Color(0xE07B00), true);
    }
  }

  /**
   * Writes the PNG through the Hadoop FileSystem API (local, HDFS, S3A, ...), replacing the file.
   *
   * @param threshold drawn as a labelled vertical line, bins below it shaded as dropped; null for none
   * @param second an optional second marker; null for none
   */
  public void writePng(Path file, Configuration conf, String title, Marker threshold, Marker second) {
    BufferedImage image = render(title, threshold, second, DEFAULT_WIDTH, DEFAULT_HEIGHT);
    try (OutputStream out = file.getFileSystem(conf).create(file, true)) {
      if (!ImageIO.write(image, "png", out)) throw new IOException("no PNG writer in this JVM (javax.imageio)");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  private static final Color BAR_KEPT = new Color(0x2F6DB5), BAR_DROPPED = new Color(0xB7C4D3);
  private static final Color GRID = new Color(0xE3E6EA), AXIS = new Color(0x404040), TEXT = new Color(0x202020);
  private static final Color CAPTION = new Color(0x505860);

  /**
   * The picture: bars of the counts over the occupied cosine range (zoomed, with a margin, so the usual CLIP range 0.1 to
   * 0.4 is readable), x ticks in cosine, y ticks in counts, the title, the markers as labelled vertical lines and n in
   * the caption. Drawn off-screen: sets {@code java.awt.headless=true} when it is not set, and needs no display.
   */
  public BufferedImage render(String title, Marker threshold, Marker second, int width, int height) {
    if (width < 400 || height < 300) throw new IllegalArgumentException("picture " + width + "x" + height + " below 400x300");
    if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    int bins = counts.length;
    double[] view = viewRange(threshold, second);
    double x0 = view[0], x1 = view[1];
    long max = 0;
    for (int i = 0; i < bins; i++) if (edge(i + 1, bins) > x0 && edge(i, bins) < x1) max = Math.max(max, counts[i]);

    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, width, height);
      Font base = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
      Font small = base.deriveFont(13f), bold = base.deriveFont(Font.BOLD, 19f);

      // the y ticks decide the left margin: the widest count label
      double yStep = Math.max(1, niceStep(Math.max(max, 1) / 5.0)); // whole rows
      long yTop = (long) (Math.ceil(Math.max(max, 1) * 1.06 / yStep) * yStep);
      g.setFont(small);
      FontMetrics fm = g.getFontMetrics();
      int labelW = fm.stringWidth(String.format(Locale.ROOT, "%,d", yTop));
      int left = 34 + labelW + 14, right = 28, top = 62, bottom = 104;
      int pw = width - left - right, ph = height - top - bottom;

      // title
      g.setFont(bold);
      g.setColor(TEXT);
      drawCentered(g, title == null ? "cosine similarity" : title, left + pw / 2, 34);

      // grid and y ticks
      g.setFont(small);
      for (double y = 0; y <= yTop + yStep / 2; y += yStep) {
        int py = top + ph - (int) Math.round(y / yTop * ph);
        g.setColor(GRID);
        g.drawLine(left, py, left + pw, py);
        g.setColor(TEXT);
        String s = String.format(Locale.ROOT, "%,d", Math.round(y));
        g.drawString(s, left - 8 - fm.stringWidth(s), py + fm.getAscent() / 2 - 1);
      }

      // bars: kept (>= threshold) dark, dropped light; the bin holding the threshold is split at the line
      double tx = threshold == null ? Double.NEGATIVE_INFINITY : threshold.value();
      for (int i = 0; i < bins; i++) {
        double a = Math.max(edge(i, bins), x0), b = Math.min(edge(i + 1, bins), x1);
        if (b <= a || counts[i] == 0) continue;
        int pa = xPixel(a, x0, x1, left, pw), pb = xPixel(b, x0, x1, left, pw);
        int gap = pb - pa >= 5 ? 1 : 0; // a white seam between wide bars
        int hgt = (int) Math.round((double) counts[i] / yTop * ph);
        int py = top + ph - hgt;
        int split = tx <= a ? pa : tx >= b ? pb : xPixel(tx, x0, x1, left, pw);
        g.setColor(BAR_DROPPED);
        g.fillRect(pa, py, split - pa, hgt);
        g.setColor(BAR_KEPT);
        g.fillRect(split, py, pb - gap - split, hgt);
      }

      // axes
      g.setColor(AXIS);
      g.setStroke(new BasicStroke(1.2f));
      g.drawLine(left, top + ph, left + pw, top + ph);
      g.drawLine(left, top, left, top + ph);

      // x ticks in cosine
      double xStep = niceStep((x1 - x0) / 10);
      int decimals = Math.max(0, (int) Math.ceil(-Math.log10(xStep) - 1e-9));
      for (double t = Math.ceil(x0 / xStep - 1e-9) * xStep; t <= x1 + xStep * 1e-9; t += xStep) {
        int px = xPixel(t, x0, x1, left, pw);
        g.setColor(AXIS);
        g.drawLine(px, top + ph, px, top + ph + 5);
        g.setColor(TEXT);
        drawCentered(g, String.format(Locale.ROOT, "%." + decimals + "f", Math.abs(t) < xStep / 2 ? 0.0 : t), px,
            top + ph + 7 + fm.getAscent());
      }
      g.setFont(base);
      drawCentered(g, "cosine similarity", left + pw / 2, top + ph + 46);
      Graphics2D gy = (Graphics2D) g.create();
      gy.rotate(-Math.PI / 2);
      gy.setColor(TEXT);
      drawCentered(gy, "rows per bin", -(top + ph / 2), 22);
      gy.dispose();

      // markers: a line each, the labels on two rows so that they do not collide
      List<Marker> markers = new ArrayList<>();
      if (threshold != null) markers.add(threshold);
      if (second != null) markers.add(second);
      for (int m = 0; m < markers.size(); m++) {
        Marker mk = markers.get(m);
        if (mk.value() < x0 || mk.value() > x1) continue;
        int px = xPixel(mk.value(), x0, x1, left, pw);
        g.setColor(mk.color());
        g.setStroke(mk.dashed()
            ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {7f, 5f}, 0f)
            : new BasicStroke(2.2f));
        g.drawLine(px, top, px, top + ph);
        g.setFont(base.deriveFont(Font.BOLD));
        FontMetrics mf = g.getFontMetrics();
        int w = mf.stringWidth(mk.label()), lh = mf.getHeight();
        int ly = top + 8 + m * (lh + 8);
        // right of the line, unless that crosses the plot's edge or another marker's line: then left of it
        int rx = px + 6, lxLeft = px - 6 - w - 8;
        boolean rightOk = rx + w + 8 <= left + pw, leftOk = lxLeft >= left;
        for (Marker other : markers) {
          int ox = xPixel(other.value(), x0, x1, left, pw);
          if (other != mk && ox >= rx - 2 && ox <= rx + w + 10) rightOk = false;
          if (other != mk && ox >= lxLeft - 2 && ox <= px) leftOk = false;
        }
        int lx = rightOk || !leftOk ? rx : lxLeft;
        g.setColor(new Color(255, 255, 255, 225));
        g.fillRect(lx - 1, ly, w + 8, lh + 2);
        g.setColor(mk.color());
        g.setStroke(new BasicStroke(1f));
        g.drawRect(lx - 1, ly, w + 8, lh + 2);
        g.drawString(mk.label(), lx + 3, ly + mf.getAscent() + 1);
      }

      // legend (when a threshold splits the bars), top left: the tails are low and the threshold is mostly right of centre
      if (threshold != null) {
        g.setFont(small);
        String[] names = {"kept (score \u2265 threshold)", "dropped"};
        Color[] colors = {BAR_KEPT, BAR_DROPPED};
        int lw = 0;
        for (String s : names) lw = Math.max(lw, fm.stringWidth(s));
        int bx = left + 14, by = top + 10;
        g.setColor(new Color(255, 255, 255, 225));
        g.fillRect(bx - 6, by - 4, lw + 40, 2 * 20 + 4);
        for (int k = 0; k < 2; k++) {
          g.setColor(colors[k]);
          g.fillRect(bx, by + k * 20 + 2, 18, 12);
          g.setColor(TEXT);
          g.drawString(names[k], bx + 26, by + k * 20 + 13);
        }
      }

      // caption: n, binning, the zoom, values beyond [-1, 1]
      g.setFont(small);
      g.setColor(CAPTION);
      String zoom = x0 == LOW && x1 == HIGH ? "" : String.format(Locale.ROOT, "  \u00b7  x axis zoomed to [%." + (decimals + 1)
          + "f, %." + (decimals + 1) + "f]", x0, x1);
      String caption = String.format(Locale.ROOT, "n = %,d cosines  \u00b7  %d bins of width %s over [-1, 1]%s%s",
          total(), bins, trim(binWidth()), zoom,
          outsideRange > 0 ? String.format(Locale.ROOT, "  \u00b7  %,d beyond [-1, 1] counted in the end bins", outsideRange) : "");
      drawCentered(g, caption, left + pw / 2, height - 14);
    } finally {
      g.dispose();
    }
    return img;
  }

  /**
   * The x range drawn: the occupied bins and the markers, widened by a margin (a tenth of the span, at least two bins
   * and 0.02) and kept inside [-1, 1]; the whole range when nothing is counted.
   */
  double[] viewRange(Marker threshold, Marker second) {
    int bins = counts.length, lo = -1, hi = -1;
    for (int i = 0; i < bins; i++) {
      if (counts[i] > 0) {
        if (lo < 0) lo = i;
        hi = i;
      }
    }
    if (lo < 0) return new double[] {LOW, HIGH};
    double a = edge(lo, bins), b = edge(hi + 1, bins);
    for (Marker m : new Marker[] {threshold, second}) {
      if (m != null && Double.isFinite(m.value())) {
        a = Math.min(a, m.value());
        b = Math.max(b, m.value());
      }
    }
    double margin = Math.max(Math.max(0.1 * (b - a), 2 * binWidth()), 0.02);
    return new double[] {Math.max(LOW, a - margin), Math.min(HIGH, b + margin)};
  }

  private static int xPixel(double v, double x0, double x1, int left, int pw) {
    return left + (int) Math.round((v - x0) / (x1 - x0) * pw);
  }

  /** 1, 2 or 5 times a power of ten, at least {@code rough}. */
  static double niceStep(double rough) {
    double p = Math.pow(10, Math.floor(Math.log10(rough)));
    for (double m : new double[] {1, 2, 5, 10}) if (m * p >= rough * (1 - 1e-9)) return m * p;
    return 10 * p;
  }

  private static String trim(double v) {
    String s = String.format(Locale.ROOT, "%.6f", v);
    return s.replaceAll("0+$", "").replaceAll("\\.$", "");
  }

  private static void drawCentered(Graphics2D g, String s, int cx, int baseline) {
    g.drawString(s, cx - g.getFontMetrics().stringWidth(s) / 2, baseline);
  }
}
