package dev.sparkinfer.udf.model;

import static org.junit.jupiter.api.Assertions.*;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.models.Embedder;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.*;
import org.junit.jupiter.api.Test;

class EmbedderCacheTest {
  @Test
  void loadsOncePerJvmPerModelAndDevice() throws Exception {
    EmbedderCache.closeAll();
    int before = FakeEmbedderProvider.LOADS.get();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Embedder>> got = new ArrayList<>();
      for (int i = 0; i < 16; i++) got.add(pool.submit(() -> EmbedderCache.get(FakeEmbedderProvider.HASH, DeviceChoice.JAVA)));
      Embedder first = got.get(0).get();
      for (Future<Embedder> f : got) assertSame(first, f.get());
    } finally {
      pool.shutdownNow();
    }
    assertEquals(before + 1, FakeEmbedderProvider.LOADS.get());
    assertNotSame(EmbedderCache.get(FakeEmbedderProvider.HASH, DeviceChoice.JAVA),
        EmbedderCache.get(FakeEmbedderProvider.HASH, DeviceChoice.OPENCL), "device is part of the key");
  }

  @Test
  void productionSpecsGoToModelRefWhichSaysWhatIsWrong() {
    assertInstanceOf(ModelRefProvider.class, EmbedderProviders.forSpec("/no/such/model"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> EmbedderProviders.forSpec("/no/such/model").check("/no/such/model"));
    assertTrue(e.getMessage().contains("neither 'default' nor an existing folder"), e.getMessage());
    assertEquals("all-MiniLM-L6-v2", EmbedderProviders.forSpec("default").check("default"));
  }
}
