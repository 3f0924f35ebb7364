package dev.sparkinfer.udf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model folder the driver found but the loading JVM (an executor) does not see: the load fails before any weight is
 * read, with the folder, the executor's host and the fix, and nothing is cached (a retry on another executor may load).
 */
class ModelFoldersTest {
  @TempDir Path tmp;

  static void assertExplains(String message, String folder) {
    assertTrue(message.contains(folder), "names the folder: " + message);
    assertTrue(message.contains(" on host " + ModelFolders.host()), "names this host: " + message);
    assertTrue(message.contains("same path on every node") && message.contains("shared mount"), "says what to do: " + message);
    assertTrue(message.contains("though the driver found it"), message);
  }

  @Test
  void aFolderMissingOnThisMachineFailsTheLoadWithTheFolderTheHostAndTheFix() {
    String gone = tmp.resolve("models/bge-small").toString();
    EmbedderCache.Key key = new EmbedderCache.Key(gone, DeviceChoice.JAVA, EngineConfig.defaults());
    ModelFolders.NotOnThisMachineException e = assertThrows(ModelFolders.NotOnThisMachineException.class, () -> EmbedderCache.get(key));
    System.out.println("executor-side message: " + e.getMessage());
    assertExplains(e.getMessage(), gone);
    assertTrue(e.getMessage().startsWith("embedder model folder " + gone + " does not exist on this JVM on host "), e.getMessage());
    assertFalse(EmbedderCache.isLoaded(key), "a failed load is not cached");
  }

  @Test
  void aFileWhereTheFolderShouldBeAndARelativePathAreSaidSo() throws Exception {
    Path file = Files.writeString(tmp.resolve("model"), "not a folder");
    var e = assertThrows(ModelFolders.NotOnThisMachineException.class,
        () -> DecoderCache.get(file.toString(), null, 1, 8, DeviceChoice.JAVA, EngineConfig.defaults()));
    assertExplains(e.getMessage(), file.toString());
    assertTrue(e.getMessage().contains("decoder model folder " + file + " is not a folder"), e.getMessage());

    var rel = assertThrows(ModelFolders.NotOnThisMachineException.class,
        () -> ClipCache.get("models/clip-nowhere", null, DeviceChoice.JAVA, EngineConfig.defaults()));
    assertTrue(rel.getMessage().contains("a relative path, resolved against this JVM's working directory "
        + Path.of("").toAbsolutePath() + ": give --model an absolute path"), rel.getMessage());
  }

  @Test
  void theBuiltInAndTestModelsNameNoFolder() {
    assertEquals(List.of(), EmbedderCache.FAMILY.folders(new EmbedderCache.Key("default", DeviceChoice.JAVA, EngineConfig.defaults())));
    assertEquals(List.of(), EmbedderCache.FAMILY.folders(new EmbedderCache.Key("test:hash", DeviceChoice.JAVA, EngineConfig.defaults())));
    assertEquals(List.of("/m/x"), EmbedderCache.FAMILY.folders(new EmbedderCache.Key("file:/m/x", DeviceChoice.JAVA, EngineConfig.defaults())));
  }

  /** The folder is there but a file of it is not (half-copied, or not readable): the load's own error, explained. */
  @Test
  void aLoadThatCouldNotReadAFileOfTheFolderIsExplainedOtherFailuresPassThrough() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("half-copied"));
    AtomicInteger loads = new AtomicInteger();
    ModelCache.Family<String, String> family = new ModelCache.Family<>() {
      @Override public String name() { return "folders-test"; }

      @Override
      public String load(String key) {
        loads.incrementAndGet();
        if (key.equals("missing-file")) {
          throw new UncheckedIOException("reading weights", new NoSuchFileException(dir.resolve("model.safetensors").toString()));
        }
        throw new IllegalArgumentException(dir + ": config.json says 12 layers but the weights hold 6");
      }

      @Override public List<String> folders(String key) { return List.of(dir.toString()); }
    };
    var e = assertThrows(ModelFolders.NotOnThisMachineException.class, () -> ModelCache.get(family, "missing-file"));
    assertExplains(e.getMessage(), dir.toString());
    assertTrue(e.getMessage().contains("its file " + dir.resolve("model.safetensors") + " is missing here"), e.getMessage());
    assertTrue(e.getCause() instanceof UncheckedIOException, "the load's own error is the cause");

    IllegalArgumentException corrupt = new IllegalArgumentException("x");
    assertSame(corrupt, ModelFolders.explain("f", List.of(dir.toString()), corrupt), "not a file problem: unchanged");
    var other = assertThrows(IllegalArgumentException.class, () -> ModelCache.get(family, "corrupt"));
    assertTrue(other.getMessage().contains("12 layers"), other.getMessage());
    assertEquals(2, loads.get());
    assertEquals(0, ModelCache.loaded().getOrDefault("folders-test", 0));
  }
}
