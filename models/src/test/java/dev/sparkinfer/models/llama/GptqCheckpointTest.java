package dev.sparkinfer.models.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.LinearWeight;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Pruning;
import dev.sparkinfer.kernels.Quantization;
import dev.sparkinfer.kernels.QuantizedWeights;
import dev.sparkinfer.kernels.Tensor;
import dev.sparkinfer.models.Fixtures;
import dev.sparkinfer.models.decoder.CausalLm;
import dev.sparkinfer.models.decoder.DecoderModels;
import dev.sparkinfer.models.weights.DType;
import dev.sparkinfer.models.weights.SafeTensors;
import dev.sparkinfer.models.weights.SafeTensorsWriter;
import dev.sparkinfer.models.weights.WeightSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * GPTQ 4-bit checkpoints: tensors packed here from the format's description (AutoGPTQ's QuantLinear: qweight int32
 * [in/8, out], 8 inputs per word from the low bits; qzeros int32 [groups, out/8], zero - 1 in v1, the zero in v2;
 * scales f16 [groups, out]; g_idx int32 [in]; w = scale * (q - zero)), loaded, and multiplied on the Java and CPU
 * engines against a dequantize-then-matmul reference written in this test from the same description; a whole
 * llama-tiny packed as GPTQ gives (Java, CPU and, where there is one, OpenCL engine) the logits of the float checkpoint of its dequantized weights; unsupported settings
 * are refused with what to do.
 */
class GptqCheckpointTest {
  @TempDir Path tmp;

  /** A layer's integers q[o][i] in 0..15, zero points zero[g][o], f16 scales (bits) [g][o]. */
  record Packed(int out, int in, int group, int[][] q, int[][] zero, char[][] scale) {
    int groups() { return (in + group - 1) / group; }

    /** The reference: w[o][i] = scale[g][o] * (q[o][i] - zero[g][o]), g = i / group. */
    float[] dequantized() {
      float[] w = new float[out * in];
      for (int o = 0; o < out; o++) {
        for (int i = 0; i < in; i++) {
          int g = i / group;
          w[o * in + i] = dev.sparkinfer.kernels.DType.F16.toFloat(scale[g][o]) * (q[o][i] - zero[g][o]);
        }
      }
      return w;
    }

    /** The GPTQ tensors of layer {@code p}, packed by the description; v1 stores zero - 1. */
    void write(SafeTensorsWriter wr, String p, boolean v1, int[] gIdx) {
      int[] qweight = new int[in / 8 * out];
      for (int r = 0; r < in / 8; r++) {
        for (int o = 0; o < out; o++) {
          int word = 0;
          for (int j = 0; j < 8; j++) word |= q[o][8 * r + j] << (4 * j);
          qweight[r * out + o] = word;
        }
      }
      int[] qzeros = new int[groups() * out / 8];
      for (int g = 0; g < groups(); g++) {
        for (int c = 0; c < out / 8; c++) {
          int word = 0;
          for (int j = 0; j < 8; j++) word |= ((zero[g][8 * c + j] - (v1 ? 1 : 0)) & 0xf) << (4 * j);
          qzeros[g * (out / 8) + c] = word;
        }
      }
      int[] scales = new int[groups() * out];
      for (int g = 0; g < groups(); g++) for (int o = 0; o < out; o++) scales[g * out + o] = scale[g][o];
      wr.i32(p + ".qweight", new long[] {in / 8, out}, qweight);
      wr.i32(p + ".qzeros", new long[] {groups(), out / 8}, qzeros);
      wr.u16(p + ".scales", "F16", new long[] {groups(), out}, scales);
      if (gIdx == null) {
        gIdx = new int[in];
        for (int i = 0; i < in; i++) gIdx[i] = i / group;
      }
      wr.i32(p + ".g_idx", new long[] {in}, gIdx);
    }
  }

  static Packed random(int out, int in, int group, long seed) {
    Random r = new Random(seed);
    int groups = (in + group - 1) / group;
    int[][] q = new int[out][in], zero = new int[groups][out];
    char[][] scale = new char[groups][out];
    for (int[] row : q) for (int i = 0; i < in; i++) row[i] = r.nextInt(16);
    for (int g = 0; g < groups; g++) {
      for (int o = 0; o < out; o++) {
        zero[g][o] = 8; // symmetric
        scale[g][o] = dev.sparkinfer.kernels.DType.F16.fromFloat(0.001f + 0.02f * r.nextFloat());
      }
    }
    return new Packed(out, in, group, q, zero, scale);
  }

  /** Symmetric per-group quantization of a float weight, as GPTQ's sym=True stores it (zero 8, q in 0..15). */
  static Packed quantize(float[] w, int out, int in, int group) {
    int groups = (in + group - 1) / group;
    int[][] q = new int[out][in], zero = new int[groups][out];
    char[][] scale = new char[groups][out];
    for (int o = 0; o < out; o++) {
      for (int g = 0; g < groups; g++) {
        float max = 0;
        for (int i = g * group; i < Math.min(in, (g + 1) * group); i++) max = Math.max(max, Math.abs(w[o * in + i]));
        char s = dev.sparkinfer.kernels.DType.F16.fromFloat(Math.max(max / 7, 1e-6f));
        float sf = dev.sparkinfer.kernels.DType.F16.toFloat(s);
        scale[g][o] = s;
        zero[g][o] = 8;
        for (int i = g * group; i < Math.min(in, (g + 1) * group); i++) q[o][i] = Math.max(0, Math.min(15, Math.round(w[o * in + i] / sf) + 8));
      }
    }
    return new Packed(out, in, group, q, zero, scale);
  }

  @ParameterizedTest(name = "[{0}, {1}] group {2} v1 {3}")
  @CsvSource({"40,256,128,true", "16,96,32,true", "24,64,-1,true", "32,256,128,false", "8,1024,128,true"})
  void packedLayersMultiplyAsTheirDequantizedWeights(int out, int in, int groupSize, boolean v1) throws Exception {
    int group = groupSize == -1 ? in : groupSize;
    Packed p = random(out, in, group, 31L * out + in);
    SafeTensorsWriter wr = new SafeTensorsWriter();
    p.write(wr, "layer", v1, null);
    Path file = wr.write(tmp.resolve("gptq.safetensors"));
    float[] w = p.dequantized();
    int rows = 3;
    float[] x = new float[rows * in];
    Random r = new Random(5);
    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    GptqCheckpoint cfg = new GptqCheckpoint(4, groupSize, false, true, v1, "test");
    QuantizedWeights qw;
    try (WeightSource src = SafeTensors.open(file)) {
      qw = cfg.load(src, "layer", out, in);
    }
    assertEquals(Quantization.INT4, qw.scheme());
    assertEquals(group, qw.group());
    for (String engine : List.of("java", "cpu")) {
      try (Ops ops = Devices.open(DeviceChoice.parse(engine), EngineConfig.defaults().withCpuThreads(2))) {
        LinearWeight lw = ops.uploadLinear(qw);
        Tensor xt = ops.upload(x);
        float[] got;
        try (Ops.Scope s = ops.scope()) {
          Tensor y = ops.alloc(rows * out);
          ops.linear(y, xt, lw, null, rows);
          got = ops.read(y);
        }
        for (int row = 0; row < rows; row++) {
          for (int o = 0; o < out; o++) {
            double ref = 0, mag = 0;
            for (int i = 0; i < in; i++) {
              ref += (double) x[row * in + i] * w[o * in + i];
              mag += Math.abs((double) x[row * in + i] * w[o * in + i]);
            }
            assertEquals(ref, got[row * out + o], 1e-5 * Math.max(1, mag), engine + " row " + row + " out " + o);
          }
        }
      }
    }
  }

  @Test
  void unsupportedSettingsAreRefusedSayingWhatToDo() throws Exception {
    int out = 16, in = 64, group = 32;
    // a zero point other than 8 (asymmetric data)
    Packed asym = random(out, in, group, 1);
    asym.zero()[1][5] = 3;
    SafeTensorsWriter wr = new SafeTensorsWriter();
    asym.write(wr, "a", true, null);
    // act-order: a permuted g_idx
    int[] perm = new int[in];
    for (int i = 0; i < in; i++) perm[i] = (in - 1 - i) / group;
    random(out, in, group, 2).write(wr, "b", true, perm);
    Path file = wr.write(tmp.resolve("bad.safetensors"));
    try (WeightSource src = SafeTensors.open(file)) {
      IllegalArgumentException z = assertThrows(IllegalArgumentException.class,
          () -> new GptqCheckpoint(4, group, false, true, true, "t").load(src, "a", out, in));
      assertTrue(z.getMessage().contains("zero point 3, not 8: only symmetric GPTQ"), z.getMessage());
      IllegalArgumentException act = assertThrows(IllegalArgumentException.class,
          () -> new GptqCheckpoint(4, group, true, true, true, "t").load(src, "b", out, in));
      assertTrue(act.getMessage().contains("act-order (desc_act)") && act.getMessage().contains("desc_act false"), act.getMessage());
      // v2 read as v1 (or the reverse) shows as a wrong zero point, never as silently shifted weights
      IllegalArgumentException fmt = assertThrows(IllegalArgumentException.class,
          () -> new GptqCheckpoint(4, group, false, true, false, "t").load(src, "a", out, in));
      assertTrue(fmt.getMessage().contains("checkpoint_format"), fmt.getMessage());
    }
    for (String[] bad : new String[][] {
        {"{\"quant_method\":\"gptq\",\"bits\":8,\"group_size\":128,\"sym\":true}", "bits 8 is not supported"},
        {"{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,\"sym\":false}", "sym false (asymmetric GPTQ"},
        {"{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":128}", "quant_method 'awq' is not supported"},
        {"{\"quant_method\":\"gptq\",\"bits\":4,\"checkpoint_format\":\"marlin\"}", "checkpoint_format 'marlin' is not supported"}}) {
      Path dir = Files.createDirectories(tmp.resolve("cfg" + Math.abs(bad[0].hashCode())));
      Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"llama\",\"quantization_config\":" + bad[0] + "}");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GptqCheckpoint.read(dir));
      assertTrue(e.getMessage().contains(bad[1]), e.getMessage());
    }
    Path plain = Files.createDirectories(tmp.resolve("plain"));
    Files.writeString(plain.resolve("config.json"), "{\"model_type\":\"llama\"}");
    assertEquals(null, GptqCheckpoint.read(plain));
    Path auto = Files.createDirectories(tmp.resolve("autogptq"));
    Files.writeString(auto.resolve("config.json"), "{\"model_type\":\"llama\"}");
    Files.writeString(auto.resolve("quantize_config.json"), "{\"bits\":4,\"group_size\":64,\"desc_act\":false,\"sym\":true}");
    GptqCheckpoint c = GptqCheckpoint.read(auto);
    assertEquals(64, c.group());
    assertTrue(c.v1(), "AutoGPTQ's quantize_config without checkpoint_format is the v1 format");
  }

  /**
   * llama-tiny with every layer's Linear weight packed as GPTQ (group 32, v1) loads as INT4 and gives, on the Java and
   * CPU engines, the logits of a float checkpoint holding the same weights dequantized by this test.
   */
  @Test
  void aGptqLlamaGivesTheLogitsOfItsDequantizedWeights() throws Exception {
    Path dir = Fixtures.require("llama-tiny");
    Path gptq = Files.createDirectories(tmp.resolve("llama-tiny-gptq")), deq = Files.createDirectories(tmp.resolve("llama-tiny-deq"));
    String config = Files.readString(dir.resolve("config.json"));
    Files.writeString(deq.resolve("config.json"), config);
    Files.writeString(gptq.resolve("config.json"), config.replaceFirst("\\{", "{\"quantization_config\": {\"quant_method\": \"gptq\", "
        + "\"bits\": 4, \"group_size\": 32, \"desc_act\": false, \"sym\": true, \"checkpoint_format\": \"gptq\"},"));
    SafeTensorsWriter g = new SafeTensorsWriter(), d = new SafeTensorsWriter();
    int packed = 0;
    List<String> layers = new java.util.ArrayList<>();
    java.util.Map<String, int[]> shapes = new java.util.HashMap<>();
    try (WeightSource w = SafeTensors.openModelDir(dir)) {
      for (String name : new TreeSet<>(w.names())) {
        long[] shape = w.shape(name);
        if (name.endsWith("_proj.weight")) {
          int out = (int) shape[0], in = (int) shape[1];
          Packed p = quantize(w.floats(name), out, in, 32);
          p.write(g, name.substring(0, name.length() - ".weight".length()), true, null);
          d.f32(name, shape, p.dequantized());
          packed++;
          layers.add(name);
          shapes.put(name, new int[] {out, in});
        } else if (w.dtype(name) == DType.BF16) {
          char[] bits = w.bits16(name);
          int[] v = new int[bits.length];
          for (int i = 0; i < v.length; i++) v[i] = bits[i];
          g.u16(name, "BF16", shape, v);
          d.u16(name, "BF16", shape, v);
        } else {
          g.f32(name, shape, w.floats(name));
          d.f32(name, shape, w.floats(name));
        }
      }
    }
    assertEquals(14, packed, "2 layers x q, k, v, o, gate, up, down");
    g.write(gptq.resolve("model.safetensors"));
    d.write(deq.resolve("model.safetensors"));
    int[] prompt = {128000, 5, 9, 2, 7, 3, 11, 4};
    float[] want;
    try (Ops ops = Devices.open(DeviceChoice.JAVA, EngineConfig.defaults());
         CausalLm m = DecoderModels.load(deq, null, ops, 1, prompt.length + 1)) {
      want = m.forward(0, new int[][] {prompt}, new int[] {0}, true);
    }
    double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
    for (float v : want) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    List<String> engines = new java.util.ArrayList<>(List.of("java", "cpu"));
    if (!Devices.openclDevices().isEmpty()) engines.add("opencl"); // PoCL here: the OpenCL kernels with group 32
    for (String engine : engines) {
      try (Ops ops = Devices.open(DeviceChoice.parse(engine), EngineConfig.defaults().withCpuThreads(2));
           CausalLm m = DecoderModels.load(gptq, null, ops, 1, prompt.length + 1)) {
        assertTrue(ops.memoryUse().weights8Bytes() > 0, engine + ": the GPTQ layers are not held as INT4 bytes");
        if (!engine.equals("opencl")) { // the loader reserved the INT4 bytes (each layer: out x in / 2, padded as the engine
          // packs, plus alignment), and the byte memory was sized to that once
          long need = 0;
          for (String p : layers) need += ops.linearBytes(shapes.get(p)[0], shapes.get(p)[1], dev.sparkinfer.kernels.Quantization.INT4) + 64;
          assertTrue(ops.memoryUse().weights8Bytes() <= need, engine + ": the byte memory holds "
              + ops.memoryUse().weights8Bytes() + " bytes for about " + need + " (the loader did not reserve room for the GPTQ layers)");
        }
        float[] got = m.forward(0, new int[][] {prompt}, new int[] {0}, true);
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
        System.out.printf("llama-tiny GPTQ (group 32) on %s vs its dequantized float checkpoint: max |diff| %.2e of the logits' range%n",
            engine, worst / (hi - lo));
        assertTrue(worst / (hi - lo) <= 1e-4, engine + ": GPTQ logits differ by " + worst / (hi - lo) + " of their range");
      }
    }
    try (Ops ops = Devices.open(DeviceChoice.JAVA, EngineConfig.defaults())) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> DecoderModels.load(gptq, null, ops, 1, 8, Quantization.INT8, Pruning.NONE));
      assertTrue(e.getMessage().contains("is a GPTQ 4-bit checkpoint") && e.getMessage().contains("leave them out"), e.getMessage());
    }
    IllegalArgumentException early = assertThrows(IllegalArgumentException.class,
        () -> DecoderModels.checkWeights(gptq, Quantization.NONE, Pruning.TWO_FOUR, false)); // what the jobs check before Spark starts
    assertTrue(early.getMessage().contains("leave them out"), early.getMessage());
    DecoderModels.checkWeights(gptq, Quantization.NONE, Pruning.NONE, false);
  }
}
