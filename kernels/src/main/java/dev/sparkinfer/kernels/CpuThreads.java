package dev.sparkinfer.kernels;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The CPU engine's threads: a fixed number, chosen by the job (the cores Spark gives the executor), never the JVM's
 * common pool, so an executor running several tasks does not oversubscribe its cores. The caller's thread works too;
 * tasks are handed out one index at a time so uneven work (padded rows, causal attention) balances.
 */
final class CpuThreads implements AutoCloseable {
  private final int threads;
  private final ExecutorService helpers;

  CpuThreads(int threads) {
    if (threads < 1) throw new IllegalArgumentException("the CPU engine needs at least one thread, got " + threads);
    this.threads = threads;
    AtomicInteger n = new AtomicInteger();
    this.helpers = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
      int slot = n.incrementAndGet();
      Thread t = new Thread(() -> {
        slots.set(slot);
        r.run();
      }, "sparkinfer-cpu-" + slot);
      t.setDaemon(true);
      return t;
    });
  }

  int threads() { return threads; }

  /** Each helper thread's number, 1 .. threads - 1; unset on other threads. */
  private final ThreadLocal<Integer> slots = new ThreadLocal<>();

  /**
   * Which of this pool's threads runs the current task of {@link #forEach}: 0 for the calling thread, 1 .. threads - 1
   * for the helpers. Tasks running at the same time have different slots (for per-thread scratch).
   */
  int slot() {
    Integer s = slots.get();
    return s == null ? 0 : s;
  }

  /** Runs body(0..tasks-1) on the engine's threads and returns when all are done; the first failure is rethrown. */
  void forEach(int tasks, IntConsumer body) {
    int workers = Math.min(threads, tasks);
    if (workers <= 1) {
      for (int i = 0; i < tasks; i++) body.accept(i);
      return;
    }
    AtomicInteger next = new AtomicInteger();
    Runnable work = () -> {
      for (int i; (i = next.getAndIncrement()) < tasks; ) body.accept(i);
    };
    @SuppressWarnings("unchecked")
    Future<?>[] running = new Future<?>[workers - 1];
    for (int w = 0; w < running.length; w++) running[w] = helpers.submit(work);
    Throwable failed = null;
    try {
      work.run();
    } catch (Throwable t) {
      failed = t;
      next.set(tasks); // the others stop taking work
    }
    for (Future<?> f : running) {
      try {
        f.get();
      } catch (java.util.concurrent.ExecutionException e) {
        if (failed == null) failed = e.getCause();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        if (failed == null) failed = e;
      }
    }
    if (failed instanceof RuntimeException r) throw r;
    if (failed instanceof Error e) throw e;
    if (failed != null) throw new IllegalStateException(failed);
  }

  @Override
  public void close() {
    if (helpers != null) helpers.shutdownNow();
  }
}
