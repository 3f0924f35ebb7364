package dev.sparkinfer.models.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.kernels.QuantizedWeights;
import dev.sparkinfer.models.weights.DType;
import dev.sparkinfer.models.weights.WeightSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A GPTQ-packed 4-bit checkpoint (AutoGPTQ / GPTQModel / transformers' {@code quant_method: "gptq"}) of the LLaMA
 * family, mapped onto our INT4 representation ({@link QuantizedWeights}: {@code w = q * scale}, q in [-8, 7], a scale
 * per group of inputs of each output row) without dequantizing: the weights stay 4-bit.
 *
 * <p>The format, per Linear layer {@code P} ({@code P.qweight}, {@code P.qzeros}, {@code P.scales}, {@code P.g_idx},
 * PyTorch's {@code [out, in]} weight seen transposed), as AutoGPTQ's {@code QuantLinear.pack} writes it and its torch
 * fallback reads it:
 * <ul>
 *   <li>{@code qweight} int32 {@code [in / 8, out]}: input {@code 8r + j} of column o is bits {@code 4j .. 4j + 3} of
 *       {@code qweight[r, o]}, an unsigned 0..15;</li>
 *   <li>{@code qzeros} int32 {@code [groups, out / 8]}: the zero point of output {@code 8c + j} in group g is bits
 *       {@code 4j ..} of {@code qzeros[g, c]} <b>plus one</b> in the v1 format ({@code checkpoint_format} "gptq", the
 *       default: AutoGPTQ packs {@code zeros - 1} and adds 1 when it unpacks); as stored in GPTQModel's "gptq_v2";</li>
 *   <li>{@code scales} f16 {@code [groups, out]};</li>
 *   <li>{@code g_idx} int32 {@code [in]}: the group of each input, {@code i / group_size} unless act-order
 *       ({@code desc_act}) permuted them;</li>
 *   <li>{@code w[o, i] = scales[g, o] * (q[i, o] - zero[g, o])}, {@code g = g_idx[i]}.</li>
 * </ul>
 * With symmetric quantization ({@code sym: true}) every zero point is 8, so {@code q - 8} is our signed nibble and the
 * f16 scale our float scale: the mapping is exact. Refused, with a message: bits other than 4; {@code sym: false}
 * (per-group zero points: our INT4 kernels hold none) and any zero point other than 8 in the data; a non-trivial
 * {@code g_idx} (act-order: its input permutation is not implemented); formats other than "gptq"/"gptq_v2"; other
 * {@code quant_method}s (AWQ packs differently).
 *
 * @param group inputs per scale group ({@code group_size}; -1 in the config: the whole row)
 * @param v1    zero points stored minus one (checkpoint_format "gptq"); false for "gptq_v2"
 */
public record GptqCheckpoint(int bits, int group, boolean descAct, boolean sym, boolean v1, String source) {
  /**
   * The folder's GPTQ settings: {@code config.json}'s {@code quantization_config} (transformers/optimum), else
   * {@code quantize_config.json} (AutoGPTQ); null when the folder holds an unquantized checkpoint. Fails, saying what
   * is unsupported, for the settings listed above.
   */
  public static GptqCheckpoint read(Path dir) {
    JsonNode q = null;
    String source = null;
    try {
      Path cfg = dir.resolve("config.json");
      if (Files.isRegularFile(cfg)) {
        JsonNode c = new ObjectMapper().readTree(Files.readAllBytes(cfg)).path("quantization_config");
        if (c.isObject()) { q = c; source = cfg + " quantization_config"; }
      }
      Path qc = dir.resolve("quantize_config.json");
      if (q == null && Files.isRegularFile(qc)) { q = new ObjectMapper().readTree(Files.readAllBytes(qc)); source = qc.toString(); }
    } catch (IOException e) {
      throw new IllegalArgumentException(dir + ": cannot read its quantization config (" + e.getMessage() + ")", e);
    }
    if (q == null) return null;
    String method = q.path("quant_method").asText("gptq");
    if (!method.equals("gptq")) {
      throw new IllegalArgumentException(source + ": quant_method '" + method + "' is not supported; this engine loads GPTQ "
          + "4-bit checkpoints (quant_method gptq) or float/16-bit ones (then --quantize int8|int4 quantizes at load)");
    }
    int bits = q.path("bits").asInt(-1);
    if (bits != 4) {
      throw new IllegalArgumentException(source + ": GPTQ with bits " + bits + " is not supported: only 4-bit GPTQ checkpoints map "
          + "onto this engine's INT4 weights");
    }
    int group = q.path("group_size").asInt(128);
    boolean descAct = q.path("desc_act").asBoolean(false);
    boolean sym = q.path("sym").asBoolean(true);
    if (!sym) {
      throw new IllegalArgumentException(source + ": sym false (asymmetric GPTQ, a zero point per group) is not supported: this "
          + "engine's INT4 weights are symmetric (no zero point); use a sym=true GPTQ checkpoint, or the float checkpoint with --quantize int4");
    }
    String format = q.path("checkpoint_format").asText("gptq");
    boolean v1 = switch (format) {
      case "gptq" -> true;
      case "gptq_v2" -> false;
      default -> throw new IllegalArgumentException(source + ": checkpoint_format '" + format + "' is not supported (gptq or gptq_v2 are)");
    };
    return new GptqCheckpoint(bits, group, descAct, sym, v1, source);
  }

  /** Whether the checkpoint holds Linear layer {@code prefix} ({@code model.layers.0.self_attn.q_proj}) GPTQ-packed. */
  public static boolean has(WeightSource w, String prefix) { return w.has(prefix + ".qweight"); }

  /**
   * Linear layer {@code prefix} ({@code [out, in]}) as our INT4 weights: the packed integers and f16 scales re-laid
   * out, nothing dequantized. Fails naming the tensor for wrong shapes or types, a non-trivial {@code g_idx} or a
   * zero point other than 8.
   */
  public QuantizedWeights load(WeightSource w, String prefix, int out, int in) {
    String qw = prefix + ".qweight", qz = prefix + ".qzeros", sc = prefix + ".scales", gi = prefix + ".g_idx";
    int group = this.group == -1 ? in : this.group;
    if (group <= 0 || group % 2 != 0) throw new IllegalArgumentException(source + ": group_size " + this.group + " is not supported (an even number of inputs, or -1)");
    if (in % 8 != 0 || out % 8 != 0) throw new IllegalArgumentException(w.origin() + ": " + prefix + " is [" + out + ", " + in + "]: GPTQ packs 8 values per int32 along both");
    int groups = (in + group - 1) / group;
    shape(w, qw, DType.I32, in / 8, out);
    shape(w, qz, DType.I32, groups, out / 8);
    shape(w, sc, DType.F16, groups, out);
    if (w.has(gi)) {
      shape(w, gi, DType.I32, in);
      long[] g = w.longs(gi);
      for (int i = 0; i < in; i++) {
        if (g[i] != i / group) {
          throw new IllegalArgumentException(w.origin() + ": " + gi + "[" + i + "] is " + g[i] + ", not " + i + " / " + group
              + (descAct ? ": act-order (desc_act) checkpoints permute the inputs' groups, which this engine does not implement; "
              + "use a checkpoint quantized with desc_act false" : ": the groups are not consecutive runs of group_size inputs"));
        }
      }
    }
    long[] packed = w.longs(qw), zeros = w.longs(qz);
    float[] scale = w.floats(sc); // [groups, out]
    int rowBytes = in / 2;
    byte[] values = new byte[Math.toIntExact((long) out * rowBytes)];
    float[] scales = new float[Math.toIntExact((long) out * groups)];
    for (int g = 0; g < groups; g++) {
      for (int o = 0; o < out; o++) {
        int z = (int) ((zeros[g * (out / 8) + o / 8] >>> (4 * (o % 8))) & 0xf) + (v1 ? 1 : 0);
        if (z != 8) {
          throw new IllegalArgumentException(w.origin() + ": " + qz + " gives output " + o + " of group " + g + " the zero point " + z
              + ", not 8: only symmetric GPTQ maps onto this engine's INT4 weights (is checkpoint_format right? v1 'gptq' stores zero - 1)");
        }
        scales[o * groups + g] = scale[g * out + o];
      }
    }
    for (int r = 0; r < in / 8; r++) {
      for (int o = 0; o < out; o++) {
        long word = packed[r * out + o];
        for (int j = 0; j < 8; j += 2) {
          int lo = (int) ((word >>> (4 * j)) & 0xf) - 8, hi = (int) ((word >>> (4 * (j + 1))) & 0xf) - 8; // signed nibbles, [-8, 7]
          values[o * rowBytes + (8 * r + j) / 2] = (byte) ((lo & 0xf) | (hi << 4));
        }
      }
    }
    return new QuantizedWeights(Quantization.INT4, out, in, group, values, scales);
  }

  private static void shape(WeightSource w, String name, DType type, long... want) {
    if (!w.has(name)) throw new IllegalArgumentException(w.origin() + " lacks tensor '" + name + "' of a GPTQ-packed Linear layer");
    if (w.dtype(name) != type) throw new IllegalArgumentException(w.origin() + ": tensor '" + name + "' is " + w.dtype(name) + ", GPTQ stores it as " + type);
    if (!Arrays.equals(w.shape(name), want)) {
      throw new IllegalArgumentException(w.origin() + ": tensor '" + name + "' has shape " + Arrays.toString(w.shape(name)) + ", expected "
          + Arrays.toString(want) + " for this layer and group_size");
    }
  }
}
