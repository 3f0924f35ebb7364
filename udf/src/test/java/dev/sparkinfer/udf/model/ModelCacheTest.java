package dev.sparkinfer.udf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * One cache for every model family: a CLIP (vision and text towers) and a LLaMA decoder loaded through it sit on the
 * same engine of the JVM (one device, one budget, one admission gate); a key loads once; a failed load is not kept.
 */
class ModelCacheTest {
  @Test
  void aVisionStackAndADecoderShareTheJvmsEngine() {
    Path fixtures = Path.of(System.getProperty("sparkinfer.fixtures", "../shared/fixtures"));
    assumeTrue(Files.isDirectory(fixtures.resolve("clip-tiny-hf")) && Files.isDirectory(fixtures.resolve("llama-tiny")), "no fixtures");
    EngineConfig engine = EngineConfig.defaults().withCpuThreads(2);
    var clip = ClipCache.get(fixtures.resolve("clip-tiny-hf").toString(), null, DeviceChoice.CPU, engine);
    long afterClip = clip.runtime().memoryUse().hostBytes();
    var decoder = DecoderCache.get(fixtures.resolve("llama-tiny").toString(), null, 2, 64, DeviceChoice.CPU, engine);
    assertSame(clip.runtime(), decoder.runtime(), "one engine per device and JVM, shared by both families");
    assertTrue(decoder.runtime().memoryUse().hostBytes() > afterClip, "the decoder's weights and cache join the same budget");
    assertSame(clip, ClipCache.get(fixtures.resolve("clip-tiny-hf").toString(), null, DeviceChoice.CPU, engine), "loaded once");
    assertTrue(ModelCache.loaded().getOrDefault("clip", 0) >= 1 && ModelCache.loaded().getOrDefault("decoder", 0) >= 1, ModelCache.loaded().toString());
  }

  @Test
  void aFailedLoadIsNotKeptAndTheNextCallTriesAgain() {
    AtomicInteger tries = new AtomicInteger();
    ModelCache.Family<String, String> flaky = new ModelCache.Family<>() {
      @Override public String name() { return "flaky-test"; }

      @Override
      public String load(String key) {
        if (tries.incrementAndGet() == 1) throw new IllegalStateException("first load fails");
        return "model " + key;
      }
    };
    assertThrows(IllegalStateException.class, () -> ModelCache.get(flaky, "k"));
    assertEquals("model k", ModelCache.get(flaky, "k"));
    assertEquals("model k", ModelCache.get(flaky, "k"));
    assertEquals(2, tries.get());
    ModelCache.closeAll("flaky-test");
    assertTrue(!ModelCache.isLoaded(flaky, "k"));
  }
}
