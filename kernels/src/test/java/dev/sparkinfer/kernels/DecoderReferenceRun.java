package dev.sparkinfer.kernels;

import java.io.BufferedOutputStream;
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
 * The LLaMA-3.2-1B-shaped decoder with random bf16 weights, written as a Hugging Face LlamaForCausalLM folder
 * (config.json, model.safetensors) and run here on prompts of 512 tokens: prefill tokens/s and each prompt's last-token
 * logits, for kernels/src/test/python/torch_llama.py to run the same folder and ids in transformers and compare
 * (a reference for RoPE, GQA, the KV cache and the tied head, on a GPU machine).
 *
 * <pre>
 * java ... dev.sparkinfer.kernels.DecoderReferenceRun --dir /tmp/llama1b --layers 16 --prompts 8 --len 512 [opencl|java]
 * </pre>
 */
public final class DecoderReferenceRun {
  public static void main(String[] args) throws IOException {
    Path dir = Path.of("/tmp/llama1b");
    int layers = 16, prompts = 8, len = 512;
    String device = "opencl";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--dir" -> dir = Path.of(args[++i]);
        case "--layers" -> layers = Integer.parseInt(args[++i]);
        case "--prompts" -> prompts = Integer.parseInt(args[++i]);
        case "--len" -> len = Integer.parseInt(args[++i]);
        default -> device = args[i];
      }
    }
    Files.createDirectories(dir);
    DecoderStack.Shape s = DecoderStack.Shape.LLAMA_3_2_1B.withLayers(layers);
    Map<String, DecoderStack.Exported> weights = new LinkedHashMap<>();
    try (Ops ops = Devices.open(DeviceChoice.parse(device))) {
      DecoderStack d = new DecoderStack(ops, s, DType.BF16, 1, prompts, len, weights);
      writeModel(dir, s, weights);
      weights.clear();
      SplittableRandom rnd = new SplittableRandom(5);
      int[] ids = new int[prompts * len];
      for (int p = 0; p < prompts; p++) {
        ids[p * len] = 128000; // <|begin_of_text|>
        for (int t = 1; t < len; t++) ids[p * len + t] = rnd.nextInt(128000);
      }
      writeInts(dir.resolve("ids.bin"), ids);
      d.forward(0, new int[][] {java.util.Arrays.copyOf(ids, 8)}, new int[] {0}); // warm-up: kernel builds per launch shape
      float[] logits = new float[prompts * s.vocab()];
      long t0 = System.nanoTime();
      for (int p = 0; p < prompts; p++) {
        float[] l = d.forward(p, new int[][] {java.util.Arrays.copyOfRange(ids, p * len, (p + 1) * len)}, new int[] {0});
        System.arraycopy(l, 0, logits, p * s.vocab(), s.vocab());
      }
      double sec = (System.nanoTime() - t0) / 1e9;
      System.out.printf("engine %s: prefill %d x %d tokens in %.2f s, %.1f tokens/s, %d layers bf16 [%s]%n", device, prompts, len, sec,
          prompts * len / sec, layers, ops.device());
      writeFloats(dir.resolve("engine_last_logits.bin"), logits);
    }
  }

  static void writeModel(Path dir, DecoderStack.Shape s, Map<String, DecoderStack.Exported> weights) throws IOException {
    String config = String.format(java.util.Locale.ROOT, """
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": %d, "intermediate_size": %d,
         "num_attention_heads": %d, "num_key_value_heads": %d, "num_hidden_layers": %d, "head_dim": %d, "vocab_size": %d,
         "rms_norm_eps": 1e-05, "rope_theta": %.1f, "tie_word_embeddings": true, "max_position_embeddings": 8192,
         "hidden_act": "silu", "attention_bias": false, "mlp_bias": false, "torch_dtype": "bfloat16",
         "bos_token_id": 128000, "eos_token_id": 128001}
        """, s.dim(), s.ffn(), s.heads(), s.kvHeads(), s.layers(), s.headDim(), s.vocab(), s.theta());
    Files.writeString(dir.resolve("config.json"), config);
    StringBuilder header = new StringBuilder("{");
    long offset = 0;
    for (var e : weights.entrySet()) {
      boolean half = e.getValue().data() instanceof char[];
      long n = half ? ((char[]) e.getValue().data()).length : ((float[]) e.getValue().data()).length;
      long bytes = n * (half ? 2 : 4);
      if (header.length() > 1) header.append(',');
      header.append('"').append(e.getKey()).append("\":{\"dtype\":\"").append(half ? "BF16" : "F32").append("\",\"shape\":")
          .append(java.util.Arrays.toString(e.getValue().shape()).replace(" ", "")).append(",\"data_offsets\":[").append(offset)
          .append(',').append(offset + bytes).append("]}");
      offset += bytes;
    }
    header.append('}');
    while (header.length() % 8 != 0) header.append(' ');
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(dir.resolve("model.safetensors")), 1 << 22)) {
      byte[] hb = header.toString().getBytes(StandardCharsets.UTF_8);
      out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).array());
      out.write(hb);
      for (var e : weights.values()) {
        if (e.data() instanceof char[] c) {
          ByteBuffer b = ByteBuffer.allocate(2 * c.length).order(ByteOrder.LITTLE_ENDIAN);
          for (char x : c) b.putChar(x);
          out.write(b.array());
        } else {
          float[] v = (float[]) e.data();
          ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
          for (float x : v) b.putFloat(x);
          out.write(b.array());
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
