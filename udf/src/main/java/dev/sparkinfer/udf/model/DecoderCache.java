package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.decoder.CausalLm;
import dev.sparkinfer.models.decoder.DecoderModels;
import dev.sparkinfer.models.decoder.DecoderTokenizers;
import dev.sparkinfer.models.decoder.TextTokenizer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One decoder (teacher-labels, generate) per executor JVM per (model folder, adapter, device, engine config, cache
 * shape), on the JVM's shared
 * engine for the device ({@link DeviceRuntime}): weights uploaded once, the KV cache kept as engine state, every
 * forward pass admitted in turn with the other tasks of the executor.
 */
public final class DecoderCache {
  private static final Logger LOG = LoggerFactory.getLogger(DecoderCache.class);

  public record Key(String modelDir, String loraDir, DeviceChoice device, EngineConfig engine, int entries, int capacity) {}

  /** A loaded decoder: the model (use it only inside {@code runtime.admit}), its tokenizer and a short name. */
  public record Teacher(CausalLm model, TextTokenizer tokenizer, DeviceRuntime runtime, String name) {}

  private static final Map<Key, Teacher> LOADED = new ConcurrentHashMap<>();

  /** The JVM's decoder for a model folder (and adapter), with a KV cache of entries x capacity tokens. */
  public static Teacher get(String modelDir, String loraDir, int entries, int capacity, DeviceChoice device, EngineConfig engine) {
    Key key = new Key(modelDir, loraDir, device, ExecutorCores.apply(engine), entries, capacity);
    Teacher t = LOADED.get(key);
    if (t != null) return t;
    synchronized (DecoderCache.class) {
      return LOADED.computeIfAbsent(key, k -> {
        long t0 = System.nanoTime();
        Path dir = Path.of(k.modelDir());
        TextTokenizer tok = DecoderTokenizers.load(dir);
        DeviceRuntime rt = DeviceRuntime.get(k.device(), k.engine());
        CausalLm m = rt.admit(ops -> DecoderModels.load(dir, k.loraDir() == null ? null : Path.of(k.loraDir()), ops, k.entries(), k.capacity()));
        if (tok.vocabSize() > m.vocabSize()) {
          throw new IllegalArgumentException(dir + ": the tokenizer has " + tok.vocabSize() + " ids but the model's embeddings have "
              + m.vocabSize() + " rows: the tokenizer files do not belong to this model");
        }
        String name = dir.getFileName().toString() + (k.loraDir() == null ? "" : "+" + Path.of(k.loraDir()).getFileName());
        LOG.info(String.format("loaded decoder %s on %s in %.1f s", name, m.deviceDescription(), (System.nanoTime() - t0) / 1e9));
        return new Teacher(m, tok, rt, name);
      });
    }
  }
}
