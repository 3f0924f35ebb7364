package dev.sparkinfer.udf.testing;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.udf.model.EmbedderProvider;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test-scope provider (registered in src/test/resources/META-INF/services): {@code test:hash} is a
 * {@link FakeHashEmbedder} of {@link #DIM} dims, {@code test:broken} a model that fails on every call.
 * Not on the production classpath, so production never resolves these specs.
 */
public final class FakeEmbedderProvider implements EmbedderProvider {
  public static final String HASH = "test:hash";
  public static final String BROKEN = "test:broken";
  public static final int DIM = 16;
  /** How many times a model was loaded in this JVM (the cache must load once per key). */
  public static final AtomicInteger LOADS = new AtomicInteger();

  @Override
  public boolean handles(String modelSpec) { return modelSpec.startsWith("test:"); }

  @Override
  public String check(String modelSpec) {
    if (!modelSpec.equals(HASH) && !modelSpec.equals(BROKEN)) {
      throw new IllegalArgumentException("unknown test model '" + modelSpec + "': use " + HASH + " or " + BROKEN);
    }
    return modelSpec.equals(HASH) ? "fake-hash-" + DIM : "fake-broken";
  }

  @Override
  public Embedder load(String modelSpec, DeviceChoice device) {
    check(modelSpec);
    LOADS.incrementAndGet();
    return new FakeHashEmbedder(DIM, modelSpec.equals(BROKEN));
  }
}
