package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The float arena is one buffer (1 GiB on OpenCL) for small float32 weights, state and activations together, while
 * float32 Linear weights and embedding tables live in the float banks (8 of 2 GiB) and 16-bit and quantized weights in
 * their own memory. A float32 model several times the arena's size loads and runs; a tensor loaded into the arena that
 * does not fit is refused with the limit and the ways out, activations that do not fit beside the weights with the
 * batch-size advice, and a tensor larger than a float bank with its size. The limits are made small here
 * (ArenaOps.floatLimit, ArenaOps.bankMax) so that no 1 GiB array is needed.
 */
class FloatArenaLimitTest {
  static final int LIMIT = 200_000;
  /** Float banks of 2^19 floats (2 MiB) here. */
  static final int BANK = 1 << 19;

  @Test
  void javaEngine() { check(new JavaOps(), 0); }

  @Test
  void cpuEngine() { check(new CpuOps(1), 2e-6 * Math.sqrt(1000) + 1e-6); }

  @Test
  void openclEngine() { check(new AparapiOps(OpenCLTestSupport.device(), true), 2e-6 * Math.sqrt(1000) + 1e-6); }

  private static void check(ArenaOps ops, double tol) {
    Random rnd = new Random(3);
    int out = 300, in = 1000, vocab = 500, dim = 400; // Linear 300,000 floats, table 200,000: each past the arena's limit
    float[] w = random(rnd, out * in), table = random(rnd, vocab * dim), bias = random(rnd, out), x = random(rnd, 3 * in);
    int[] ids = {0, 499, 7, 250};
    float[][] want = reference(w, table, bias, x, ids, out, in, vocab, dim);
    try (ops) {
      ops.floatLimit = LIMIT;
      ops.bankMax = BANK;
      ops.upload(new float[150_000]); // small float32 weights in the arena, that fit
      DeviceMemoryException weights = assertThrows(DeviceMemoryException.class, () -> ops.upload(new float[60_000]));
      String m = weights.getMessage();
      assertTrue(m.contains("float32 weights") && m.contains(String.format("%,d floats", LIMIT)) && m.contains("float banks")
          && m.contains("Ops.uploadLinear") && m.contains("Ops.uploadBanked") && m.contains("BF16")
          && m.contains("-Dsparkinfer.quantize=int8") && m.contains(ops.device().toString()), m);

      // float32 Linear weights and tables are not in the float buffer: 650,000 floats of weights load past its 200,000
      LinearWeight lw = ops.uploadLinear(w, out, in);
      assertTrue(lw.banked() != null, "a Linear weight goes to a float bank");
      HalfTensor t = ops.uploadBanked(table);
      Tensor b = ops.upload(bias);
      assertTrue(ops.memoryUse().weights32Bytes() >= 4L * (out * in + vocab * dim), ops.memoryUse().toString());
      DeviceMemoryException tooBig = assertThrows(DeviceMemoryException.class, () -> ops.uploadBanked(new float[BANK + 1]));
      assertTrue(tooBig.getMessage().contains(String.format("%,d values", BANK + 1)) && tooBig.getMessage().contains("one float bank")
          && tooBig.getMessage().contains("split it"), tooBig.getMessage());

      // 16-bit weights are not in the float buffer either: they load, and compute beside the float32 ones
      char[] w16 = new char[300_000];
      java.util.Arrays.fill(w16, (char) 0x3f80); // bf16 1.0
      HalfTensor h = ops.upload16Linear(w16, DType.BF16, 300, 1000); // as models load them (the CPU engine packs it)
      try (Ops.Scope s = ops.scope()) {
        Tensor xs = ops.alloc(3 * in), y = ops.alloc(3 * out), g = ops.alloc(ids.length * dim), y16 = ops.alloc(300);
        IntTensor is = ops.allocInts(ids.length);
        ops.write(xs, x);
        ops.write(is, ids);
        ops.linear(y, xs, lw, b, 3);
        ops.gather16(g, t, is, ids.length, vocab, dim);
        close(want[0], ops.read(y), tol, "linear");
        close(want[1], ops.read(g), 0, "gather");
        ops.linear16(y16, xs, h, null, 1, 300, 1000);
        assertEquals(sum(x, in), ops.read(y16)[0], 1e-3);
        DeviceMemoryException scratch = assertThrows(DeviceMemoryException.class, () -> ops.alloc(60_000));
        String sm = scratch.getMessage();
        assertTrue(sm.contains("arena full") && sm.contains("--batch-size") && sm.contains(String.format("%,d of them weights", ops.floatPhase() + 150_304))
            && sm.contains("BF16"), sm);
      }
    }
  }

  /** The same Linear and gather on the Java engine with the weights in its (unlimited) float arena. */
  private static float[][] reference(float[] w, float[] table, float[] bias, float[] x, int[] ids, int out, int in, int vocab, int dim) {
    try (JavaOps j = new JavaOps()) {
      Tensor wt = j.upload(w), tt = j.upload(table), bt = j.upload(bias);
      try (Ops.Scope s = j.scope()) {
        Tensor xs = j.alloc(x.length), y = j.alloc(3 * out), g = j.alloc(ids.length * dim);
        IntTensor is = j.allocInts(ids.length);
        j.write(xs, x);
        j.write(is, ids);
        j.matmul(y, xs, wt, bt, 3, out, in, true);
        j.gather(g, tt, is, ids.length, vocab, dim, false);
        return new float[][] {j.read(y), j.read(g)};
      }
    }
  }

  private static void close(float[] want, float[] got, double tol, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], tol * Math.max(1, Math.abs(want[i])), what + " at " + i);
    }
  }

  private static float sum(float[] x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return (float) s;
  }

  private static float[] random(Random rnd, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) v[i] = rnd.nextFloat() * 2 - 1;
    return v;
  }
}
