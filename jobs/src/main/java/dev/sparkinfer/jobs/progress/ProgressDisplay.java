package dev.sparkinfer.jobs.progress;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's progress line: {@code embed  4,096 / 10,000 rows  41%  812 rows/s  ETA 0:07}. In a terminal it is
 * one line redrawn in place; otherwise (logs, CI) a log line every {@code logMillis}.
 */
public final class ProgressDisplay implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ProgressDisplay.class);

  private final String label;
  private final long total;
  private final LongSupplier done;
  private final boolean terminal;
  private final PrintStream out;
  private final long periodMillis;
  private final long startNanos = System.nanoTime();
  private final Thread thread;
  private volatile boolean stopped;

  public ProgressDisplay(String label, long total, LongSupplier done, long redrawMillis, long logMillis) {
    this(label, total, done, System.console() != null, System.err, redrawMillis, logMillis);
  }

  ProgressDisplay(String label, long total, LongSupplier done, boolean terminal, PrintStream out, long redrawMillis,
      long logMillis) {
    this.label = label;
    this.total = total;
    this.done = done;
    this.terminal = terminal;
    this.out = out;
    this.periodMillis = terminal ? redrawMillis : logMillis;
    this.thread = new Thread(this::loop, "sparkinfer-progress");
    this.thread.setDaemon(true);
    this.thread.start();
  }

  private void loop() {
    while (!stopped) {
      try {
        Thread.sleep(periodMillis);
      } catch (InterruptedException e) {
        return;
      }
      if (!stopped) show();
    }
  }

  private void show() {
    String line = line(label, done.getAsLong(), total, (System.nanoTime() - startNanos) / 1e9);
    if (terminal) {
      synchronized (out) {
        out.print("\r" + line + "   ");
        out.flush();
      }
    } else {
      LOG.info(line);
    }
  }

  /** The progress line for {@code done} of {@code total} rows after {@code seconds}. */
  public static String line(String label, long done, long total, double seconds) {
    double rate = seconds > 0 ? done / seconds : 0;
    String pct = total > 0 ? String.format(Locale.ROOT, "%3d%%", Math.min(100, done * 100 / total)) : "  -";
    String eta = rate > 0 && done < total ? clock((total - done) / rate) : done >= total ? "0:00" : "--:--";
    return String.format(Locale.ROOT, "%s  %,d / %,d rows  %s  %,.0f rows/s  ETA %s", label, done, total, pct, rate, eta);
  }

  static String clock(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }

  /** Stops the display with the exact final count (listener events may still be on their way). */
  public void finish(long rowsDone) {
    stop(rowsDone);
  }

  /** Stops the display, leaving a final line (after {@link #finish}, does nothing). */
  @Override
  public void close() {
    stop(done.getAsLong());
  }

  private void stop(long rowsDone) {
    if (stopped) return;
    stopped = true;
    thread.interrupt();
    String line = line(label, rowsDone, total, (System.nanoTime() - startNanos) / 1e9);
    if (terminal) {
      synchronized (out) {
        out.println("\r" + line + "   ");
      }
    } else {
      LOG.info(line);
    }
  }
}
