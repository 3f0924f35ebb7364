package dev.sparkinfer.udf.testing;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.udf.model.EmbedderProvider;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test-scope provider (registered in src/test/resources/META-INF/services): {@code test:hash} is a
 * {@link FakeHashEmbedder} of {@link #DIM} dims, {@code test:slow} the same with a CPU cost per token (benchmark
 * smoke runs), {@code test:broken} a model that fails on every call.
 * Not on the production classpath, so production never resolves these specs.
 */
public final class FakeEmbedderProvider implements EmbedderProvider {
  public static final String HASH = "test:hash";
  public static final String BROKEN = "test:broken";
  /** Like HASH, plus CPU work per token (about a small CPU model's cost), for benchmark smoke runs. */
  public static final String SLOW = "test:slow";
  public static final int SLOW_WORK_PER_TOKEN = 200_000;
  public static final int DIM = 16;
  /** How many times a model was loaded in this JVM (the cache must load once per key). */
  public static final AtomicInteger LOADS = new AtomicInteger();

  @Override
  public boolean handles(String modelSpec) { return modelSpec.startsWith("test:"); }

  @Override
  public String check(String modelSpec) {
    return switch (modelSpec) {
      case HASH -> "fake-hash-" + DIM;
      case SLOW -> "fake-slow-" + DIM;
      case BROKEN -> "fake-broken";
      default -> throw new IllegalArgumentException("unknown test model '" + modelSpec + "': use " + HASH + ", " + SLOW
          + " or " + BROKEN);
    };
  }

  /** As below; a device pin in the engine config (a task's GPU, udf.model.TaskGpu) shows in the device description. */
  @Override
  public Embedder load(String modelSpec, DeviceChoice device, EngineConfig engine) {
    if (engine == null || engine.openclDevice().isBlank()) return load(modelSpec, device);
    check(modelSpec);
    LOADS.incrementAndGet();
    return new FakeHashEmbedder(DIM, modelSpec.equals(BROKEN), modelSpec.equals(SLOW) ? SLOW_WORK_PER_TOKEN : 0,
        "java (fake), OpenCL pin " + engine.openclDevice());
  }

  @Override
  public Embedder load(String modelSpec, DeviceChoice device) {
    check(modelSpec);
    LOADS.incrementAndGet();
    return new FakeHashEmbedder(DIM, modelSpec.equals(BROKEN), modelSpec.equals(SLOW) ? SLOW_WORK_PER_TOKEN : 0);
  }
}
