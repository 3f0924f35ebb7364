package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.clip.ClipModel;
import dev.sparkinfer.models.clip.ClipTokenizer;
import dev.sparkinfer.models.image.ClipImagePreprocessor;
import java.nio.file.Path;
import java.util.List;

/**
 * The CLIP family of the JVM's {@link ModelCache}: one CLIP per (model folder, tokenizer folder, device, engine
 * config), on the JVM's shared engine for the device ({@link DeviceRuntime}): weights uploaded once, every forward pass admitted in turn with the
 * executor's other tasks. The prompts' text embeddings of clip-classify are computed once per executor too.
 */
public final class ClipCache {
  public record Key(String modelDir, String tokenizerDir, DeviceChoice device, EngineConfig engine) {}

  /**
   * A loaded CLIP: the model (use it only inside {@code runtime.admit}), its tokenizer, the layout's image
   * preprocessing and a short name.
   */
  public record Clip(ClipModel model, ClipTokenizer tokenizer, ClipImagePreprocessor preprocessor, DeviceRuntime runtime, String name) {}

  /** The CLIP family: tokenizer, the layout's preprocessing, the shared engine for the device, both towers. */
  static final ModelCache.Family<Key, Clip> FAMILY = new ModelCache.Family<>() {
    @Override public String name() { return "clip"; }

    @Override
    public Clip load(Key k) {
      Path dir = Path.of(k.modelDir());
      ClipTokenizer tok = ClipTokenizer.fromDir(Path.of(k.tokenizerDir()));
      ClipImagePreprocessor pre = ClipImagePreprocessor.fromModelDir(dir);
      DeviceRuntime rt = DeviceRuntime.get(k.device(), k.engine());
      ClipModel m = rt.admit(ops -> ClipModel.load(dir, ops, k.engine().quantize(), k.engine().prune()));
      if (pre.imageSize() != m.config().imageSize()) {
        throw new IllegalArgumentException(dir + ": the preprocessing crops to " + pre.imageSize() + " pixels but the vision tower takes "
            + m.config().imageSize());
      }
      return new Clip(m, tok, pre, rt, dir.getFileName().toString() + k.engine().weightsSuffix()); // +prune2:4, +int8, ...
    }

    @Override
    public String describe(Clip c) { return c.name() + " (" + c.preprocessor().layout() + " preprocessing) on " + c.runtime().device(); }

    @Override
    public List<String> folders(Key k) {
      return k.tokenizerDir() == null || k.tokenizerDir().equals(k.modelDir()) ? List.of(k.modelDir()) : List.of(k.modelDir(), k.tokenizerDir());
    }
  };

  /** The prompts' embeddings of clip-classify: derived from a loaded CLIP, kept as long as it. */
  private record Prompts(Clip clip, List<String> prompts) {}

  private static final ModelCache.Family<Prompts, float[][]> PROMPTS = new ModelCache.Family<>() {
    @Override public String name() { return "clip-prompts"; }

    @Override
    public float[][] load(Prompts p) { return embed(p.clip(), p.prompts()); }

    @Override
    public String describe(float[][] e) { return e.length + " prompt embeddings"; }
  };

  public static Clip get(String modelDir, String tokenizerDir, DeviceChoice device, EngineConfig engine) {
    return ModelCache.get(FAMILY, new Key(modelDir, tokenizerDir == null ? modelDir : tokenizerDir, device, TaskGpu.apply(device, ExecutorCores.apply(engine))));
  }

  /** The normalised text embeddings of {@code prompts}, computed once per executor per (model, prompts). */
  public static float[][] promptEmbeddings(Clip clip, List<String> prompts) {
    return ModelCache.get(PROMPTS, new Prompts(clip, List.copyOf(prompts)));
  }

  private static float[][] embed(Clip clip, List<String> prompts) {
    {
      int[][] ids = new int[prompts.size()][];
      for (int i = 0; i < ids.length; i++) ids[i] = clip.tokenizer().context(prompts.get(i), null);
      float[][] e = new float[ids.length][];
      int chunk = 64;
      for (int start = 0; start < ids.length; start += chunk) {
        int[][] part = java.util.Arrays.copyOfRange(ids, start, Math.min(ids.length, start + chunk));
        float[][] got = clip.runtime().admit(ops -> clip.model().encodeTexts(part));
        System.arraycopy(got, 0, e, start, got.length);
      }
      for (float[] v : e) normalize(v);
      return e;
    }
  }

  /** Scales {@code v} to unit L2 norm in place (as the references do: x / ||x||, in float). */
  public static void normalize(float[] v) {
    double s = 0;
    for (float x : v) s += (double) x * x;
    float norm = (float) Math.sqrt(s);
    for (int i = 0; i < v.length; i++) v[i] = v[i] / norm;
  }
}
