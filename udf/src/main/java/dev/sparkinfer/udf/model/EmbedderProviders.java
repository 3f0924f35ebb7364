package dev.sparkinfer.udf.model;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Picks the provider of a model spec: a registered provider that claims it, else {@link ModelRefProvider}. */
public final class EmbedderProviders {
  private EmbedderProviders() {}

  private static final ModelRefProvider MODEL_REF = new ModelRefProvider();

  public static EmbedderProvider forSpec(String modelSpec) {
    for (EmbedderProvider p : registered()) {
      if (p.handles(modelSpec)) return p;
    }
    return MODEL_REF;
  }

  /** Providers found through {@code META-INF/services/dev.sparkinfer.udf.model.EmbedderProvider}. */
  public static List<EmbedderProvider> registered() {
    List<EmbedderProvider> out = new ArrayList<>();
    ServiceLoader.load(EmbedderProvider.class, EmbedderProviders.class.getClassLoader()).forEach(out::add);
    return out;
  }

  /** Canonical form of a spec, so {@code null}, "" and "default" share one cache entry. */
  public static String normalize(String modelSpec) {
    return modelSpec == null || modelSpec.isBlank() ? "default" : modelSpec.trim();
  }
}
