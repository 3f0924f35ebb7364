package dev.sparkinfer.udf.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executor JVM's models, every family alike (embedders, decoders, CLIP): one model per (family, key), loaded on
 * first use onto the JVM's shared engine for its device ({@code DeviceRuntime}: one memory budget, tasks admitted in
 * turn), one load at a time (two at once would double the peak memory), a failed load not cached (the next task tries
 * again; the error reaches the driver through the failed task). The key holds what makes two models different: the
 * model's folder or spec, the device, the engine config that travelled with the job, and family settings (a KV
 * cache's shape). A family is one small {@link Family}: how to load one model from its key, and which local folders
 * that reads. A folder missing or unreadable on this machine fails the load with the folder, the executor's host and
 * the fix ({@link ModelFolders}), before any weight is read.
 */
public final class ModelCache {
  private ModelCache() {}

  private static final Logger LOG = LoggerFactory.getLogger(ModelCache.class);

  /** A model family: loads one model of its kind from a key (called once per JVM per key, under the load lock). */
  public interface Family<K, M> {
    /** Short name for logs: {@code embedder}, {@code decoder}, {@code clip}. */
    String name();

    M load(K key);

    /** What the log line says of a loaded model (its name and device). */
    default String describe(M model) { return String.valueOf(model); }

    /**
     * The local folders the key loads from (a model folder, an adapter, a tokenizer folder); none for a built-in or
     * test model. Checked on the loading JVM first: the driver checked them on its own disk, not the executor's.
     */
    default List<String> folders(K key) { return List.of(); }
  }

  private record Entry(String family, Object key) {}

  private static final Map<Entry, Object> MODELS = new ConcurrentHashMap<>();

  /** The JVM's model of {@code family} for {@code key}, loaded now if it is not yet. */
  @SuppressWarnings("unchecked")
  public static <K, M> M get(Family<K, M> family, K key) {
    Entry e = new Entry(family.name(), key);
    Object m = MODELS.get(e);
    if (m != null) return (M) m;
    synchronized (ModelCache.class) {
      return (M) MODELS.computeIfAbsent(e, k -> {
        long t0 = System.nanoTime();
        List<String> folders = family.folders(key);
        for (String f : folders) ModelFolders.checkHere(family.name(), f);
        M loaded;
        try {
          loaded = family.load(key);
        } catch (RuntimeException ex) {
          throw ModelFolders.explain(family.name(), folders, ex);
        }
        LOG.info(String.format("loaded %s %s in %.1f s", family.name(), family.describe(loaded), (System.nanoTime() - t0) / 1e9));
        return loaded;
      });
    }
  }

  /** True when this JVM holds the model. */
  public static boolean isLoaded(Family<?, ?> family, Object key) { return MODELS.containsKey(new Entry(family.name(), key)); }

  /** How many models of each family this JVM holds (tests, logs). */
  public static Map<String, Integer> loaded() {
    Map<String, Integer> m = new TreeMap<>();
    for (Entry e : MODELS.keySet()) m.merge(e.family(), 1, Integer::sum);
    return m;
  }

  /** Closes and forgets every model of this JVM, or of one family (tests, benchmarks). */
  public static synchronized void closeAll(String familyOrNull) {
    List<Object> closing = new ArrayList<>();
    MODELS.entrySet().removeIf(en -> {
      if (familyOrNull != null && !en.getKey().family().equals(familyOrNull)) return false;
      closing.add(en.getValue());
      return true;
    });
    for (Object m : closing) {
      if (!(m instanceof AutoCloseable c)) continue;
      try {
        c.close();
      } catch (Exception ex) {
        LOG.warn("closing model {} failed: {}", m, ex.toString());
      }
    }
  }
}
