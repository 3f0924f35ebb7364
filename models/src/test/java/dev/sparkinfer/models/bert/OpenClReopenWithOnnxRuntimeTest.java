package dev.sparkinfer.models.bert;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.models.Embedders;
import dev.sparkinfer.models.ModelRef;
import dev.sparkinfer.models.TestTexts;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The conditions of a crash once seen (a JVM holding ONNX Runtime died right after an OpenCL embedder closed): the real
 * default model on OpenCL loaded, run, closed and loaded again several times in one JVM beside a live ONNX Runtime
 * session, with garbage collections and the Java engine working between the OpenCL rounds; every round matches ONNX
 * Runtime. (The cause of that crash: the OpenCL driver replaces the JVM's signal handlers; see kernels' SignalChaining.)
 */
class OpenClReopenWithOnnxRuntimeTest {
  @Test
  void openclEmbedderReopensBesideOnnxRuntime() throws Exception {
    assumeTrue(Devices.openclRuns() || Boolean.getBoolean("sparkinfer.requireOpenCL"),
        "no OpenCL device: install pocl-opencl-icd");
    List<String> texts = TestTexts.generate(12, 3);
    byte[] onnx;
    try (InputStream in = ModelRef.openDefaultResource(ModelRef.DEFAULT_ONNX_RESOURCE)) {
      onnx = in.readAllBytes();
    }
    try (OnnxRuntimeReference ort = new OnnxRuntimeReference(onnx, 0)) {
      List<int[]> ids = new ArrayList<>();
      try (BertEmbedder e = Embedders.load(ModelRef.resolve("default"), DeviceChoice.JAVA, 4)) {
        for (String t : texts) ids.add(e.encode(t).ids());
      }
      float[][] want = new float[texts.size()][];
      for (int i = 0; i < texts.size(); i++) want[i] = ort.embed(List.of(ids.get(i)))[0];
      for (int round = 0; round < 3; round++) {
        float[][] got;
        try (BertEmbedder e = Embedders.load(ModelRef.resolve("default"), DeviceChoice.OPENCL, 4)) {
          got = e.embed(texts);
        }
        System.gc();
        for (int i = 0; i < texts.size(); i++) {
          assertTrue(maxDiff(want[i], got[i]) <= 1e-4, "round " + round + ", text " + i + ": max |diff| " + maxDiff(want[i], got[i]));
          // ONNX Runtime and the Java engine keep working after the OpenCL engine closed
          assertTrue(maxDiff(want[i], ort.embed(List.of(ids.get(i)))[0]) == 0, "ONNX Runtime after close, text " + i);
        }
        try (BertEmbedder e = Embedders.load(ModelRef.resolve("default"), DeviceChoice.JAVA, 4)) {
          float[][] j = e.embed(texts.subList(0, 2));
          for (int i = 0; i < 2; i++) assertTrue(maxDiff(want[i], j[i]) <= 1e-4, "java engine after close, text " + i);
        }
        System.gc();
      }
    }
  }

  private static double maxDiff(float[] a, float[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  }
}
