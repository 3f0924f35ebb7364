package dev.sparkinfer.models.bench;

import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Pruning;
import dev.sparkinfer.kernels.Quantization;

/**
 * A benchmark's weight setting: {@code none}, {@code int8}, {@code int4}, {@code 2:4}, {@code unstructured:0.5}, or
 * a pruning and a quantization joined by {@code +} ({@code 2:4+int4}: pruned, then quantized, as --prune and --quantize
 * together do).
 */
record WeightSetting(String label, Quantization quantize, Pruning prune) {
  static WeightSetting parse(String s) {
    Quantization q = Quantization.NONE;
    Pruning p = Pruning.NONE;
    for (String part : s.split("\\+")) {
      String t = part.trim().toLowerCase(java.util.Locale.ROOT);
      if (t.equals("none") || t.equals("int8") || t.equals("int4")) q = Quantization.parse(t);
      else p = Pruning.parse(t.startsWith("prune") ? t.substring("prune".length()) : t);
    }
    return new WeightSetting(s, q, p);
  }

  boolean isNone() { return quantize == Quantization.NONE && prune.isNone(); }

  EngineConfig applyTo(EngineConfig base) { return base.withQuantize(quantize).withPrune(prune); }
}
