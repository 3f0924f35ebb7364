package dev.sparkinfer.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.aparapi.device.OpenCLDevice;
import dev.sparkinfer.jobs.embed.EmbedJob;
import dev.sparkinfer.jobs.testing.Outputs;
import dev.sparkinfer.jobs.testing.TestCorpus;
import dev.sparkinfer.jobs.testing.TestSpark;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.udf.model.EmbedderCache;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device budget at the Spark level: the embed job with the real default model (all-MiniLM-L6-v2, float32, ~91 MB of
 * weights) on {@code --device opencl} in {@code local[2]} (two task slots, one executor JVM) with
 * {@code sparkinfer.device.budget} set. With a budget that holds the model, both slots' tasks run at the same time
 * through the JVM's one {@link DeviceRuntime} (one of them admitted, the other waiting its turn) and the engine's memory
 * never exceeds the budget; with a budget too small for the weights the job fails at load, before any task, with the
 * budget named, and no row is written or rejected.
 *
 * <p>The engine config is the driver's system properties when the job is made (it travels with the job). The JVM's
 * other job tests share its default OpenCL engine; a second config for the same device is refused there (one engine per
 * device), so this test pins the device by a name of its own (the same device, spelled in another case) and gets engines
 * apart from theirs.
 */
class DeviceBudgetTwoSlotsTest {
  static final long BUDGET = 200L << 20; // the weights (~91 MB) + the arenas' minimum sizes + scratch for batches of 16
  static final long TOO_SMALL = 48L << 20;

  @TempDir Path tmp;

  static String deviceName() {
    List<OpenCLDevice> all = Devices.openclDevices();
    if (!Devices.openclRuns()) {
      String msg = "the OpenCL engine cannot run here (no OpenCL device: install pocl-opencl-icd; or Java 21+): the device "
          + "budget test runs the job on --device opencl";
      if (Boolean.getBoolean("sparkinfer.requireOpenCL")) fail(msg);
      assumeTrue(false, msg);
    }
    return all.get(0).getName().trim(); // what --device opencl takes unpinned
  }

  /** Runs {@code body} with the job's engine properties set, restoring the JVM's after. */
  static <T> T withEngineProperties(String budget, String device, java.util.concurrent.Callable<T> body) throws Exception {
    String oldBudget = System.getProperty("sparkinfer.device.budget"), oldDevice = System.getProperty(Devices.DEVICE_PROPERTY);
    System.setProperty("sparkinfer.device.budget", budget);
    System.setProperty(Devices.DEVICE_PROPERTY, device);
    try {
      return body.call();
    } finally {
      restore("sparkinfer.device.budget", oldBudget);
      restore(Devices.DEVICE_PROPERTY, oldDevice);
    }
  }

  private static void restore(String key, String value) {
    if (value == null) System.clearProperty(key);
    else System.setProperty(key, value);
  }

  private Path corpus(int rows) {
    List<String> lines = new ArrayList<>();
    for (String[] r : TestCorpus.rows(rows, 17)) lines.add(TestCorpus.jsonLine(r[0], r[1]));
    Path in = tmp.resolve("in");
    TestCorpus.writeLines(in.resolve("corpus.jsonl"), lines);
    return in;
  }

  @Test
  void twoSlotsShareTheOneRuntimeWithinTheBudget() throws Exception {
    String device = deviceName().toUpperCase(Locale.ROOT); // the same device, a config of this test's own
    SparkSession spark = TestSpark.session();
    Path in = corpus(384), out = tmp.resolve("out");

    // the job's tasks' run times, Spark's own account: how many ran at once
    List<long[]> spans = java.util.Collections.synchronizedList(new ArrayList<>());
    SparkListener slots = new SparkListener() {
      @Override public void onTaskEnd(SparkListenerTaskEnd e) { spans.add(new long[] {e.taskInfo().launchTime(), e.taskInfo().finishTime()}); }
    };
    spark.sparkContext().addSparkListener(slots);
    DeviceRuntime rt;
    JobSummary s;
    try {
      s = withEngineProperties(String.valueOf(BUDGET), device, () -> BatchJob.run(spark,
          JobConfig.of(in.toString(), out.toString()).withModel("default").withDevice(DeviceChoice.OPENCL).withBatchSize(16)
              .withPartitions(4), EmbedJob::new));
      // the runtime the job's model was loaded on: the cache key the tasks used, made from the same properties
      rt = withEngineProperties(String.valueOf(BUDGET), device,
          () -> DeviceRuntime.get(DeviceChoice.OPENCL, new EmbedderCache.Key("default", DeviceChoice.OPENCL).engine()));
      spark.sparkContext().listenerBus().waitUntilEmpty(); // every task's end delivered to the listener
    } finally {
      spark.sparkContext().removeSparkListener(slots);
    }
    assertTrue(s.reconciled());
    assertEquals(384, s.written(), "every row written");
    assertEquals(0, s.rejected());
    assertTrue(s.device().startsWith("opencl"), s.device());
    assertEquals(384, Outputs.sparkRows(spark, out, "parquet").size());

    int mostRunning = mostAtOnce(spans);
    System.out.printf("two slots on %s: budget %d bytes, peak %d bytes held, %d task spans overlapping at most (Spark "
        + "launch/finish times), %d caller(s) at once in the runtime%n", rt.device(), rt.budgetBytes(), rt.peakBytes(),
        mostRunning, rt.mostCallersAtOnce());
    assertEquals(BUDGET, rt.budgetBytes(), "the job's engine has the budget set for the job");
    assertTrue(rt.peakBytes() <= BUDGET, "peak " + rt.peakBytes() + " bytes within the budget " + BUDGET);
    assertTrue(rt.peakBytes() > 80L << 20, "the peak holds the model's ~91 MB of float32 weights: " + rt.peakBytes());
    assertTrue(mostRunning >= 2, "both task slots ran tasks at the same time: " + mostRunning);
    assertEquals(2, rt.mostCallersAtOnce(), "two tasks were in the one runtime at once (one admitted, one waiting)");
  }

  /** The most half-open spans [start, end) that cover one instant. */
  static int mostAtOnce(List<long[]> spans) {
    List<long[]> events = new ArrayList<>();
    synchronized (spans) {
      for (long[] sp : spans) {
        events.add(new long[] {sp[0], 1});
        events.add(new long[] {sp[1], -1});
      }
    }
    events.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1])); // ends before starts
    int now = 0, most = 0;
    for (long[] ev : events) most = Math.max(most, now += (int) ev[1]);
    return most;
  }

  @Test
  void aBudgetTooSmallForTheModelFailsTheJobAtLoad() throws Exception {
    String device = deviceName().toLowerCase(Locale.ROOT);
    SparkSession spark = TestSpark.session();
    Path in = corpus(40), out = tmp.resolve("out");
    UsageException e = assertThrows(UsageException.class, () -> withEngineProperties(String.valueOf(TOO_SMALL), device,
        () -> BatchJob.run(spark, JobConfig.of(in.toString(), out.toString()).withModel("default")
            .withDevice(DeviceChoice.OPENCL), EmbedJob::new)));
    assertTrue(e.getMessage().contains("cannot load model 'default' on device opencl")
        && e.getMessage().contains("budget of " + TOO_SMALL + " bytes") && e.getMessage().contains("sparkinfer.device.budget"),
        e.getMessage());
    assertTrue(!Files.exists(out) || Outputs.sparkRows(spark, out, "parquet").isEmpty(), "no row was written or rejected");
  }
}
