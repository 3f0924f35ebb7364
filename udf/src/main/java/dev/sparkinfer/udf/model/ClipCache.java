package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.clip.ClipModel;
import dev.sparkinfer.models.clip.ClipTokenizer;
import dev.sparkinfer.models.image.ClipImagePreprocessor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One CLIP model per executor JVM per (model folder, tokenizer folder, device, engine config), on the JVM's shared
 * engine for the device ({@link DeviceRuntime}): weights uploaded once, every forward pass admitted in turn with the
 * executor's other tasks. The prompts' text embeddings of clip-classify are computed once per executor too.
 */
public final class ClipCache {
  private static final Logger LOG = LoggerFactory.getLogger(ClipCache.class);

  public record Key(String modelDir, String tokenizerDir, DeviceChoice device, EngineConfig engine) {}

  /**
   * A loaded CLIP: the model (use it only inside {@code runtime.admit}), its tokenizer, the layout's image
   * preprocessing and a short name.
   */
  public record Clip(ClipModel model, ClipTokenizer tokenizer, ClipImagePreprocessor preprocessor, DeviceRuntime runtime, String name) {}

  private static final Map<Key, Clip> LOADED = new ConcurrentHashMap<>();
  private static final Map<List<Object>, float[][]> PROMPTS = new ConcurrentHashMap<>();

  public static Clip get(String modelDir, String tokenizerDir, DeviceChoice device, EngineConfig engine) {
    Key key = new Key(modelDir, tokenizerDir == null ? modelDir : tokenizerDir, device, ExecutorCores.apply(engine));
    Clip c = LOADED.get(key);
    if (c != null) return c;
    synchronized (ClipCache.class) {
      return LOADED.computeIfAbsent(key, k -> {
        long t0 = System.nanoTime();
        Path dir = Path.of(k.modelDir());
        ClipTokenizer tok = ClipTokenizer.fromDir(Path.of(k.tokenizerDir()));
        ClipImagePreprocessor pre = ClipImagePreprocessor.fromModelDir(dir);
        DeviceRuntime rt = DeviceRuntime.get(k.device(), k.engine());
        ClipModel m = rt.admit(ops -> ClipModel.load(dir, ops));
        if (pre.imageSize() != m.config().imageSize()) {
          throw new IllegalArgumentException(dir + ": the preprocessing crops to " + pre.imageSize() + " pixels but the vision tower takes "
              + m.config().imageSize());
        }
        String name = dir.getFileName().toString();
        LOG.info(String.format("loaded CLIP %s (%s preprocessing) on %s in %.1f s", name, pre.layout(), rt.device(), (System.nanoTime() - t0) / 1e9));
        return new Clip(m, tok, pre, rt, name);
      });
    }
  }

  /** The normalised text embeddings of {@code prompts}, computed once per executor per (model, prompts). */
  public static float[][] promptEmbeddings(Clip clip, List<String> prompts) {
    return PROMPTS.computeIfAbsent(List.of(clip, prompts), k -> {
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
    });
  }

  /** Scales {@code v} to unit L2 norm in place (as the references do: x / ||x||, in float). */
  public static void normalize(float[] v) {
    double s = 0;
    for (float x : v) s += (double) x * x;
    float norm = (float) Math.sqrt(s);
    for (int i = 0; i < v.length; i++) v[i] = v[i] / norm;
  }
}
