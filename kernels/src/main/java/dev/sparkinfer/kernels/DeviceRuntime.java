package dev.sparkinfer.kernels;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * One engine per executor JVM and device, shared by every model loaded there (a vision tower and a language model
 * alike), with one memory budget (the config's, default 90 % of the device's memory) and an admission gate: Spark runs
 * several tasks per executor, and each task's device work ({@link #admit}) waits its turn, so tasks never hold the
 * device's scratch at the same time and never oversubscribe it (spark-rapids' GpuSemaphore with one concurrent task;
 * the engine is one command stream, so more would only interleave). Weights and state live for the JVM; scratch lives
 * inside one admitted call.
 */
public final class DeviceRuntime implements AutoCloseable {
  private static final Map<String, DeviceRuntime> RUNTIMES = new HashMap<>();

  private final Ops ops;
  private final EngineConfig config;
  private final ReentrantLock gate = new ReentrantLock(true); // fair: tasks are admitted in arrival order
  private final boolean owned;
  /** Callers inside {@link #admit} now (the admitted one and those waiting), and the most there were at once. */
  private final AtomicInteger callers = new AtomicInteger(), mostCallers = new AtomicInteger();
  /** Time spent inside admitted calls, and their number (written under the gate). */
  private volatile long busyNanos, admitted;

  private DeviceRuntime(Ops ops, EngineConfig config, boolean owned) {
    this.ops = ops;
    this.config = config;
    this.owned = owned;
  }

  /**
   * The runtime of this JVM for a device choice, opened on first use with this config. Configs that differ only in how
   * a model's weights are loaded ({@link EngineConfig#engineOnly()}: quantize, prune) share it: those are settings of
   * each model load, not of the engine.
   */
  public static synchronized DeviceRuntime get(DeviceChoice choice, EngineConfig config) {
    String key = choice + "/" + config.openclDevice();
    DeviceRuntime r = RUNTIMES.get(key);
    if (r == null) {
      r = new DeviceRuntime(Devices.open(choice, config), config, false);
      RUNTIMES.put(key, r);
    } else if (!r.config.engineOnly().equals(config.engineOnly())) {
      throw new IllegalStateException("this JVM's " + choice + " engine was opened with " + r.config + "; a second config "
          + config + " for the same device is not supported (one engine per device and executor)");
    }
    return r;
  }

  /** A runtime of its own, not shared with the JVM's (tests, in-process use): {@link #close()} closes its engine. */
  public static DeviceRuntime own(DeviceChoice choice, EngineConfig config) {
    return new DeviceRuntime(Devices.open(choice, config), config, true);
  }

  /** A runtime of its own over an engine made by the caller (tests). */
  static DeviceRuntime open(Ops ops, EngineConfig config) { return new DeviceRuntime(ops, config, true); }

  /** Closes an owned runtime's engine; the JVM's shared runtimes live as long as the JVM (a no-op for them). */
  @Override
  public void close() {
    if (!owned) return;
    gate.lock();
    try {
      ops.close();
    } finally {
      gate.unlock();
    }
  }

  /**
   * Runs {@code work} with the device to itself: loading weights (outside any scope) or a forward pass (inside a scope it
   * opens). Waits while another task is admitted.
   */
  public <T> T admit(Function<Ops, T> work) {
    mostCallers.accumulateAndGet(callers.incrementAndGet(), Math::max);
    try {
      return gated(work);
    } finally {
      callers.decrementAndGet();
    }
  }

  private <T> T gated(Function<Ops, T> work) {
    gate.lock();
    long start = System.nanoTime();
    try {
      return work.apply(ops);
    } finally {
      busyNanos += System.nanoTime() - start; // only the gate's holder writes
      admitted++;
      gate.unlock();
    }
  }

  /**
   * Nanoseconds the engine has spent inside admitted calls (and the other gated reads) since it opened. The busy share
   * of a time span is the difference of two readings over the span's length: how well the tasks kept the engine fed.
   */
  public long busyNanos() { return busyNanos; }

  /** Admitted calls (and gated reads) since the runtime opened; see {@link #busyNanos()}. */
  public long admittedCalls() { return admitted; }

  /**
   * The most callers (task threads) that were inside {@link #admit} at once since the runtime opened: one admitted, the
   * others waiting their turn. 2 or more means tasks shared this runtime concurrently (tests, logs).
   */
  public int mostCallersAtOnce() { return mostCallers.get(); }

  /**
   * The most bytes the engine's memory held at once since it opened (float, int, 16-bit and byte memory: what the
   * budget, {@link #budgetBytes()}, limits; staging buffers aside). Read-only, for tests and logs.
   */
  public long peakBytes() { return gated(o -> ((ArenaOps) o).peakBytes()); }

  /** Tasks waiting for the device now (for progress and tests). */
  public int waiting() { return gate.getQueueLength(); }

  public DeviceInfo device() { return ops.device(); }

  public EngineConfig config() { return config; }

  public Ops.MemoryUse memoryUse() { return gated(Ops::memoryUse); }

  public long budgetBytes() { return ((ArenaOps) ops).budgetBytes(); }
}
