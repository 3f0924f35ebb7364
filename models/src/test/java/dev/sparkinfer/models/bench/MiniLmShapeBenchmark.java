package dev.sparkinfer.models.bench;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.bert.BertConfig;
import dev.sparkinfer.models.bert.BertModel;
import dev.sparkinfer.models.bert.BertWeights;
import dev.sparkinfer.models.bert.Pooling;
import dev.sparkinfer.models.weights.SafeTensors;
import dev.sparkinfer.models.weights.WeightSource;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * all-MiniLM-L6-v2's shapes with random weights, made here (machines without the 83 MB model jar, e.g. the GPU ones):
 * writes a Hugging Face folder (config.json, model.safetensors) and token ids, then embeds batches of {@code --batch}
 * sequences of ragged lengths up to {@code --seq} on a device, prints sentences/s and writes the first batch's
 * embeddings for a reference to compare (models/src/test/python/torch_minilm.py does the same batches in PyTorch).
 *
 * <pre>
 * java ... dev.sparkinfer.models.bench.MiniLmShapeBenchmark --dir /tmp/minilm --batch 256 --seq 128 --batches 8 opencl
 * </pre>
 */
public final class MiniLmShapeBenchmark {
  public static void main(String[] args) throws IOException {
    Path dir = Path.of("/tmp/minilm-shape");
    int batch = 256, seq = 128, batches = 8;
    String device = "opencl";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--dir" -> dir = Path.of(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--seq" -> seq = Integer.parseInt(args[++i]);
        case "--batches" -> batches = Integer.parseInt(args[++i]);
        default -> device = args[i];
      }
    }
    Files.createDirectories(dir);
    try (var in = MiniLmShapeBenchmark.class.getResourceAsStream("/dev/sparkinfer/models/default/config.json")) {
      Files.copy(in, dir.resolve("config.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    BertConfig config = BertConfig.fromFile(dir.resolve("config.json")).withMaxSeqLength(512);
    writeRandomWeights(dir.resolve("model.safetensors"), config, 7);
    // token ids: [CLS] random [SEP], lengths from seq/4 to seq, padded with 0 (the same for every batch)
    SplittableRandom rnd = new SplittableRandom(11);
    int[] ids = new int[batch * seq], types = new int[batch * seq], mask = new int[batch * seq];
    long tokens = 0;
    for (int b = 0; b < batch; b++) {
      int len = seq / 4 + rnd.nextInt(seq - seq / 4 + 1);
      tokens += len;
      for (int t = 0; t < len; t++) {
        ids[b * seq + t] = t == 0 ? 101 : t == len - 1 ? 102 : 1000 + rnd.nextInt(29000);
        mask[b * seq + t] = 1;
      }
    }
    writeInts(dir.resolve("ids.bin"), ids);
    writeInts(dir.resolve("mask.bin"), mask);
    try (Ops ops = Devices.open(DeviceChoice.parse(device)); WeightSource w = SafeTensors.openModelDir(dir)) {
      BertModel model = new BertModel(config, new BertWeights(w, config, ops), new Pooling(Pooling.Mode.MEAN, true, 512), ops);
      float[][] first = model.embed(ids, types, mask, batch, seq); // warm-up (kernel builds) and the compared batch
      long t0 = System.nanoTime();
      for (int i = 0; i < batches; i++) model.embed(ids, types, mask, batch, seq);
      double s = (System.nanoTime() - t0) / 1e9;
      System.out.printf("engine %s: MiniLM shape, batch %d, padded to %d (%d real tokens a batch): %.1f sentences/s, %.1f ms a batch [%s]%n",
          device, batch, seq, tokens, batch * batches / s, s / batches * 1e3, ops.device());
      float[] flat = new float[batch * config.hidden()];
      for (int b = 0; b < batch; b++) System.arraycopy(first[b], 0, flat, b * config.hidden(), config.hidden());
      writeFloats(dir.resolve("engine_embeddings.bin"), flat);
    }
  }

  /** HF BertModel names and shapes, N(0, 0.05) weights, LayerNorm weight ~1: written as one safetensors file (f32). */
  static void writeRandomWeights(Path file, BertConfig c, long seed) throws IOException {
    int h = c.hidden(), f = 1536, v = 30522;
    Map<String, int[]> shapes = new LinkedHashMap<>();
    shapes.put("embeddings.word_embeddings.weight", new int[] {v, h});
    shapes.put("embeddings.position_embeddings.weight", new int[] {512, h});
    shapes.put("embeddings.token_type_embeddings.weight", new int[] {2, h});
    shapes.put("embeddings.LayerNorm.weight", new int[] {h});
    shapes.put("embeddings.LayerNorm.bias", new int[] {h});
    for (int l = 0; l < 6; l++) {
      String p = "encoder.layer." + l + ".";
      for (String n : new String[] {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
        shapes.put(p + n + ".weight", new int[] {h, h});
        shapes.put(p + n + ".bias", new int[] {h});
      }
      shapes.put(p + "attention.output.LayerNorm.weight", new int[] {h});
      shapes.put(p + "attention.output.LayerNorm.bias", new int[] {h});
      shapes.put(p + "intermediate.dense.weight", new int[] {f, h});
      shapes.put(p + "intermediate.dense.bias", new int[] {f});
      shapes.put(p + "output.dense.weight", new int[] {h, f});
      shapes.put(p + "output.dense.bias", new int[] {h});
      shapes.put(p + "output.LayerNorm.weight", new int[] {h});
      shapes.put(p + "output.LayerNorm.bias", new int[] {h});
    }
    StringBuilder header = new StringBuilder("{");
    long offset = 0;
    for (var e : shapes.entrySet()) {
      long n = 1;
      for (int d : e.getValue()) n *= d;
      if (header.length() > 1) header.append(',');
      header.append('"').append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":").append(java.util.Arrays.toString(e.getValue()).replace(" ", ""))
          .append(",\"data_offsets\":[").append(offset).append(',').append(offset + 4 * n).append("]}");
      offset += 4 * n;
    }
    header.append('}');
    while (header.length() % 8 != 0) header.append(' ');
    SplittableRandom rnd = new SplittableRandom(seed);
    try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
      byte[] hb = header.toString().getBytes(StandardCharsets.UTF_8);
      out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).array());
      out.write(hb);
      ByteBuffer buf = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
      for (var e : shapes.entrySet()) {
        long n = 1;
        for (int d : e.getValue()) n *= d;
        boolean lnWeight = e.getKey().endsWith("LayerNorm.weight");
        for (long i = 0; i < n; i++) {
          float x = lnWeight ? (float) (1 + 0.1 * rnd.nextGaussian()) : (float) (0.05 * rnd.nextGaussian());
          buf.clear();
          out.write(buf.putFloat(x).array());
        }
      }
    }
  }

  private static void writeInts(Path p, int[] a) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(4 * a.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int x : a) b.putInt(x);
    Files.write(p, b.array());
  }

  private static void writeFloats(Path p, float[] a) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(4 * a.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : a) b.putFloat(x);
    Files.write(p, b.array());
  }
}
