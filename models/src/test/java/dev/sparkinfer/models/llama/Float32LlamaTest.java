package dev.sparkinfer.models.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.Fixtures;
import dev.sparkinfer.models.weights.SafeTensors;
import dev.sparkinfer.models.weights.SafeTensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A float32 LLaMA-3-shaped checkpoint: the llama-tiny fixture's bf16 weights widened (exactly) to F32 safetensors,
 * loaded on every engine. Its tied embedding table (128,256 x 64: LLaMA-3's vocabulary) and its Linear weights live in
 * the engine's float banks, not in the float arena (on OpenCL one 1 GiB buffer for state and activations, which a
 * float32 LLaMA-3.2-1B's table alone would fill), and its logits for prompt 0 match the reference's within the
 * fixture's tolerance (1e-3 of the logit range), as the bf16 checkpoint's do in DecoderFixtureTest.
 */
class Float32LlamaTest {
  @TempDir Path tmp;

  @ParameterizedTest(name = "float32 llama-tiny on {0}")
  @ValueSource(strings = {"java", "cpu", "opencl"})
  void float32WeightsLiveInFloatBanks(String engine) throws Exception {
    Path dir = Fixtures.require("llama-tiny");
    if (engine.equals("opencl")) {
      assumeTrue(Devices.openclRuns() || Boolean.getBoolean("sparkinfer.requireOpenCL"), "no OpenCL device");
    }
    Path f32 = Files.createDirectories(tmp.resolve("llama-tiny-f32"));
    Files.copy(dir.resolve("config.json"), f32.resolve("config.json"));
    SafeTensorsWriter out = new SafeTensorsWriter();
    try (SafeTensors w = SafeTensors.open(dir.resolve("model.safetensors"))) {
      for (String name : new TreeSet<>(w.names())) out.f32(name, w.shape(name), w.floats(name));
    }
    out.write(f32.resolve("model.safetensors"));

    JsonNode expected = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("expected.json")));
    JsonNode p0 = expected.path("input_ids").get(0);
    int[] ids = new int[p0.size()];
    for (int i = 0; i < ids.length; i++) ids[i] = p0.get(i).asInt();
    int vocab = 128_256, hidden = 64;
    long table = 4L * vocab * hidden;
    try (Ops ops = Devices.open(DeviceChoice.parse(engine), EngineConfig.defaults().withCpuThreads(2));
         SafeTensors want = SafeTensors.open(dir.resolve("expected.safetensors"));
         LlamaModel model = LlamaModel.load(f32, null, ops, 1, ids.length + 1)) {
      assertEquals(engine, ops.device().kind(), "engine " + ops.device());
      Ops.MemoryUse m = ops.memoryUse();
      assertTrue(m.weights32Bytes() >= table, "the float32 embedding table is in the float banks: " + m);
      assertTrue(m.floatBytes() < table, "the float arena does not hold the embedding table: " + m);
      if (!engine.equals("opencl")) { // the loader reserved the float banks for the table and the Linear weights at once
        try (SafeTensors w = SafeTensors.open(f32.resolve("model.safetensors"))) {
          dev.sparkinfer.models.Reservations.assertBanksFit(ops, w, dev.sparkinfer.kernels.Quantization.NONE,
              n -> n.equals("model.embed_tokens.weight") ? dev.sparkinfer.models.weights.WeightMemory.Load.TABLE : dev.sparkinfer.models.weights.WeightMemory.Load.LINEAR, "float32 llama-tiny on " + engine);
        }
      }
      float[] logits = model.forward(0, new int[][] {ids}, new int[] {0}, true);
      float[] ref = want.floats("prompt0_logits");
      assertEquals(ref.length, logits.length);
      float lo = Float.MAX_VALUE, hi = -Float.MAX_VALUE;
      double worst = 0;
      for (int i = 0; i < ref.length; i++) {
        lo = Math.min(lo, ref[i]);
        hi = Math.max(hi, ref[i]);
        worst = Math.max(worst, Math.abs(ref[i] - logits[i]));
      }
      System.out.printf("float32 llama-tiny on %s: max |diff| %.3g of the logit range %.3f; %s%n", engine, worst, hi - lo, m);
      assertTrue(worst <= 1e-3 * (hi - lo), engine + ": max |diff| " + worst + " exceeds 1e-3 of the logit range " + (hi - lo));
    }
  }
}
