package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Quantized Linear (INT8 per output channel, INT4 in groups of 128) on every engine against its plain-Java twin
 * ({@link JavaOps}: each row dequantized to float, then dot products in double), at awkward sizes (1, 7, 63, 1023, 1025:
 * not multiples of the vector width, the CPU engine's 3-vector panel, its 8-row block, the OpenCL work-groups, or the
 * INT4 group; odd k leaves half a byte). Tolerance as the float and 16-bit Linear kernels':
 * |engine - java| <= (2e-6 sqrt(k) + 1e-6) max(1, |java|). The quantization error itself (quantized against float32
 * weights) is printed, not asserted: it is a property of the weights, not of a kernel.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QuantizedLinearParityTest {
  private JavaOps java;
  private CpuOps cpu;
  private CpuOps cpuOutMajor;
  private AparapiOps cl;
  private final Random rnd = new Random(11);

  @BeforeAll
  void open() {
    java = new JavaOps();
    cpu = new CpuOps(3);
    cpuOutMajor = new CpuOps(3, EngineConfig.defaults().withLinearLayout("out-major"));
    if (Devices.openclRuns()) cl = new AparapiOps(Devices.best(), true);
  }

  @AfterAll
  void close() {
    java.close();
    cpu.close();
    cpuOutMajor.close();
    if (cl != null) {
      assertFalse(cl.fellBack(), "a kernel fell back to Java threads");
      cl.close();
    }
  }

  private float[] random(int n, float scale) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (rnd.nextFloat() * 2 - 1) * scale;
    return x;
  }

  private static Tensor in(Ops ops, float[] data) {
    Tensor t = ops.alloc(data.length);
    ops.write(t, data);
    return t;
  }

  /** Worst |a - e| / max(1, |e|) over the outputs. */
  private static double worst(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what + " output length");
    double worst = 0;
    for (int i = 0; i < expected.length; i++) {
      double err = Math.abs(expected[i] - actual[i]) / Math.max(1, Math.abs(expected[i]));
      if (!(err <= worst)) worst = err;
    }
    return worst;
  }

  private float[] run(Ops ops, LinearWeight w, float[] x, float[] bias, int rows) {
    try (Ops.Scope s = ops.scope()) {
      Tensor o = ops.alloc(rows * w.out());
      ops.linear(o, in(ops, x), w, bias == null ? null : in(ops, bias), rows);
      return ops.read(o);
    }
  }

  @ParameterizedTest(name = "{3} rows={0} out={1} in={2} bias={4}")
  @CsvSource({"1,1,1,INT8,false", "1,7,63,INT8,true", "7,63,1025,INT8,true", "63,1025,7,INT8,false", "130,384,384,INT8,true",
      "9,1023,1023,INT8,false", "1,2048,2048,INT8,true",
      "1,1,1,INT4,false", "1,7,63,INT4,true", "7,63,1025,INT4,true", "63,1025,7,INT4,false", "130,384,384,INT4,true",
      "9,1023,1023,INT4,false", "1,2048,2048,INT4,true", "17,130,256,INT4,false"})
  void everyEngineAgainstTheJavaTwin(int rows, int out, int in, Quantization scheme, boolean bias) {
    float[] w = random(out * in, 0.5f), x = random(rows * in, 1), b = bias ? random(out, 1) : null;
    QuantizedWeights q = QuantizedWeights.quantize(w, out, in, scheme);
    double tol = 2e-6 * Math.sqrt(in) + 1e-6;
    float[] expected = run(java, java.uploadLinear(q), x, b, rows);

    // the twin is dequantize-then-multiply: the same as the float Linear over the dequantized weights
    float[] viaFloat = run(java, java.uploadLinear(q.dequantize(), out, in), x, b, rows);
    double twin = worst(viaFloat, expected, "twin");
    assertTrue(twin <= 1e-6, scheme + " java twin vs float Linear of the dequantized weights: " + twin);

    StringBuilder line = new StringBuilder(String.format("%s rows=%d out=%d in=%d: worst rel err vs java twin:", scheme, rows, out, in));
    for (CpuOps engine : new CpuOps[] {cpu, cpuOutMajor}) {
      LinearWeight cw = engine.uploadLinear(q);
      double e = worst(expected, run(engine, cw, x, b, rows), "cpu");
      line.append(String.format(" cpu%s %.2e", engine == cpu ? "" : "(out-major cfg)", e));
      assertTrue(e <= tol, scheme + " cpu engine: worst relative error " + e + " exceeds " + tol);
    }
    if (cl != null) {
      LinearWeight gw = cl.uploadLinear(q);
      for (String kernel : cl.barriersSafe() ? new String[] {"dot", "tiled"} : new String[] {"dot"}) {
        String before = System.getProperty("sparkinfer.matmul.kernel");
        System.setProperty("sparkinfer.matmul.kernel", kernel);
        cl.reloadConfig();
        try {
          double e = worst(expected, run(cl, gw, x, b, rows), "opencl");
          assertTrue(cl.device().isOpenCL() && !cl.fellBack(), "quantized linear did not run on OpenCL");
          line.append(String.format(" opencl-%s %.2e", kernel, e));
          assertTrue(e <= tol, scheme + " opencl " + kernel + ": worst relative error " + e + " exceeds " + tol);
        } finally {
          if (before == null) System.clearProperty("sparkinfer.matmul.kernel");
          else System.setProperty("sparkinfer.matmul.kernel", before);
          cl.reloadConfig();
        }
      }
    } else {
      line.append(" opencl: no device, not run");
    }
    line.append(String.format(" (tol %.2e)", tol));
    System.out.println(line);
  }

  /** The OpenCL kernels on their own, so that a machine without a device reports them skipped (or failed under -Dsparkinfer.requireOpenCL). */
  @Test
  void openclDeviceIsThere() {
    OpenCLTestSupport.device();
    assertTrue(cl != null && cl.device().isOpenCL());
  }

  /**
   * Round-to-nearest bounds every weight's error by half its scale, the integers stay in range, and the largest weight
   * of each group maps to +-qmax. Then the quantization error against float32, printed: weights (relative RMS) and the
   * Linear's outputs (relative RMS, worst cosine of an output row) on random weights and inputs.
   */
  @ParameterizedTest(name = "{0} error vs f32")
  @EnumSource(value = Quantization.class, names = {"INT8", "INT4"})
  void quantizationErrorAgainstFloat(Quantization scheme) {
    int out = 384, in = 1536, rows = 64;
    float[] w = new float[out * in];
    for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * 0.05);
    QuantizedWeights q = QuantizedWeights.quantize(w, out, in, scheme);
    int qmax = scheme == Quantization.INT8 ? 127 : 7, qmin = scheme == Quantization.INT8 ? -127 : -8;
    double num = 0, den = 0;
    for (int o = 0; o < out; o++) {
      for (int g = 0; g < q.groups(); g++) {
        float scale = q.scales()[o * q.groups() + g];
        boolean hitMax = false;
        for (int i = g * q.group(); i < Math.min(in, (g + 1) * q.group()); i++) {
          int v = q.q(o, i);
          assertTrue(v >= qmin && v <= qmax, "integer " + v + " outside [" + qmin + ", " + qmax + "]");
          hitMax |= Math.abs(v) == qmax;
          double err = Math.abs(q.value(o, i) - w[o * in + i]);
          assertTrue(err <= scale / 2 * (1 + 1e-6), "[" + o + ", " + i + "]: error " + err + " > scale / 2 = " + scale / 2);
          num += err * err;
          den += (double) w[o * in + i] * w[o * in + i];
        }
        assertTrue(hitMax, "the largest weight of row " + o + " group " + g + " maps to +-" + qmax);
      }
    }
    float[] x = random(rows * in, 1);
    float[] f32 = run(java, java.uploadLinear(w, out, in), x, null, rows);
    float[] quant = run(cpu, cpu.uploadLinear(q), x, null, rows);
    double on = 0, od = 0, minCos = 1;
    for (int r = 0; r < rows; r++) {
      double dot = 0, na = 0, nb = 0;
      for (int j = 0; j < out; j++) {
        double a = f32[r * out + j], b = quant[r * out + j];
        on += (a - b) * (a - b);
        od += a * a;
        dot += a * b;
        na += a * a;
        nb += b * b;
      }
      minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
    }
    System.out.printf("%s vs f32 (gaussian weights sd 0.05, [%d, %d], %d rows): weights rel RMS err %.3e; outputs rel RMS err %.3e, "
        + "min row cosine %.6f; bytes %d vs f32 %d (%.2fx smaller)%n", scheme, out, in, rows, Math.sqrt(num / den), Math.sqrt(on / od),
        minCos, q.bytes(), 4L * w.length, 4.0 * w.length / q.bytes());
  }

  @Test
  void weightsOfAnotherEngineAreRefused() {
    QuantizedWeights q = QuantizedWeights.quantize(random(7 * 9, 1), 7, 9, Quantization.INT8);
    LinearWeight packed = cpu.uploadLinear(q);
    try (Ops.Scope s = java.scope()) {
      Tensor o = java.alloc(7), x = java.alloc(9);
      assertThrows(IllegalArgumentException.class, () -> java.linear(o, x, packed, null, 1));
    }
    assertThrows(IllegalArgumentException.class, () -> Quantization.parse("int3"));
    assertEquals(Quantization.INT4, EngineConfig.from(Map.of("sparkinfer.quantize", "INT4")).quantize());
  }
}
