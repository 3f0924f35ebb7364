package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.image.ClipImagePreprocessor;
import dev.sparkinfer.models.llava.LlavaConfig;
import dev.sparkinfer.models.llava.LlavaModel;
import dev.sparkinfer.models.llava.LlavaPrompt;
import java.nio.file.Path;

/**
 * The LLaVA family of the JVM's {@link ModelCache} (captioning): one model per (folder, device, engine config, KV cache
 * shape), on the JVM's shared engine for the device: the vision tower, projector and language model share its budget.
 */
public final class LlavaCache {
  private LlavaCache() {}

  public record Key(String modelDir, DeviceChoice device, EngineConfig engine, int entries, int capacity) {}

  /** A loaded LLaVA: the model (use it only inside {@code runtime.admit}), its prompt encoder, preprocessing, a short name. */
  public record Llava(LlavaModel model, LlavaPrompt prompt, ClipImagePreprocessor preprocessor, DeviceRuntime runtime, String name) {}

  static final ModelCache.Family<Key, Llava> FAMILY = new ModelCache.Family<>() {
    @Override public String name() { return "llava"; }

    @Override
    public Llava load(Key k) {
      Path dir = Path.of(k.modelDir());
      LlavaConfig c = LlavaConfig.read(dir);
      LlavaPrompt prompt = LlavaPrompt.load(dir, c);
      ClipImagePreprocessor pre = ClipImagePreprocessor.fromModelDir(dir);
      DeviceRuntime rt = DeviceRuntime.get(k.device(), k.engine());
      LlavaModel m = rt.admit(ops -> LlavaModel.load(dir, ops, k.entries(), k.capacity(), k.engine().quantize(), k.engine().prune()));
      return new Llava(m, prompt, pre, rt, dir.getFileName().toString() + k.engine().weightsSuffix()); // +prune2:4, +int8, ...
    }

    @Override
    public String describe(Llava l) { return l.name() + " on " + l.runtime().device(); }

    @Override
    public java.util.List<String> folders(Key k) { return java.util.List.of(k.modelDir()); }
  };

  public static Llava get(String modelDir, int entries, int capacity, DeviceChoice device, EngineConfig engine) {
    return ModelCache.get(FAMILY, new Key(modelDir, device, TaskGpu.apply(device, ExecutorCores.apply(engine)), entries, capacity));
  }
}
