package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.decoder.CausalLm;
import dev.sparkinfer.models.decoder.DecoderModels;
import dev.sparkinfer.models.decoder.DecoderTokenizers;
import dev.sparkinfer.models.decoder.TextTokenizer;
import java.nio.file.Path;

/**
 * The decoder family of the JVM's {@link ModelCache} (teacher-labels, generate): one decoder per (model folder, adapter,
 * device, engine config, cache shape), on the JVM's shared
 * engine for the device ({@link DeviceRuntime}): weights uploaded once, the KV cache kept as engine state, every
 * forward pass admitted in turn with the other tasks of the executor.
 */
public final class DecoderCache {
  public record Key(String modelDir, String loraDir, DeviceChoice device, EngineConfig engine, int entries, int capacity) {}

  /** A loaded decoder: the model (use it only inside {@code runtime.admit}), its tokenizer and a short name. */
  public record Teacher(CausalLm model, TextTokenizer tokenizer, DeviceRuntime runtime, String name) {}

  /** The decoder family: tokenizer, the shared engine for the device, the model with its KV cache. */
  static final ModelCache.Family<Key, Teacher> FAMILY = new ModelCache.Family<>() {
    @Override public String name() { return "decoder"; }

    @Override
    public Teacher load(Key k) {
      Path dir = Path.of(k.modelDir());
      TextTokenizer tok = DecoderTokenizers.load(dir);
      DeviceRuntime rt = DeviceRuntime.get(k.device(), k.engine());
      CausalLm m = rt.admit(ops -> DecoderModels.load(dir, k.loraDir() == null ? null : Path.of(k.loraDir()), ops, k.entries(), k.capacity(),
          k.engine().quantize(), k.engine().prune()));
      if (tok.vocabSize() > m.vocabSize()) {
        throw new IllegalArgumentException(dir + ": the tokenizer has " + tok.vocabSize() + " ids but the model's embeddings have "
            + m.vocabSize() + " rows: the tokenizer files do not belong to this model");
      }
      String name = dir.getFileName().toString() + (k.loraDir() == null ? "" : "+" + Path.of(k.loraDir()).getFileName())
          + k.engine().weightsSuffix(); // what was applied at load: +prune2:4, +int8, ...
      return new Teacher(m, tok, rt, name);
    }

    @Override
    public String describe(Teacher t) { return t.name() + " on " + t.model().deviceDescription(); }

    @Override
    public java.util.List<String> folders(Key k) {
      return k.loraDir() == null ? java.util.List.of(k.modelDir()) : java.util.List.of(k.modelDir(), k.loraDir());
    }
  };

  /** The JVM's decoder for a model folder (and adapter), with a KV cache of entries x capacity tokens. */
  public static Teacher get(String modelDir, String loraDir, int entries, int capacity, DeviceChoice device, EngineConfig engine) {
    return ModelCache.get(FAMILY, new Key(modelDir, loraDir, device, TaskGpu.apply(device, ExecutorCores.apply(engine)), entries, capacity));
  }
}
