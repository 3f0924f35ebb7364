package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Every CPU engine kernel compiles in the JIT's tiers. A kernel method C1 cannot compile (too many live vectors: "out of
 * virtual registers in linear scan") is retried at tier 2, where the Vector API runs its Java fallback, allocating
 * per operation, and the method can stay there: a MiniLM run once sat at its warm-up for 12 minutes that way. Parity
 * tests cannot see it (the fallback computes the same values), so this test runs every op of the CPU engine in a child
 * JVM with {@code -XX:+PrintCompilation} until the JIT has compiled them, and fails on any "COMPILE SKIPPED" of our code.
 * <p>
 * The same child also checks that every op gives the same bits cold (its first calls: the interpreter and C1, where the
 * Vector API computes lane by lane in Java) and warm (C2, its intrinsics). The Vector API's EXP and TANH broke that:
 * C2 compiles them to Intel's SVML, the fallback runs Math.exp, and a warm engine embedded a batch with other last bits
 * than a cold one (found when an unpadded BERT batch did not reproduce the padded one bit for bit).
 */
class CpuKernelsCompileTest {
  @Test
  void noKernelIsLeftUncompiled() throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (arg.startsWith("--add-") || arg.startsWith("-XX:MaxVectorSize")) cmd.add(arg);
    }
    if (cmd.stream().noneMatch(a -> a.startsWith("--add-modules"))) cmd.add("--add-modules=jdk.incubator.vector");
    cmd.addAll(List.of("-Xmx1g", "-XX:+PrintCompilation", "-cp", System.getProperty("java.class.path"), Exercise.class.getName()));
    Path log = Files.createTempFile("sparkinfer-jit-", ".log");
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      boolean done = p.waitFor(240, TimeUnit.SECONDS);
      if (!done) p.destroyForcibly();
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      assertTrue(done, "the exercise did not end in 240 s (a kernel stuck in the Vector API's Java fallback?); last lines: "
          + lines.subList(Math.max(0, lines.size() - 5), lines.size()));
      assertEquals(0, p.exitValue(), "the exercise failed: " + lines.subList(Math.max(0, lines.size() - 20), lines.size()));
      assertTrue(lines.stream().anyMatch(l -> l.contains("exercised")), "the exercise did not finish");
      List<String> differ = lines.stream().filter(l -> l.startsWith("cold and warm differ")).toList();
      assertTrue(differ.isEmpty(), "ops whose results change once the JIT has compiled them: " + differ);
      assertTrue(lines.stream().anyMatch(l -> l.startsWith("cold and warm agree")), "the cold/warm comparison did not run");
      List<String> skipped = lines.stream().filter(l -> l.contains("COMPILE SKIPPED") && l.contains("dev.sparkinfer")).toList();
      assertTrue(skipped.isEmpty(), "the JIT could not compile these methods of ours (split them into smaller methods): " + skipped);
      long ours = lines.stream().filter(l -> l.contains("dev.sparkinfer.kernels.CpuOps::")).count();
      assertTrue(ours > 20, "PrintCompilation listed only " + ours + " compilations of CpuOps: did the flag take?");
    } finally {
      Files.deleteIfExists(log);
    }
  }

  /** Runs every op of the CPU engine at small awkward shapes, often enough for the JIT to compile each kernel. */
  public static final class Exercise {
    public static void main(String[] args) throws IOException {
      Random r = new Random(1);
      try (CpuOps ops = new CpuOps(2)) {
        int in = 70, out = 100, rows = 19;
        LinearWeight w = ops.uploadLinear(random(r, out * in), out, in);
        LinearWeight q8 = ops.uploadLinear(QuantizedWeights.quantize(random(r, out * in), out, in, Quantization.INT8));
        LinearWeight q4 = ops.uploadLinear(QuantizedWeights.quantize(random(r, out * in), out, in, Quantization.INT4));
        char[] bits = new char[out * in];
        for (int i = 0; i < bits.length; i++) bits[i] = DType.BF16.fromFloat(r.nextFloat() - 0.5f);
        HalfTensor bf16 = ops.upload16(bits, DType.BF16);
        for (int i = 0; i < bits.length; i++) bits[i] = DType.F16.fromFloat(r.nextFloat() - 0.5f);
        HalfTensor f16 = ops.upload16(bits, DType.F16);
        Tensor bias = ops.upload(random(r, out));
        Tensor gamma = ops.upload(random(r, out)), beta = ops.upload(random(r, out));
        Tensor invFreq = ops.upload(random(r, 8));
        int b = 3, s = 21, heads = 4, hd = 16, width = heads * hd;
        Probe probe = new Probe(ops);
        java.util.Map<String, float[]> cold = probe.run();
        for (int it = 0; it < 1500; it++) {
          try (Ops.Scope scope = ops.scope()) {
            Tensor x = f(ops, random(r, 40 * in)), y = ops.alloc(40 * out), z = ops.alloc(40 * out);
            ops.linear(y, x, w, bias, rows);
            ops.linear(y, x, w, bias, rows, Activation.values()[it % Activation.values().length]);
            ops.linearQuantized(y, x, q8, bias, rows);
            ops.linearQuantized(y, x, q4, null, 3);
            ops.linear16(y, x, bf16, bias, 5, out, in); // decode: dot products
            ops.linear16(y, x, f16, null, 40, out, in); // prefill: widened panels
            ops.matmul(z, x, f(ops, random(r, in * out)), bias, rows, out, in, it % 2 == 0);
            ops.add(z, y, z, rows * out);
            ops.mul(z, y, z, rows * out);
            ops.scale(z, z, 0.5f, rows * out);
            ops.activation(Activation.values()[it % Activation.values().length], z, y, rows * out);
            ops.layerNorm(z, y, gamma, beta, rows, out, 1e-12f);
            ops.addLayerNorm(z, y, z, gamma, beta, rows, out, 1e-12f);
            ops.rmsNorm(z, y, gamma, rows, out, 1e-5f);
            ops.softmax(z, y, null, false, rows, out, 1 + it % 3, it % 2 == 0);
            ops.l2Normalize(z, y, rows, out);
            Tensor vals = ops.alloc(rows * 5);
            IntTensor ids = ops.allocInts(rows * 5);
            ops.topK(vals, ids, y, rows, out, 5);
            ops.copy(z, y, rows * out);

            // attention: self (padded, 8- and 4-query blocks, tails), causal, over a cache at ragged positions
            Tensor qkv = f(ops, random(r, b * s * 3 * width)), att = ops.alloc(b * s * width);
            int[] mask = new int[b * s];
            for (int i = 0; i < mask.length; i++) mask[i] = i % s < s - i / s ? 1 : 0;
            IntTensor keyMask = i(ops, mask);
            Attention self = Attention.selfAttention(b, s, heads, hd, it % 2 == 0).withStrides(3 * width, 3 * width, width);
            ops.attention(att, qkv, qkv.slice(width, qkv.size() - width), qkv.slice(2 * width, qkv.size() - 2 * width), keyMask, null,
                ops.alloc((int) self.scoresSize()), self);
            int cap = 32;
            Tensor kc = ops.alloc(b * cap * width), vc = ops.alloc(b * cap * width);
            IntTensor pos = i(ops, new int[] {0, 5, 11});
            ops.rope(qkv, b * s, heads, hd, 3 * width, i(ops, positions(b, s)), invFreq);
            ops.cacheWrite(kc, qkv, pos, b, 4, width, 3 * width, cap);
            ops.cacheWrite(vc, qkv, pos, b, 4, width, 3 * width, cap);
            Attention cached = new Attention(b, 4, 15, heads, heads, hd, 3 * width, width, width, true, 0, 0, 0.25f).withCacheRows(cap);
            ops.attention(att, qkv, kc, vc, null, pos, ops.alloc((int) cached.scoresSize()), cached);
            Attention step = new Attention(b, 1, 15, heads, heads / 2, hd, 3 * width, width, width, true, 0, it % 3 == 0 ? 4 : 0, 0.25f)
                .withCacheRows(cap); // a decode step (GQA, sometimes a window), its own kernels
            ops.attention(att, qkv, kc, vc, keyMask, pos, ops.alloc((int) step.scoresSize()), step);

            // tables
            int[] tok = new int[b * s];
            for (int i = 0; i < tok.length; i++) tok[i] = (i * 7) % 40;
            ops.gather(z, x, i(ops, tok), b * s / 2, 40, in, it % 2 == 0);
            ops.gather16(z, bf16, i(ops, new int[] {1, 7, 99}), 3, out, in);
            ops.meanPool(z, y, keyMask, b, 6, out);
          }
        }
        java.util.Map<String, float[]> warm = probe.run();
        int differ = 0;
        for (String op : cold.keySet()) {
          if (!java.util.Arrays.equals(cold.get(op), warm.get(op))) {
            System.out.println("cold and warm differ: " + op);
            differ++;
          }
        }
        if (differ == 0) System.out.println("cold and warm agree on " + cold.size() + " ops");
      }
      System.out.println("exercised");
    }

    /** Each op's output from fixed inputs, by name: run once cold (first calls) and once warm. */
    static final class Probe {
      final CpuOps ops;
      final int in = 70, n = 100, rows = 19, b = 3, s = 21, heads = 4, hd = 16, width = heads * hd;
      final LinearWeight w;
      final HalfTensor bf16;
      final Tensor bias, gamma, beta;

      Probe(CpuOps ops) {
        this.ops = ops;
        Random r = new Random(42);
        w = ops.uploadLinear(random(r, n * in), n, in);
        char[] bits = new char[n * in];
        for (int i = 0; i < bits.length; i++) bits[i] = DType.BF16.fromFloat(r.nextFloat() - 0.5f);
        bf16 = ops.upload16(bits, DType.BF16);
        bias = ops.upload(random(r, n));
        gamma = ops.upload(random(r, n));
        beta = ops.upload(random(r, n));
      }

      java.util.Map<String, float[]> run() {
        java.util.Map<String, float[]> out = new java.util.LinkedHashMap<>();
        Random r = new Random(43);
        try (Ops.Scope scope = ops.scope()) {
          Tensor x = f(ops, random(r, 40 * in)), y = ops.alloc(40 * n);
          // inputs of a model's range: scores and pre-activations from -12 to 12
          float[] wide = random(r, rows * n);
          for (int i = 0; i < wide.length; i++) wide[i] *= 24;
          Tensor big = f(ops, wide);
          for (Activation act : Activation.values()) {
            ops.linear(y, x, w, bias, rows, act);
            out.put("linear " + act, ops.read(y));
            ops.activation(act, y, big, rows * n);
            out.put("activation " + act, ops.read(y));
          }
          ops.linear16(y, x, bf16, bias, 5, n, in);
          out.put("linear16 decode", ops.read(y));
          ops.linear16(y, x, bf16, bias, 40, n, in);
          out.put("linear16 prefill", ops.read(y));
          for (boolean log : new boolean[] {false, true}) {
            ops.softmax(y, big, null, false, rows, n, 1.5f, log);
            out.put("softmax log=" + log, ops.read(y));
          }
          ops.layerNorm(y, big, gamma, beta, rows, n, 1e-12f);
          out.put("layerNorm", ops.read(y));
          ops.rmsNorm(y, big, gamma, rows, n, 1e-5f);
          out.put("rmsNorm", ops.read(y));
          ops.l2Normalize(y, big, rows, n);
          out.put("l2Normalize", ops.read(y));
          float[] q = random(r, b * s * 3 * width);
          for (int i = 0; i < q.length; i++) q[i] *= 8;
          Tensor qkv = f(ops, q), att = ops.alloc(b * s * width);
          int[] mask = new int[b * s];
          for (int i = 0; i < mask.length; i++) mask[i] = i % s < s - 3 * (i / s) ? 1 : 0;
          for (boolean causal : new boolean[] {false, true}) {
            Attention self = Attention.selfAttention(b, s, heads, hd, causal).withStrides(3 * width, 3 * width, width);
            ops.attention(att, qkv, qkv.slice(width, qkv.size() - width), qkv.slice(2 * width, qkv.size() - 2 * width), i(ops, mask), null,
                ops.alloc((int) self.scoresSize()), self);
            out.put("attention causal=" + causal, ops.read(att));
          }
          // decode steps: one query per entry over keys 0..20 (its K and V rows the qkv's), at positions 20, 13, 6
          Attention step = new Attention(b, 1, s, heads, heads, hd, 3 * width, 3 * width, width, true, 0, 0, 0.25f).withCacheRows(s);
          ops.attention(att, qkv, qkv.slice(width, qkv.size() - width), qkv.slice(2 * width, qkv.size() - 2 * width), i(ops, mask),
              i(ops, new int[] {20, 13, 6}), ops.alloc((int) step.scoresSize()), step);
          out.put("attention decode step", java.util.Arrays.copyOf(ops.read(att), b * width));
        }
        return out;
      }
    }

    private static Tensor f(Ops ops, float[] data) {
      Tensor t = ops.alloc(data.length);
      ops.write(t, data);
      return t;
    }

    private static IntTensor i(Ops ops, int[] data) {
      IntTensor t = ops.allocInts(data.length);
      ops.write(t, data);
      return t;
    }

    private static int[] positions(int b, int s) {
      int[] p = new int[b * s];
      for (int i = 0; i < p.length; i++) p[i] = i % s;
      return p;
    }

    private static float[] random(Random r, int n) {
      float[] a = new float[n];
      for (int i = 0; i < n; i++) a[i] = r.nextFloat() - 0.5f;
      return a;
    }
  }
}
