package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The CPU engine's thread pool: every task once per call, call after call; failures rethrown; slots per thread. */
class CpuThreadsTest {
  @Test
  void everyTaskRunsOncePerCallAndSlotsNameThePoolsThreads() {
    try (CpuThreads pool = new CpuThreads(3)) {
      for (int call = 0; call < 2000; call++) {
        int tasks = 1 + call % 37;
        AtomicIntegerArray runs = new AtomicIntegerArray(tasks), slots = new AtomicIntegerArray(tasks);
        pool.forEach(tasks, t -> {
          runs.incrementAndGet(t);
          slots.set(t, pool.slot());
        });
        if (call % 100 == 0) LockSupportPause.pause(); // some calls far apart: the helpers park between them
        for (int t = 0; t < tasks; t++) {
          assertEquals(1, runs.get(t), "task " + t + " of call " + call);
          assertTrue(slots.get(t) >= 0 && slots.get(t) < 3, "slot " + slots.get(t));
        }
      }
    }
  }

  @Test
  void aFailureIsRethrownAndThePoolGoesOn() {
    try (CpuThreads pool = new CpuThreads(2)) {
      IllegalArgumentException boom = new IllegalArgumentException("boom");
      for (int round = 0; round < 50; round++) {
        int failAt = round % 20;
        IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class, () -> pool.forEach(20, t -> {
          if (t == failAt) throw boom;
        }));
        assertSame(boom, thrown);
        AtomicIntegerArray runs = new AtomicIntegerArray(20);
        pool.forEach(20, runs::incrementAndGet);
        for (int t = 0; t < 20; t++) assertEquals(1, runs.get(t));
      }
    }
  }

  /** Waits 200 µs, so the helpers are idle (parked) between calls. */
  private static final class LockSupportPause {
    static void pause() {
      long until = System.nanoTime() + 200_000;
      while (System.nanoTime() < until) java.util.concurrent.locks.LockSupport.parkNanos(50_000);
    }
  }
}
