package dev.sparkinfer.kernels.bench;

import dev.sparkinfer.kernels.Activation;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.JavaOps;
import dev.sparkinfer.kernels.LinearWeight;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.kernels.Tensor;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A CLIP ViT-L/14 vision tower's weights in float32 (openai/clip-vit-large-patch14's shapes, 303M parameters, 1.21 GB:
 * more than the OpenCL engine's one 1 GiB float buffer) load on an engine, and one layer's MLP over 50 patch tokens
 * runs and matches the Java reference on the same layer. Prints the bytes held (host, device, float banks, float
 * arena) and the load time; the loader reserves the float banks' room first, as models do ({@code -Dreserve=false}: not,
 * the banks grow). Not a test: it needs about 3 GB of heap.
 *
 * <pre>java -Xmx6g ... dev.sparkinfer.kernels.bench.VitL14Float32Load [opencl|cpu|java]</pre>
 */
public final class VitL14Float32Load {
  public static void main(String[] args) {
    DeviceChoice choice = DeviceChoice.parse(args.length > 0 ? args[0] : "opencl");
    int width = 1024, mlp = 4096, layers = 24, tokens = 50;
    SplittableRandom rnd = new SplittableRandom(14);
    LinearWeight fc1 = null, fc2 = null;
    float[] fc1w = null, fc2w = null, fc1b = null;
    long params = 0, t0 = System.nanoTime();
    try (Ops ops = Devices.open(choice, EngineConfig.fromSystemProperties())) {
      // patch embedding [1024, 3*14*14] and positions [257, 1024] in float banks; per layer q, k, v, out (1024 x 1024),
      // fc1 (4096 x 1024), fc2 (1024 x 4096) as Linear weights, biases and norms in the float arena; the projection.
      // Room reserved for the banked ones first, as a model loader does (-Dreserve=false: the banks grow instead)
      if (Boolean.parseBoolean(System.getProperty("reserve", "true"))) {
        ops.reserve32((long) width * 3 * 14 * 14 + 257L * width + ops.linear32Values(768, width) + 64L * (3 + 6 * layers)
            + layers * (4 * ops.linear32Values(width, width) + ops.linear32Values(mlp, width) + ops.linear32Values(width, mlp)));
      }
      ops.uploadBanked(random(rnd, width * 3 * 14 * 14));
      ops.uploadBanked(random(rnd, 257 * width));
      params += (long) width * 3 * 14 * 14 + 257L * width;
      for (int l = 0; l < layers; l++) {
        for (int p = 0; p < 4; p++) {
          ops.uploadLinear(random(rnd, width * width), width, width);
          ops.upload(random(rnd, width));
        }
        float[] w1 = random(rnd, mlp * width), b1 = random(rnd, mlp), w2 = random(rnd, width * mlp);
        LinearWeight a = ops.uploadLinear(w1, mlp, width);
        ops.upload(b1);
        LinearWeight b = ops.uploadLinear(w2, width, mlp);
        ops.upload(random(rnd, width));
        for (int n = 0; n < 4; n++) ops.upload(random(rnd, width));
        if (l == 0) {
          fc1 = a;
          fc2 = b;
          fc1w = w1;
          fc2w = w2;
          fc1b = b1;
        }
        params += 4L * (width * width + width) + 2L * mlp * width + mlp + width + 4L * width;
      }
      ops.uploadLinear(random(rnd, 768 * width), 768, width);
      params += 768L * width;
      double loadSeconds = (System.nanoTime() - t0) / 1e9;
      Ops.MemoryUse use = ops.memoryUse();
      System.out.printf(Locale.ROOT, "ViT-L/14 vision tower, float32: %,d parameters (%.2f GB) loaded on %s in %.1f s%n", params,
          params * 4 / 1e9, ops.device(), loadSeconds);
      System.out.printf(Locale.ROOT, "  held: host %.2f GB, device %.2f GB; float banks %.2f GB, float arena %.3f GB%n",
          use.hostBytes() / 1e9, use.deviceBytes() / 1e9, use.weights32Bytes() / 1e9, use.floatBytes() / 1e9);

      float[] x = new float[tokens * width];
      for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i);
      float[] got = mlp(ops, fc1, fc2, fc1b, x, tokens, width, mlp);
      float[] want;
      try (JavaOps ref = new JavaOps()) {
        want = mlp(ref, ref.uploadLinear(fc1w, mlp, width), ref.uploadLinear(fc2w, width, mlp), fc1b, x, tokens, width, mlp);
      }
      double worst = 0, range = 0;
      for (int i = 0; i < want.length; i++) {
        worst = Math.max(worst, Math.abs(got[i] - want[i]));
        range = Math.max(range, Math.abs(want[i]));
      }
      System.out.printf(Locale.ROOT, "  layer 0 MLP over %d tokens: max |%s - java| = %.3g (outputs up to %.3g)%n", tokens,
          choice.name().toLowerCase(Locale.ROOT), worst, range);
    }
  }

  private static float[] mlp(Ops o, LinearWeight fc1, LinearWeight fc2, float[] b1, float[] in, int tokens, int width, int mlp) {
    Tensor bias = null;
    try (Ops.Scope s = o.scope()) {
      Tensor x = o.alloc(tokens * width), h = o.alloc(tokens * mlp), y = o.alloc(tokens * width);
      bias = o.alloc(mlp);
      o.write(bias, b1);
      o.write(x, in);
      o.linear(h, x, fc1, bias, tokens, Activation.QUICK_GELU);
      o.linear(y, h, fc2, null, tokens);
      return o.read(y);
    }
  }

  private static float[] random(SplittableRandom rnd, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() - 0.5) * 0.06f;
    return a;
  }
}
