package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * One engine per device, shared by two models and two task threads, within one memory budget: a CLIP ViT-L/14-shaped
 * vision tower's f16 weights (openai/clip-vit-large-patch14's shapes, random values) and a 2-layer LLaMA-1B-width
 * decoder slice load side by side; two "task slots" run passes through the admission gate at the same time; a third
 * model beyond the budget is refused with a message.
 */
class DeviceRuntimeTest {
  /** CLIP ViT-L/14 vision tower: patch 14, width 1024, 24 layers, MLP 4096, 257 positions, projection to 768. */
  static Map<String, int[]> vitL14Shapes() {
    Map<String, int[]> m = new LinkedHashMap<>();
    m.put("embeddings.patch_embedding.weight", new int[] {1024, 3, 14, 14});
    m.put("embeddings.class_embedding", new int[] {1024});
    m.put("embeddings.position_embedding.weight", new int[] {257, 1024});
    m.put("pre_layrnorm.weight", new int[] {1024}); // sic: transformers' CLIP spells it so
    m.put("pre_layrnorm.bias", new int[] {1024});
    for (int l = 0; l < 24; l++) {
      String p = "encoder.layers." + l + ".";
      for (String proj : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
        m.put(p + "self_attn." + proj + ".weight", new int[] {1024, 1024});
        m.put(p + "self_attn." + proj + ".bias", new int[] {1024});
      }
      m.put(p + "mlp.fc1.weight", new int[] {4096, 1024});
      m.put(p + "mlp.fc1.bias", new int[] {4096});
      m.put(p + "mlp.fc2.weight", new int[] {1024, 4096});
      m.put(p + "mlp.fc2.bias", new int[] {1024});
      for (String ln : new String[] {"layer_norm1", "layer_norm2"}) {
        m.put(p + ln + ".weight", new int[] {1024});
        m.put(p + ln + ".bias", new int[] {1024});
      }
    }
    m.put("post_layernorm.weight", new int[] {1024});
    m.put("post_layernorm.bias", new int[] {1024});
    m.put("visual_projection.weight", new int[] {768, 1024});
    return m;
  }

  private static Map<String, HalfTensor> loadVit(Ops ops, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, HalfTensor> w = new LinkedHashMap<>();
    for (var e : vitL14Shapes().entrySet()) {
      long n = 1;
      for (int d : e.getValue()) n *= d;
      char[] h = new char[Math.toIntExact(n)];
      for (int i = 0; i < h.length; i++) h[i] = DType.F16.fromFloat((float) (rnd.nextDouble() - 0.5) * 0.06f);
      w.put(e.getKey(), ops.upload16(h, DType.F16));
    }
    return w;
  }

  @Test
  void visionTowerAndDecoderShareOneDeviceAndItsBudget() throws Exception {
    long vitParams = 0;
    for (int[] s : vitL14Shapes().values()) {
      long n = 1;
      for (int d : s) n *= d;
      vitParams += n;
    }
    DecoderStack.Shape dec = DecoderStack.Shape.LLAMA_3_2_1B.withLayers(2);
    long budget = 2 * (vitParams + dec.params16()) + (96L << 20); // both models' 16-bit weights + 96 MiB for state and scratch
    EngineConfig cfg = EngineConfig.fromSystemProperties().withBudgetBytes(budget);
    OpenCLTestSupport.device();
    try (Ops ops = Devices.open(DeviceChoice.OPENCL, cfg)) {
      DeviceRuntime rt = DeviceRuntime.open(ops, cfg);
      assertEquals(budget, rt.budgetBytes());
      Map<String, HalfTensor> vit = rt.admit(o -> loadVit(o, 1));
      DecoderStack decoder = rt.admit(o -> new DecoderStack(o, dec, DType.BF16, 2, 2, 32));
      System.out.printf("vision ViT-L/14 (%d f16 params) + decoder slice (%d bf16 params) on %s: %s, budget %d%n", vitParams,
          dec.params16(), rt.device(), rt.memoryUse(), budget);

      // two task slots of one executor, each running its model through the gate at the same time
      ExecutorService slots = Executors.newFixedThreadPool(2);
      List<Future<?>> runs = new ArrayList<>();
      long[] peak = new long[1];
      runs.add(slots.submit(() -> {
        for (int i = 0; i < 3; i++) {
          int pos = i;
          rt.admit(o -> decoder.forward(0, new int[][] {{100 + pos}}, new int[] {pos}));
          synchronized (peak) { peak[0] = Math.max(peak[0], rt.memoryUse().deviceBytes()); }
        }
      }));
      runs.add(slots.submit(() -> {
        for (int i = 0; i < 3; i++) {
          rt.admit(o -> vitMlp(o, vit, 50)); // one layer's MLP over 50 patch tokens
          synchronized (peak) { peak[0] = Math.max(peak[0], rt.memoryUse().deviceBytes()); }
        }
      }));
      for (Future<?> f : runs) f.get();
      slots.shutdown();
      assertTrue(peak[0] <= budget, "device bytes " + peak[0] + " stayed within the budget " + budget);
      assertTrue(rt.peakBytes() <= budget && rt.peakBytes() >= 2 * (vitParams + dec.params16()),
          "the engine's peak " + rt.peakBytes() + " holds both models' weights, within the budget " + budget);
      assertTrue(rt.mostCallersAtOnce() >= 1 && rt.mostCallersAtOnce() <= 2, "callers at once: " + rt.mostCallersAtOnce());

      // a third model does not fit: refused with the budget named, the engine still usable
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> rt.admit(o -> loadVit(o, 3)));
      assertTrue(e.getMessage().contains("budget") && e.getMessage().contains("sparkinfer.device.budget"), e.getMessage());
      assertEquals(dec.vocab(), rt.admit(o -> decoder.forward(0, new int[][] {{7}}, new int[] {3})).length);
    }
  }

  /** The busy time counts the time inside admitted calls only, however many task threads wait at the gate. */
  @Test
  void busyTimeCountsAdmittedCallsOnly() throws Exception {
    EngineConfig cfg = EngineConfig.fromSystemProperties();
    try (DeviceRuntime rt = DeviceRuntime.own(DeviceChoice.JAVA, cfg)) {
      long busy0 = rt.busyNanos(), calls0 = rt.admittedCalls();
      Thread.sleep(30); // idle: not counted
      ExecutorService slots = Executors.newFixedThreadPool(2);
      List<Future<?>> runs = new ArrayList<>();
      long t0 = System.nanoTime();
      for (int t = 0; t < 2; t++) {
        runs.add(slots.submit(() -> {
          for (int i = 0; i < 3; i++) {
            rt.admit(o -> {
              long end = System.nanoTime() + 10_000_000L;
              while (System.nanoTime() < end) Thread.onSpinWait();
              return null;
            });
          }
        }));
      }
      for (Future<?> f : runs) f.get();
      long wall = System.nanoTime() - t0;
      slots.shutdown();
      long busy = rt.busyNanos() - busy0;
      assertEquals(6, rt.admittedCalls() - calls0);
      assertTrue(busy >= 60_000_000L, "6 calls of 10 ms each: " + busy + " ns busy");
      assertTrue(busy <= wall, "one call at a time, so busy " + busy + " ns <= the wall time " + wall + " ns");
    }
  }

  private static float[] vitMlp(Ops o, Map<String, HalfTensor> w, int tokens) {
    try (Ops.Scope s = o.scope()) {
      Tensor x = o.alloc(tokens * 1024), h = o.alloc(tokens * 4096), y = o.alloc(tokens * 1024);
      float[] in = new float[tokens * 1024];
      for (int i = 0; i < in.length; i++) in[i] = (float) Math.sin(i);
      o.write(x, in);
      o.linear16(h, x, w.get("encoder.layers.0.mlp.fc1.weight"), null, tokens, 4096, 1024);
      o.activation(Activation.QUICK_GELU, h, h, tokens * 4096);
      o.linear16(y, h, w.get("encoder.layers.0.mlp.fc2.weight"), null, tokens, 1024, 4096);
      return o.read(y);
    }
  }
}
