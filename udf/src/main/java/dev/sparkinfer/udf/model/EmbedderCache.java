package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.Embedder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One model per executor JVM per (model spec, device, engine config), shared by all tasks of that JVM ({@link Embedder}
 * is thread-safe); the models of a JVM share its one engine per device ({@code DeviceRuntime}). Loaded on first use; a failed load is not cached, so the next task tries again and the error reaches
 * the driver through the failed task.
 */
public final class EmbedderCache {
  private EmbedderCache() {}

  private static final Logger LOG = LoggerFactory.getLogger(EmbedderCache.class);

  /** Cache key; specs are normalised first; the engine config is the driver's (it travelled with the job). */
  public record Key(String modelSpec, DeviceChoice device, EngineConfig engine) {
    public Key {
      modelSpec = EmbedderProviders.normalize(modelSpec);
      if (device == null) device = DeviceChoice.AUTO;
      if (engine == null) engine = EngineConfig.fromSystemProperties();
      engine = ExecutorCores.apply(engine); // the CPU engine's threads: this executor's cores
    }

    public Key(String modelSpec, DeviceChoice device) { this(modelSpec, device, null); }
  }

  private static final Map<Key, Embedder> MODELS = new ConcurrentHashMap<>();

  public static Embedder get(String modelSpec, DeviceChoice device) {
    return get(new Key(modelSpec, device));
  }

  public static Embedder get(String modelSpec, DeviceChoice device, EngineConfig engine) {
    return get(new Key(modelSpec, device, engine));
  }

  public static Embedder get(Key key) {
    Embedder e = MODELS.get(key);
    if (e != null) return e;
    synchronized (EmbedderCache.class) { // one load at a time: two models at once would double peak memory
      return MODELS.computeIfAbsent(key, k -> {
        long t0 = System.nanoTime();
        Embedder loaded = EmbedderProviders.forSpec(k.modelSpec()).load(k.modelSpec(), k.device(), k.engine());
        LOG.info(String.format("loaded model %s (%d dims) on %s in %.1f s", loaded.modelName(), loaded.dimension(),
            loaded.deviceDescription(), (System.nanoTime() - t0) / 1e9));
        return loaded;
      });
    }
  }

  /** True when this JVM already holds the model. */
  public static boolean isLoaded(Key key) { return MODELS.containsKey(key); }

  /** Closes and forgets every model of this JVM (tests, benchmarks). */
  public static synchronized void closeAll() {
    List<Embedder> all = new ArrayList<>(MODELS.values());
    MODELS.clear();
    for (Embedder e : all) {
      try {
        e.close();
      } catch (Exception ex) {
        LOG.warn("closing model {} failed: {}", e.modelName(), ex.toString());
      }
    }
  }
}
