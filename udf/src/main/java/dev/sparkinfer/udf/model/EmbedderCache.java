package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.models.ModelRef;

/**
 * The embedder family of the JVM's {@link ModelCache}: one model per (model spec, device, engine config), shared by all
 * tasks of that JVM ({@link Embedder} is thread-safe), loaded by the spec's {@link EmbedderProvider}.
 */
public final class EmbedderCache {
  private EmbedderCache() {}

  /** Cache key; specs are normalised first; the engine config is the driver's (it travelled with the job). */
  public record Key(String modelSpec, DeviceChoice device, EngineConfig engine) {
    public Key {
      modelSpec = EmbedderProviders.normalize(modelSpec);
      if (device == null) device = DeviceChoice.AUTO;
      if (engine == null) engine = EngineConfig.fromSystemProperties();
      engine = TaskGpu.apply(device, ExecutorCores.apply(engine)); // the CPU engine's threads: this executor's cores; the task's GPU
    }

    public Key(String modelSpec, DeviceChoice device) { this(modelSpec, device, null); }
  }

  /** The embedder family: a spec's provider loads it onto the executor's engine for the device. */
  static final ModelCache.Family<Key, Embedder> FAMILY = new ModelCache.Family<>() {
    @Override public String name() { return "embedder"; }

    @Override
    public Embedder load(Key k) { return EmbedderProviders.forSpec(k.modelSpec()).load(k.modelSpec(), k.device(), k.engine()); }

    @Override
    public String describe(Embedder e) { return e.modelName() + " (" + e.dimension() + " dims) on " + e.deviceDescription(); }

    /** A model folder when the production provider loads the spec and it is not the built-in model. */
    @Override
    public java.util.List<String> folders(Key k) {
      if (!(EmbedderProviders.forSpec(k.modelSpec()) instanceof ModelRefProvider) || ModelRef.isDefaultSpec(k.modelSpec())) {
        return java.util.List.of();
      }
      return java.util.List.of(ModelRef.folderOf(k.modelSpec()).toString());
    }
  };

  public static Embedder get(String modelSpec, DeviceChoice device) {
    return get(new Key(modelSpec, device));
  }

  public static Embedder get(String modelSpec, DeviceChoice device, EngineConfig engine) {
    return get(new Key(modelSpec, device, engine));
  }

  public static Embedder get(Key key) { return ModelCache.get(FAMILY, key); }

  /** True when this JVM already holds the model. */
  public static boolean isLoaded(Key key) { return ModelCache.isLoaded(FAMILY, key); }

  /** Closes and forgets every embedder of this JVM (tests, benchmarks). */
  public static void closeAll() { ModelCache.closeAll(FAMILY.name()); }
}
