package dev.sparkinfer.models.weights;

import static dev.sparkinfer.models.weights.SafeTensorsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.sparkinfer.models.ModelRef;
import dev.sparkinfer.models.weights.onnx.OnnxProto.AttributeProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.GraphProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.ModelProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.NodeProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.OperatorSetIdProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.StringStringEntryProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.TensorProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.TypeProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.ValueInfoProto;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxWeightsTest {
  private static byte[] minilmBytes;
  private static OnnxWeights minilm;

  @TempDir Path tmp;

  @BeforeAll
  static void loadDefaultModel() throws IOException {
    try (InputStream in = ModelRef.openDefaultResource(ModelRef.DEFAULT_ONNX_RESOURCE)) {
      minilmBytes = in.readAllBytes();
    }
    minilm = OnnxWeights.open(new ByteArrayInputStream(minilmBytes), "all-minilm-l6-v2.onnx");
  }

  // ---------------------------------------------------------------------------------------- all-MiniLM-L6-v2 names

  /** Every weight of a Hugging Face {@code BertModel} (6 layers, hidden 384, FFN 1536) under its HF name and shape. */
  @Test
  void everyBertWeightHasItsHuggingFaceNameAndShape() {
    Map<String, long[]> want = new LinkedHashMap<>();
    want.put("embeddings.word_embeddings.weight", new long[] {30522, 384});
    want.put("embeddings.position_embeddings.weight", new long[] {512, 384});
    want.put("embeddings.token_type_embeddings.weight", new long[] {2, 384});
    want.put("embeddings.LayerNorm.weight", new long[] {384});
    want.put("embeddings.LayerNorm.bias", new long[] {384});
    for (int l = 0; l < 6; l++) {
      String p = "encoder.layer." + l + ".";
      for (String m : new String[] {"query", "key", "value"}) {
        want.put(p + "attention.self." + m + ".weight", new long[] {384, 384});
        want.put(p + "attention.self." + m + ".bias", new long[] {384});
      }
      want.put(p + "attention.output.dense.weight", new long[] {384, 384});
      want.put(p + "attention.output.dense.bias", new long[] {384});
      want.put(p + "attention.output.LayerNorm.weight", new long[] {384});
      want.put(p + "attention.output.LayerNorm.bias", new long[] {384});
      want.put(p + "intermediate.dense.weight", new long[] {1536, 384});
      want.put(p + "intermediate.dense.bias", new long[] {1536});
      want.put(p + "output.dense.weight", new long[] {384, 1536});
      want.put(p + "output.dense.bias", new long[] {384});
      want.put(p + "output.LayerNorm.weight", new long[] {384});
      want.put(p + "output.LayerNorm.bias", new long[] {384});
    }
    want.put("pooler.dense.weight", new long[] {384, 384});
    want.put("pooler.dense.bias", new long[] {384});
    for (Map.Entry<String, long[]> e : want.entrySet()) {
      assertTrue(minilm.has(e.getKey()), "missing " + e.getKey());
      assertArrayEquals(e.getValue(), minilm.shape(e.getKey()), e.getKey());
      assertEquals(DType.F32, minilm.dtype(e.getKey()), e.getKey());
      assertEquals(product(e.getValue()), minilm.floats(e.getKey()).length, e.getKey());
    }
    // the rest: the position_ids buffer and the small Constant-node tensors (150 named /.../Constant_N_output_0 and
    // 48 INT64 [1] Unsqueeze axes named onnx::Unsqueeze_N); no anonymous weight is left
    int constants = 0;
    for (String n : minilm.names()) {
      if (want.containsKey(n) || n.equals("embeddings.position_ids")) continue;
      constants++;
      assertTrue(n.matches("/.*Constant(_\\d+)?_output_0|onnx::Unsqueeze_\\d+"), n);
      assertTrue(product(minilm.shape(n)) <= 1, n + " " + Arrays.toString(minilm.shape(n)));
    }
    assertEquals(198, constants);
    assertEquals(want.size() + 1 + 198, minilm.names().size());
    assertEquals(DType.I64, minilm.dtype("embeddings.position_ids"));
    assertArrayEquals(new long[] {1, 512}, minilm.shape("embeddings.position_ids"));
    long[] pos = minilm.longs("embeddings.position_ids");
    for (int i = 0; i < 512; i++) assertEquals(i, pos[i]);
    assertTrue(minilm.skipped().isEmpty(), minilm.skipped().toString());
  }

  @Test
  void anonymousMatMulWeightsAreRenamedAndTransposed() {
    assertEquals("onnx::MatMul_885", minilm.originalName("encoder.layer.0.attention.self.query.weight"));
    assertEquals("onnx::MatMul_886", minilm.originalName("encoder.layer.0.attention.self.key.weight"));
    assertEquals("onnx::MatMul_889", minilm.originalName("encoder.layer.0.attention.self.value.weight"));
    assertEquals("onnx::MatMul_895", minilm.originalName("encoder.layer.0.attention.output.dense.weight"));
    assertEquals("encoder.layer.0.intermediate.dense.weight", minilm.canonicalName("onnx::MatMul_896"));
    assertEquals("encoder.layer.0.output.dense.weight", minilm.canonicalName("onnx::MatMul_897"));
    assertEquals("encoder.layer.5.output.dense.weight", minilm.canonicalName("onnx::MatMul_962"));
    assertTrue(minilm.isTransposed("encoder.layer.3.intermediate.dense.weight"));
    assertFalse(minilm.isTransposed("pooler.dense.weight"), "Gemm transB=1 keeps [out, in]");
    assertFalse(minilm.isTransposed("embeddings.word_embeddings.weight"));
    assertEquals("embeddings.LayerNorm.bias", minilm.originalName("embeddings.LayerNorm.bias"));
    assertMessage(() -> minilm.floats("onnx::MatMul_896"), "'onnx::MatMul_896' is presented as 'encoder.layer.0.intermediate.dense.weight'");
    assertMessage(() -> minilm.shape("bert.embeddings.word_embeddings.weight"), "did you mean 'embeddings.word_embeddings.weight'");
  }

  @Test
  void graphFacts() {
    assertEquals(7, minilm.irVersion());
    assertEquals(Map.of("", 14L), minilm.opsets());
    assertEquals("pytorch 1.13.0", minilm.producer());
    assertEquals(List.of("input_ids", "attention_mask", "token_type_ids"), minilm.inputs().stream().map(OnnxWeights.ValueInfo::name).toList());
    for (OnnxWeights.ValueInfo v : minilm.inputs()) assertEquals("INT64", v.elemType(), v.toString());
    assertEquals("output_0 FLOAT [batch, Addoutput_0_dim_1, 384]", minilm.outputs().get(0).toString());
    assertEquals("882 FLOAT [batch, 384]", minilm.outputs().get(1).toString());
    assertEquals(48, minilm.opTypes().get("MatMul"));
    assertEquals(1, minilm.opTypes().get("Gemm"));
    assertTrue(minilm.opTypes().keySet().stream().noneMatch(op -> op.contains(":")), "no contrib ops: " + minilm.opTypes());
  }

  /** The transposed view against the stored ONNX tensor, read here straight from the protobuf. */
  @Test
  void transposedWeightsMatchTheRawOnnxTensors() throws IOException {
    GraphProto g = ModelProto.parseFrom(minilmBytes).getGraph();
    Map<String, TensorProto> inits = new LinkedHashMap<>();
    for (TensorProto t : g.getInitializerList()) inits.put(t.getName(), t);
    int checked = 0;
    for (NodeProto n : g.getNodeList()) {
      if (!n.getOpType().equals("MatMul") || !inits.containsKey(n.getInput(1))) continue;
      TensorProto raw = inits.get(n.getInput(1));
      int in = (int) raw.getDims(0), out = (int) raw.getDims(1);
      float[] stored = new float[in * out];
      raw.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(stored);
      String hf = n.getName().substring(1).replace("/MatMul", "").replace('/', '.') + ".weight";
      assertArrayEquals(new long[] {out, in}, minilm.shape(hf), hf);
      float[] w = minilm.floats(hf);
      for (int o = 0; o < out; o++) {
        for (int i = 0; i < in; i++) {
          if (w[o * in + i] != stored[i * out + o]) throw new AssertionError(hf + "[" + o + "," + i + "]");
        }
      }
      checked++;
    }
    assertEquals(36, checked);
  }

  /**
   * Values against ONNX Runtime: the model with a few intermediate values exposed as outputs; the embeddings
   * (gathers + LayerNorm) and two projections recomputed in Java from the imported HF-named weights.
   */
  @Test
  void importedWeightsReproduceOnnxRuntimeIntermediates() throws Exception {
    String emb = "/embeddings/LayerNorm/Add_1_output_0";
    String query = "/encoder/layer.0/attention/self/query/MatMul_output_0";
    String attnLn = "/encoder/layer.0/attention/output/LayerNorm/Add_1_output_0";
    String inter = "/encoder/layer.0/intermediate/dense/MatMul_output_0";
    ModelProto m = ModelProto.parseFrom(minilmBytes);
    GraphProto.Builder g = m.getGraph().toBuilder();
    for (String name : new String[] {emb, query, attnLn, inter}) {
      g.addOutput(ValueInfoProto.newBuilder().setName(name)
          .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1))));
    }
    byte[] probe = m.toBuilder().setGraph(g).build().toByteArray();

    long[] ids = {101, 7592, 2088, 1010, 2023, 2003, 1037, 3231, 1012, 102};
    long[] mask = new long[ids.length];
    Arrays.fill(mask, 1);
    long[] types = new long[ids.length];
    int seq = ids.length, h = 384;
    Map<String, float[]> ort = new LinkedHashMap<>();
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(1);
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT); // keep the named intermediates
      try (OrtSession s = env.createSession(probe, opts);
           OnnxTensor a = OnnxTensor.createTensor(env, new long[][] {ids});
           OnnxTensor b = OnnxTensor.createTensor(env, new long[][] {mask});
           OnnxTensor c = OnnxTensor.createTensor(env, new long[][] {types});
           OrtSession.Result r = s.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c), Set.of(emb, query, attnLn, inter))) {
        for (String name : new String[] {emb, query, attnLn, inter}) {
          OnnxTensor t = (OnnxTensor) r.get(name).orElseThrow();
          float[] v = new float[(int) product(t.getInfo().getShape())];
          t.getFloatBuffer().get(v);
          ort.put(name, v);
        }
      }
    }
    // embeddings: word + position + token type, then LayerNorm (eps 1e-12)
    float[] word = minilm.floats("embeddings.word_embeddings.weight");
    float[] pos = minilm.floats("embeddings.position_embeddings.weight");
    float[] typ = minilm.floats("embeddings.token_type_embeddings.weight");
    float[] x = new float[seq * h];
    for (int t = 0; t < seq; t++) {
      for (int j = 0; j < h; j++) x[t * h + j] = word[(int) ids[t] * h + j] + pos[t * h + j] + typ[(int) types[t] * h + j];
    }
    float[] e = layerNorm(x, seq, h, minilm.floats("embeddings.LayerNorm.weight"), minilm.floats("embeddings.LayerNorm.bias"));
    assertClose(ort.get(emb), e, "embeddings");
    // linear layers without bias (ONNX adds it after the MatMul): y = x W^T with W [out, in]
    assertClose(ort.get(query), linear(ort.get(emb), seq, minilm, "encoder.layer.0.attention.self.query.weight"), "query");
    assertClose(ort.get(inter), linear(ort.get(attnLn), seq, minilm, "encoder.layer.0.intermediate.dense.weight"), "intermediate");
  }

  // ------------------------------------------------------------------------------------------- synthetic models

  /** Every storage variant and the naming rule on a small hand-built model. */
  @Test
  void syntheticModelCoversStorageVariantsAndNaming() {
    GraphProto.Builder g = GraphProto.newBuilder().setName("g");
    // anonymous MatMul weight [in 2, out 3], raw floats
    g.addInitializer(rawF32("onnx::MatMul_7", new long[] {2, 3}, 1, 2, 3, 4, 5, 6));
    g.addNode(node("MatMul", "/block/proj/MatMul", List.of("x", "onnx::MatMul_7"), "y"));
    // a named weight in float_data keeps its name and layout
    g.addInitializer(TensorProto.newBuilder().setName("head.weight").setDataType(1).addDims(2).addDims(2)
        .addAllFloatData(List.of(1f, -1f, 0.5f, 2f)));
    g.addNode(node("MatMul", "/head/MatMul", List.of("y2", "head.weight"), "z"));
    // Gemm with transB = 0 and anonymous weight and bias; Gemm with transB = 1 keeps [out, in]
    g.addInitializer(rawF32("onnx::Gemm_9", new long[] {3, 2}, 1, 2, 3, 4, 5, 6));
    g.addInitializer(rawF32("onnx::Gemm_10", new long[] {2}, 7, 8));
    g.addNode(node("Gemm", "/fc/Gemm", List.of("z", "onnx::Gemm_9", "onnx::Gemm_10"), "w").toBuilder()
        .addAttribute(AttributeProto.newBuilder().setName("transB").setType(AttributeProto.AttributeType.INT).setI(0)).build());
    g.addInitializer(rawF32("onnx::Gemm_11", new long[] {2, 3}, 1, 2, 3, 4, 5, 6));
    g.addNode(node("Gemm", "/fc2/Gemm", List.of("w", "onnx::Gemm_11"), "v").toBuilder()
        .addAttribute(AttributeProto.newBuilder().setName("transB").setType(AttributeProto.AttributeType.INT).setI(1)).build());
    // an anonymous MatMul weight whose derived name is taken keeps its original name
    g.addInitializer(rawF32("block.proj.weight", new long[] {1}, 0));
    // FLOAT16 in int32_data and raw, BFLOAT16 raw, INT64 in int64_data, INT32 raw
    g.addInitializer(TensorProto.newBuilder().setName("half").setDataType(10).addDims(3).addAllInt32Data(List.of(0x3C00, 0xC000, 0x8001)));
    g.addInitializer(TensorProto.newBuilder().setName("half_raw").setDataType(10).addDims(2).setRawData(bytes16(0x7C00, 0x0001)));
    g.addInitializer(TensorProto.newBuilder().setName("bf").setDataType(16).addDims(2).setRawData(bytes16(0x3F80, 0xC049)));
    g.addInitializer(TensorProto.newBuilder().setName("ids").setDataType(7).addDims(3).addAllInt64Data(List.of(1L, -2L, 1L << 40)));
    ByteBuffer i32 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(5).putInt(-6);
    g.addInitializer(TensorProto.newBuilder().setName("i32").setDataType(6).addDims(2).setRawData(ByteString.copyFrom(i32.array())));
    g.addInitializer(TensorProto.newBuilder().setName("text").setDataType(8).addDims(1).addStringData(ByteString.copyFromUtf8("hi")));
    // a Constant node holding a tensor
    g.addNode(node("Constant", "/c/Constant", List.of(), "/c/Constant_output_0").toBuilder()
        .addAttribute(AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR)
            .setT(TensorProto.newBuilder().setDataType(1).addDims(2).addAllFloatData(List.of(3f, 4f)))).build());
    g.addNode(node("MatMul", "/block/proj/MatMul_1", List.of("x", "block.proj.weight"), "y3"));

    OnnxWeights w = OnnxWeights.open(new ByteArrayInputStream(model(g).toByteArray()), "synthetic");
    assertEquals(Set.of("block.proj.weight", "head.weight", "fc.weight", "fc.bias", "fc2.weight", "half", "half_raw", "bf", "ids",
        "i32", "/c/Constant_output_0", "onnx::MatMul_7"), w.names(), "named block.proj.weight exists, so onnx::MatMul_7 keeps its name");
    assertArrayEquals(new long[] {2, 3}, w.shape("onnx::MatMul_7"));
    assertFalse(w.isTransposed("onnx::MatMul_7"));
    assertArrayEquals(new float[] {1, -1, 0.5f, 2}, w.floats("head.weight"));
    assertArrayEquals(new long[] {2, 3}, w.shape("fc.weight"), "Gemm transB=0 [in 3, out 2] -> [out, in]");
    assertArrayEquals(new float[] {1, 3, 5, 2, 4, 6}, w.floats("fc.weight"));
    assertEquals("onnx::Gemm_9", w.originalName("fc.weight"));
    assertArrayEquals(new float[] {7, 8}, w.floats("fc.bias"));
    assertArrayEquals(new long[] {2, 3}, w.shape("fc2.weight"));
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, w.floats("fc2.weight"), "transB=1: not transposed");
    assertEquals(DType.F16, w.dtype("half"));
    assertArrayEquals(new float[] {1f, -2f, -0x1p-24f}, w.floats("half"));
    assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, 0x1p-24f}, w.floats("half_raw"));
    assertEquals(DType.BF16, w.dtype("bf"));
    assertArrayEquals(new float[] {1f, -3.140625f}, w.floats("bf"));
    assertArrayEquals(new long[] {1L, -2L, 1L << 40}, w.longs("ids"));
    assertArrayEquals(new long[] {5, -6}, w.longs("i32"));
    assertArrayEquals(new float[] {3f, 4f}, w.floats("/c/Constant_output_0"));
    assertEquals("ONNX data type STRING is not supported", w.skipped().get("text"));
    assertMessage(() -> w.floats("text"), "'text' was left out", "STRING");
    assertMessage(() -> w.floats("ids"), "'ids' is I64");
    assertMessage(() -> w.longs("half"), "'half' is F16");

    // the same anonymous weight renamed when nothing holds the derived name; a wrong element count fails
    GraphProto.Builder g2 = GraphProto.newBuilder().addInitializer(rawF32("onnx::MatMul_7", new long[] {2, 3}, 1, 2, 3, 4, 5, 6))
        .addNode(node("MatMul", "/block/proj/MatMul", List.of("x", "onnx::MatMul_7"), "y"));
    OnnxWeights w2 = OnnxWeights.open(new ByteArrayInputStream(model(g2).toByteArray()), "synthetic2");
    assertEquals(Set.of("block.proj.weight"), w2.names());
    assertArrayEquals(new long[] {3, 2}, w2.shape("block.proj.weight"));
    assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, w2.floats("block.proj.weight"));
    GraphProto.Builder g3 = GraphProto.newBuilder().addInitializer(rawF32("short", new long[] {2, 3}, 1, 2, 3));
    assertMessage(() -> OnnxWeights.open(new ByteArrayInputStream(model(g3).toByteArray()), "synthetic3"),
        "synthetic3", "tensor 'short'", "needs 6 F32 elements but raw_data holds 3");
  }

  @Test
  void externalDataIsRejectedClearly() {
    GraphProto.Builder g = GraphProto.newBuilder().addInitializer(TensorProto.newBuilder().setName("big.weight").setDataType(1)
        .addDims(1000).setDataLocation(TensorProto.DataLocation.EXTERNAL)
        .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("model.onnx_data")));
    assertMessage(() -> OnnxWeights.open(new ByteArrayInputStream(model(g).toByteArray()), "ext.onnx"),
        "ext.onnx", "tensor 'big.weight'", "external file 'model.onnx_data'", "not supported");
  }

  @Test
  void truncatedOrGarbageFilesFailClearly() throws IOException {
    Path truncated = Files.write(tmp.resolve("truncated.onnx"), Arrays.copyOf(minilmBytes, minilmBytes.length / 2));
    assertMessage(() -> OnnxWeights.open(truncated), "truncated.onnx", "truncated or not an ONNX file", "protobuf parsing failed");
    byte[] noise = new byte[4096];
    new Random(1).nextBytes(noise);
    Path garbage = Files.write(tmp.resolve("garbage.onnx"), noise);
    assertMessage(() -> OnnxWeights.open(garbage), "garbage.onnx", "not an ONNX");
    Path text = Files.writeString(tmp.resolve("text.onnx"), "<html>not a model</html>");
    assertMessage(() -> OnnxWeights.open(text), "text.onnx", "not an ONNX");
    Path empty = Files.write(tmp.resolve("empty.onnx"), new byte[0]);
    assertMessage(() -> OnnxWeights.open(empty), "empty.onnx", "no graph");
    assertMessage(() -> OnnxWeights.open(tmp.resolve("absent.onnx")), "absent.onnx", "does not exist");
  }

  @Test
  void opensFromAFileToo() throws IOException {
    Path f = Files.write(tmp.resolve("model.onnx"), minilmBytes);
    OnnxWeights w = OnnxWeights.open(f);
    assertEquals(minilm.names(), w.names());
    assertArrayEquals(minilm.floats("encoder.layer.2.output.dense.weight"), w.floats("encoder.layer.2.output.dense.weight"));
    assertTrue(w.origin().endsWith("model.onnx"));
  }

  // ------------------------------------------------------------------------------------------------------- helpers

  private static ModelProto model(GraphProto.Builder g) {
    return ModelProto.newBuilder().setIrVersion(8).setProducerName("test")
        .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17)).setGraph(g).build();
  }

  private static NodeProto node(String op, String name, List<String> inputs, String output) {
    return NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(inputs).addOutput(output).build();
  }

  private static TensorProto rawF32(String name, long[] dims, float... v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) b.putFloat(x);
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(1).setRawData(ByteString.copyFrom(b.array()));
    for (long d : dims) t.addDims(d);
    return t.build();
  }

  private static ByteString bytes16(int... bits) {
    ByteBuffer b = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int x : bits) b.putShort((short) x);
    return ByteString.copyFrom(b.array());
  }

  private static long product(long[] shape) {
    long n = 1;
    for (long d : shape) n *= d;
    return n;
  }

  private static float[] layerNorm(float[] x, int rows, int h, float[] gamma, float[] beta) {
    float[] y = new float[x.length];
    for (int r = 0; r < rows; r++) {
      double mean = 0, var = 0;
      for (int j = 0; j < h; j++) mean += x[r * h + j];
      mean /= h;
      for (int j = 0; j < h; j++) var += (x[r * h + j] - mean) * (x[r * h + j] - mean);
      var /= h;
      double inv = 1 / Math.sqrt(var + 1e-12);
      for (int j = 0; j < h; j++) y[r * h + j] = (float) ((x[r * h + j] - mean) * inv * gamma[j] + beta[j]);
    }
    return y;
  }

  private static float[] linear(float[] x, int rows, WeightSource w, String name) {
    long[] s = w.shape(name);
    int out = (int) s[0], in = (int) s[1];
    float[] wt = w.floats(name);
    float[] y = new float[rows * out];
    for (int r = 0; r < rows; r++) {
      for (int o = 0; o < out; o++) {
        double acc = 0;
        for (int i = 0; i < in; i++) acc += (double) x[r * in + i] * wt[o * in + i];
        y[r * out + o] = (float) acc;
      }
    }
    return y;
  }

  private static void assertClose(float[] want, float[] got, String what) {
    assertNotNull(want, what);
    assertEquals(want.length, got.length, what);
    double worst = 0;
    for (int i = 0; i < want.length; i++) {
      double d = Math.abs(want[i] - got[i]) / Math.max(1, Math.abs(want[i]));
      worst = Math.max(worst, d);
    }
    assertTrue(worst <= 1e-4, what + ": max relative diff " + worst);
  }
}
