package dev.sparkinfer.models;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.Ops;
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

  /** Loads the model; fails with a message naming what is wrong (missing files, no OpenCL device, ...). */
  public static BertEmbedder load(ModelRef model, DeviceChoice device, int batchSize) {
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
    Ops ops = Devices.open(device);
    try (WeightSource w = weights) {
      BertModel bert = new BertModel(config, new BertWeights(w, config, ops), pooling, ops);
      return new BertEmbedder(model.name(), tokenizer, bert, ops, batchSize);
    } catch (RuntimeException e) {
      ops.close();
      throw e;
    }
  }
}
