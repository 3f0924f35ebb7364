package dev.sparkinfer.models.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.models.weights.SafeTensors;
import dev.sparkinfer.models.weights.WeightSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * A PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors), merged into the base weights at load:
 * W + (alpha / r) B A, in float (PEFT's merge). Only plain LoRA on Linear weights: rsLoRA, DoRA and fan_in_fan_out
 * adapters are refused with a message.
 */
public final class LoraAdapter implements AutoCloseable {
  private final WeightSource w;
  private final float scale;
  private final int rank;
  private final Set<String> used = new HashSet<>();

  private LoraAdapter(WeightSource w, float scale, int rank) {
    this.w = w;
    this.scale = scale;
    this.rank = rank;
  }

  public static LoraAdapter open(Path dir) {
    Path cfg = dir.resolve("adapter_config.json");
    JsonNode c;
    try {
      c = new ObjectMapper().readTree(Files.readAllBytes(cfg));
    } catch (IOException e) {
      throw new IllegalArgumentException(cfg + ": cannot read the LoRA adapter's config (" + e.getMessage() + "); --lora needs a PEFT adapter folder", e);
    }
    if (!"LORA".equals(c.path("peft_type").asText())) throw new IllegalArgumentException(cfg + ": peft_type is '" + c.path("peft_type").asText() + "', not LORA");
    if (c.path("use_rslora").asBoolean(false) || c.path("use_dora").asBoolean(false) || c.path("fan_in_fan_out").asBoolean(false)) {
      throw new IllegalArgumentException(cfg + ": rsLoRA, DoRA and fan_in_fan_out adapters are not supported");
    }
    int r = c.path("r").asInt();
    double alpha = c.path("lora_alpha").asDouble();
    if (r <= 0) throw new IllegalArgumentException(cfg + ": r must be positive, got " + r);
    return new LoraAdapter(SafeTensors.open(dir.resolve("adapter_model.safetensors")), (float) (alpha / r), r);
  }

  /**
   * The merged update (alpha / r) B A for the base weight {@code name} ({@code ...q_proj.weight}), [out, in], or null
   * when the adapter does not touch it.
   */
  public float[] delta(String name, int out, int in) {
    if (!touches(name)) return null;
    String base = base(name);
    String a = base + ".lora_A.weight", b = base + ".lora_B.weight";
    long[] sa = w.shape(a), sb = w.shape(b);
    if (sa[0] != rank || sa[1] != in || sb[0] != out || sb[1] != rank) {
      throw new IllegalArgumentException(w.origin() + ": LoRA for " + name + " has A " + java.util.Arrays.toString(sa) + " and B "
          + java.util.Arrays.toString(sb) + ", expected A [" + rank + ", " + in + "] and B [" + out + ", " + rank + "]");
    }
    float[] fa = w.floats(a), fb = w.floats(b), d = new float[out * in];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) {
        float s = 0;
        for (int k = 0; k < rank; k++) s += fb[o * rank + k] * fa[k * in + i];
        d[o * in + i] = scale * s;
      }
    }
    used.add(a);
    used.add(b);
    return d;
  }

  /** Whether the adapter updates the base weight {@code name} (which then loads as float32, the update merged). */
  public boolean touches(String name) {
    if (!name.endsWith(".weight")) return false;
    String base = base(name);
    return w.has(base + ".lora_A.weight") || w.has(base + ".lora_B.weight");
  }

  private static String base(String name) { return "base_model.model." + name.substring(0, name.length() - ".weight".length()); }

  /** Fails when the adapter holds tensors no base weight took (a wrong base model, or unsupported targets). */
  public void checkAllUsed() {
    Set<String> left = new HashSet<>(w.names());
    left.removeAll(used);
    if (!left.isEmpty()) {
      throw new IllegalArgumentException(w.origin() + ": LoRA tensors match no weight of the base model: " + left.stream().sorted().limit(5).toList()
          + (left.size() > 5 ? " and " + (left.size() - 5) + " more" : "") + "; is this adapter for this model?");
    }
  }

  @Override
  public void close() { w.close(); }
}
