package dev.sparkinfer.models;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.bert.BertConfig;
import dev.sparkinfer.models.bert.BertEmbedder;
import dev.sparkinfer.models.bert.BertModel;
import dev.sparkinfer.models.bert.BertWeights;
import dev.sparkinfer.models.bert.Pooling;
import dev.sparkinfer.models.tokenizer.Tokenizer;
import dev.sparkinfer.models.tokenizer.WordPieceTokenizer;
import dev.sparkinfer.models.weights.OnnxWeights;
import dev.sparkinfer.models.weights.SafeTensors;
import dev.sparkinfer.models.weights.WeightSource;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** Loads a sentence-embedding model (BERT family) onto a device. */
public final class Embedders {
  /** Texts per forward pass unless the caller says otherwise. */
  public static final int DEFAULT_BATCH_SIZE = 32;

  private Embedders() {}

  public static BertEmbedder load(ModelRef model, DeviceChoice device) { return load(model, device, DEFAULT_BATCH_SIZE); }

  /**
   * Loads the model on an engine of its own (closed with the model); fails with a message naming what is wrong (missing
   * files, no OpenCL device, ...). Tunables from this JVM's sparkinfer.* properties.
   */
  public static BertEmbedder load(ModelRef model, DeviceChoice device, int batchSize) {
    DeviceRuntime runtime = DeviceRuntime.own(device, EngineConfig.fromSystemProperties());
    try {
      return load(model, runtime, batchSize, true);
    } catch (RuntimeException e) {
      runtime.close();
      throw e;
    }
  }

  /** Loads the model onto a shared engine (the executor's {@link DeviceRuntime}); closing the model leaves the engine open. */
  public static BertEmbedder load(ModelRef model, DeviceRuntime runtime, int batchSize) {
    return load(model, runtime, batchSize, runtime.config(), false);
  }

  /**
   * As above, the weights loaded as {@code load} says ({@link EngineConfig#quantize()}, {@link EngineConfig#prune()}:
   * the job's settings, which may differ from those the shared engine was first opened with).
   */
  public static BertEmbedder load(ModelRef model, DeviceRuntime runtime, int batchSize, EngineConfig load) {
    return load(model, runtime, batchSize, load, false);
  }

  private static BertEmbedder load(ModelRef model, DeviceRuntime runtime, int batchSize, boolean ownsRuntime) {
    return load(model, runtime, batchSize, runtime.config(), ownsRuntime);
  }

  private static BertEmbedder load(ModelRef model, DeviceRuntime runtime, int batchSize, EngineConfig load, boolean ownsRuntime) {
    BertConfig config;
    Pooling pooling;
    Tokenizer tokenizer;
    WeightSource weights;
    if (model.isDefault()) {
      try (InputStream c = ModelRef.openDefaultResource("/dev/sparkinfer/models/default/config.json");
           InputStream t = ModelRef.openDefaultResource(ModelRef.DEFAULT_TOKENIZER_RESOURCE);
           InputStream w = ModelRef.openDefaultResource(ModelRef.DEFAULT_ONNX_RESOURCE)) {
        config = BertConfig.fromJson(c, "default model config.json");
        pooling = Pooling.MINILM;
        tokenizer = WordPieceTokenizer.fromJson(t);
        weights = OnnxWeights.open(w, "jar:" + ModelRef.DEFAULT_ONNX_RESOURCE);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the default model from its jar: " + e.getMessage(), e);
      }
    } else {
      Path dir = model.folder();
      config = BertConfig.fromFile(dir.resolve("config.json"));
      pooling = Pooling.fromFolder(dir);
      tokenizer = WordPieceTokenizer.fromFile(dir.resolve("tokenizer.json"));
      Path file = ModelRef.weightsFile(dir);
      weights = file.toString().endsWith(".onnx") ? OnnxWeights.open(file) : SafeTensors.openModelDir(dir);
    }
    int maxLen = pooling.maxSeqLength() > 0 ? pooling.maxSeqLength() : Math.min(config.maxPositions(), 512);
    config = config.withMaxSeqLength(maxLen);
    if (tokenizer.vocabSize() > config.vocabSize()) {
      throw new IllegalArgumentException(model.spec() + ": tokenizer has " + tokenizer.vocabSize() + " tokens but the model only "
          + config.vocabSize() + " embeddings");
    }
    BertConfig cfg = config;
    try (WeightSource w = weights) {
      BertModel bert = runtime.admit(ops -> new BertModel(cfg, new BertWeights(w, cfg, ops, load.quantize(), load.prune()), pooling, ops));
      // a pruned or quantized model says so wherever its name is recorded (the model column, the summary)
      String name = model.name() + load.weightsSuffix();
      return new BertEmbedder(name, tokenizer, bert, runtime, batchSize, ownsRuntime);
    }
  }
}
