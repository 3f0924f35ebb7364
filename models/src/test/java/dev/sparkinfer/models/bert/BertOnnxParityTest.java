package dev.sparkinfer.models.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.models.Embedders;
import dev.sparkinfer.models.Embedding;
import dev.sparkinfer.models.ModelRef;
import dev.sparkinfer.models.TestTexts;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * all-MiniLM-L6-v2 sentence embeddings from our engine, on the OpenCL device and on the Java reference ops, against
 * ONNX Runtime running the same ONNX file on the same token ids (one text per run: no padding in the reference).
 * Bar: min cosine >= 0.99999 and max |diff| <= 1e-4 over 520 varied texts.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
// OpenCL first: its engine closes before the other engines run in this JVM, beside ONNX Runtime (once a crash's
// setting: the OpenCL driver had replaced the JVM's signal handlers; the test JVMs preload libjsig, see SignalChaining)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BertOnnxParityTest {
  static final int N = 520;
  private List<String> texts;
  private List<int[]> ids;
  private float[][] reference;

  @BeforeAll
  void reference() throws Exception {
    texts = TestTexts.generate(N, 7);
    byte[] onnx;
    try (InputStream in = ModelRef.openDefaultResource(ModelRef.DEFAULT_ONNX_RESOURCE)) {
      onnx = in.readAllBytes();
    }
    // token ids from our tokenizer (its own parity with HF is tested separately); both engines see the same ids
    try (BertEmbedder e = Embedders.load(ModelRef.resolve("default"), DeviceChoice.JAVA, 1)) {
      ids = new ArrayList<>();
      for (String t : texts) ids.add(e.encode(t).ids());
    }
    reference = new float[N][];
    try (OnnxRuntimeReference ort = new OnnxRuntimeReference(onnx, 0)) {
      for (int i = 0; i < N; i++) reference[i] = ort.embed(List.of(ids.get(i)))[0];
    }
    long truncated = ids.stream().filter(x -> x.length == 256).count();
    assertTrue(truncated >= 15, "the texts must exercise truncation; only " + truncated + " reach 256 tokens");
  }

  @Test
  @Order(1)
  void openclMatchesOnnxRuntime() {
    assumeTrue(Devices.openclRuns() || Boolean.getBoolean("sparkinfer.requireOpenCL"),
        "no OpenCL device: install pocl-opencl-icd; skipping the OpenCL half of the ONNX Runtime parity test");
    compare(DeviceChoice.OPENCL);
  }

  @Test
  @Order(2)
  void javaReferenceMatchesOnnxRuntime() { compare(DeviceChoice.JAVA); }

  @Test
  @Order(2)
  void cpuEngineMatchesOnnxRuntime() { compare(DeviceChoice.CPU); }

  private void compare(DeviceChoice device) {
    List<Embedding> got;
    String where;
    try (BertEmbedder e = Embedders.load(ModelRef.resolve("default"), device, 32)) {
      where = e.deviceDescription();
      if (device == DeviceChoice.OPENCL) assertTrue(where.startsWith("opencl"), "asked for OpenCL, ran on " + where);
      if (device == DeviceChoice.CPU) assertTrue(where.startsWith("cpu"), "asked for the CPU engine, ran on " + where);
      got = e.embedDetailed(texts);
    }
    double minCos = 1, maxDiff = 0;
    int worst = -1;
    for (int i = 0; i < N; i++) {
      float[] a = got.get(i).vector(), b = reference[i];
      assertEquals(384, a.length);
      assertEquals(ids.get(i).length, got.get(i).nTokens(), "n_tokens of text " + i);
      double dot = 0, na = 0, nb = 0;
      for (int d = 0; d < a.length; d++) {
        dot += (double) a[d] * b[d];
        na += (double) a[d] * a[d];
        nb += (double) b[d] * b[d];
        maxDiff = Math.max(maxDiff, Math.abs(a[d] - b[d]));
      }
      double cos = dot / Math.sqrt(na * nb);
      if (cos < minCos) {
        minCos = cos;
        worst = i;
      }
    }
    System.out.printf("parity vs ONNX Runtime on %s: %d texts, min cosine %.8f (text %d), max |diff| %.3g%n", where, N, minCos, worst, maxDiff);
    assertTrue(minCos >= 0.99999, device + ": min cosine " + minCos + " at text " + worst + ": '" + (worst >= 0 ? texts.get(worst) : "") + "'");
    assertTrue(maxDiff <= 1e-4, device + ": max |diff| " + maxDiff);
  }
}
