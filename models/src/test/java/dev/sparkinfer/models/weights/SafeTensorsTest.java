package dev.sparkinfer.models.weights;

import static dev.sparkinfer.models.weights.SafeTensorsWriter.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sparkinfer.models.Fixtures;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
  @TempDir Path tmp;

  // ------------------------------------------------------------------------------------------------- round trips

  @Test
  void f32AndIntegersRoundTrip() throws IOException {
    Path f = new SafeTensorsWriter()
        .metadata("format", "pt")
        .f32("w", shape(2, 3), 1f, -2.5f, 3.25f, Float.MIN_VALUE, Float.MAX_VALUE, -0f)
        .i64("ids", shape(4), 101L, -1L, Long.MAX_VALUE, 0L)
        .i32("small", shape(2, 1), 7, Integer.MIN_VALUE)
        .f32("scalar", shape(), 42f)
        .f32("empty", shape(0, 5))
        .write(tmp.resolve("a.safetensors"));
    try (SafeTensors st = SafeTensors.open(f)) {
      assertEquals(Set.of("w", "ids", "small", "scalar", "empty"), st.names());
      assertFalse(st.has("__metadata__"));
      assertArrayEquals(new long[] {2, 3}, st.shape("w"));
      assertEquals(DType.F32, st.dtype("w"));
      assertArrayEquals(new float[] {1f, -2.5f, 3.25f, Float.MIN_VALUE, Float.MAX_VALUE, -0f}, st.floats("w"));
      assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(st.floats("w")[5]));
      assertEquals(DType.I64, st.dtype("ids"));
      assertArrayEquals(new long[] {101L, -1L, Long.MAX_VALUE, 0L}, st.longs("ids"));
      assertArrayEquals(new long[] {7, Integer.MIN_VALUE}, st.longs("small"));
      assertArrayEquals(new long[0], st.shape("scalar"));
      assertArrayEquals(new float[] {42f}, st.floats("scalar"));
      assertArrayEquals(new long[] {0, 5}, st.shape("empty"));
      assertEquals(0, st.floats("empty").length);
    }
  }

  @Test
  void f16IncludingSubnormalsInfinitiesAndNegativeZero() throws IOException {
    int[] bits = {0x3C00, 0xC000, 0x7BFF, 0xFBFF, 0x0001, 0x03FF, 0x0400, 0x8001, 0x7C00, 0xFC00, 0x8000, 0x0000, 0x3555, 0x7E00};
    float[] want = {1f, -2f, 65504f, -65504f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f, -0x1p-24f,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f, 0.333251953125f, Float.NaN};
    Path f = new SafeTensorsWriter().u16("h", "F16", shape(bits.length), bits).write(tmp.resolve("h.safetensors"));
    try (SafeTensors st = SafeTensors.open(f)) {
      assertEquals(DType.F16, st.dtype("h"));
      float[] got = st.floats("h");
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], got[i], 0f, "half 0x" + Integer.toHexString(bits[i]));
      }
      assertEquals(0x80000000, Float.floatToRawIntBits(got[10]), "negative zero keeps its sign");
      assertEquals(0, Float.floatToRawIntBits(got[11]));
      assertTrue(Float.isNaN(got[13]));
    }
  }

  @Test
  void halfConversionMatchesTheDefinitionForAllBitPatterns() {
    for (int h = 0; h < 1 << 16; h++) {
      int sign = h >>> 15;
      int exp = (h >>> 10) & 0x1f;
      int mant = h & 0x3ff;
      double v;
      if (exp == 0x1f) v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
      else if (exp == 0) v = mant * Math.pow(2, -24);
      else v = (1 + mant / 1024.0) * Math.pow(2, exp - 15);
      if (sign == 1) v = -v;
      float got = Half.toFloat((short) h);
      if (Double.isNaN(v)) {
        assertTrue(Float.isNaN(got), "half 0x" + Integer.toHexString(h));
      } else {
        assertEquals(Float.floatToRawIntBits((float) v), Float.floatToRawIntBits(got), "half 0x" + Integer.toHexString(h));
      }
    }
  }

  @Test
  void bf16IsTheUpperHalfOfAFloat() throws IOException {
    float[] vals = {1f, -2f, 3.140625f, Float.POSITIVE_INFINITY, -0f, 1e-40f /* subnormal */, 3.3895314e38f};
    int[] bits = new int[vals.length];
    for (int i = 0; i < vals.length; i++) bits[i] = Float.floatToRawIntBits(vals[i]) >>> 16;
    Path f = new SafeTensorsWriter().u16("b", "BF16", shape(vals.length), bits).write(tmp.resolve("b.safetensors"));
    try (SafeTensors st = SafeTensors.open(f)) {
      assertEquals(DType.BF16, st.dtype("b"));
      float[] got = st.floats("b");
      for (int i = 0; i < vals.length; i++) {
        assertEquals(bits[i] << 16, Float.floatToRawIntBits(got[i]));
      }
      assertEquals(3.140625f, got[2], 0f);
      assertEquals(0x80000000, Float.floatToRawIntBits(got[4]));
    }
  }

  @Test
  void readsAcrossMappingWindows() throws IOException {
    float[] v = new float[1000];
    for (int i = 0; i < v.length; i++) v[i] = i * 0.5f - 17;
    int[] h = new int[333];
    for (int i = 0; i < h.length; i++) h[i] = 0x3C00 + i;
    long[] ids = new long[77];
    for (int i = 0; i < ids.length; i++) ids[i] = (long) i * 1_000_000_007L;
    Path f = new SafeTensorsWriter()
        .u16("h", "F16", shape(h.length), h) // odd byte count: later tensors start unaligned
        .f32("v", shape(10, 100), v)
        .i64("ids", shape(ids.length), ids)
        .write(tmp.resolve("w.safetensors"));
    try (SafeTensors ref = SafeTensors.open(f)) {
      for (int window : new int[] {7, 13, 64, 4096}) {
        try (SafeTensors st = SafeTensors.open(f, window)) {
          assertArrayEquals(v, st.floats("v"), "window " + window);
          assertArrayEquals(ref.floats("h"), st.floats("h"), "window " + window);
          assertArrayEquals(ids, st.longs("ids"), "window " + window);
        }
      }
    }
  }

  /** A sparse file over 4 GiB: several mappings, offsets past 2^32, and a tensor too large for one array. */
  @Test
  void filesOverTwoGigabytes() throws IOException {
    assumeTrue(Files.getFileStore(tmp).getUsableSpace() > (8L << 30), "needs room for a sparse 4 GiB file");
    long big = 1L << 31; // F16 elements: 4 GiB of data, more than one Java array holds
    String header = "{\"big\":{\"dtype\":\"F16\",\"shape\":[" + big + "],\"data_offsets\":[0," + 2 * big + "]},"
        + "\"tail\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[" + 2 * big + "," + (2 * big + 12) + "]}}";
    Path f = tmp.resolve("big.safetensors");
    byte[] head = SafeTensorsWriter.raw(header, new byte[0]);
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.write(head);
      raf.seek(head.length + 2 * big);
      ByteBuffer tail = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).putFloat(7f);
      raf.write(tail.array());
    }
    try (SafeTensors st = SafeTensors.open(f)) {
      assertEquals(big, st.elements("big"));
      assertArrayEquals(new float[] {1.5f, -2f, 7f}, st.floats("tail"));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> st.floats("big"));
      assertTrue(e.getMessage().contains("'big'") && e.getMessage().contains("2^31"), e.getMessage());
    } finally {
      Files.deleteIfExists(f);
    }
  }

  @Test
  void wrongAccessorsAndMissingNamesFailClearly() throws IOException {
    Path f = new SafeTensorsWriter()
        .f32("model.w", shape(1), 1f).i64("ids", shape(1), 3L).tensor("mask", "BOOL", shape(2), new byte[] {1, 0})
        .write(tmp.resolve("x.safetensors"));
    try (SafeTensors st = SafeTensors.open(f)) {
      assertMessage(() -> st.floats("ids"), "'ids'", "I64");
      assertMessage(() -> st.longs("model.w"), "'model.w'", "F32");
      assertMessage(() -> st.floats("mask"), "'mask'", "BOOL");
      assertMessage(() -> st.floats("nope"), "no tensor named 'nope'", f.getFileName().toString());
      assertMessage(() -> st.shape("w"), "no tensor named 'w'", "did you mean 'model.w'");
    }
  }

  // ---------------------------------------------------------------------------------------------------- corruption

  @Test
  void corruptFilesFailNamingTheProblem() throws IOException {
    byte[] f32x6 = new byte[24];
    String ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    Map<String, byte[]> cases = new java.util.LinkedHashMap<>();
    cases.put("shorter than the 8-byte header length", new byte[] {1, 2, 3});
    cases.put("header length 1099511627776 exceeds the limit", withLength(1L << 40, ok.getBytes()));
    cases.put("header length 18446744073709551615 exceeds the limit", withLength(-1L, ok.getBytes()));
    cases.put("is truncated: header length 500", withLength(500, ok.getBytes()));
    cases.put("header is not valid JSON", SafeTensorsWriter.raw("{\"a\": {\"dtype\": \"F32\",", f32x6));
    cases.put("header is not a JSON object", SafeTensorsWriter.raw("[1, 2, 3]", f32x6));
    cases.put("Duplicate field 'a'", SafeTensorsWriter.raw(ok.replace("}}", "},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"), f32x6));
    cases.put("tensor 'a': unknown dtype 'Q4'", SafeTensorsWriter.raw(ok.replace("F32", "Q4"), f32x6));
    cases.put("tensor 'a': missing or non-string dtype", SafeTensorsWriter.raw(ok.replace("\"dtype\":\"F32\",", ""), f32x6));
    cases.put("tensor 'a': shape [2,-3] has a dimension", SafeTensorsWriter.raw(ok.replace("[2,3]", "[2,-3]"), f32x6));
    cases.put("tensor 'a': missing shape", SafeTensorsWriter.raw(ok.replace("\"shape\":[2,3],", ""), f32x6));
    cases.put("tensor 'a': data_offsets must be two integers", SafeTensorsWriter.raw(ok.replace("[0,24]", "[0]"), f32x6));
    cases.put("tensor 'a': data_offsets [24, 0) are not a valid range", SafeTensorsWriter.raw(ok.replace("[0,24]", "[24,0]"), f32x6));
    cases.put("tensor 'a': data_offsets [8, 32) end outside the data region of 24 bytes",
        SafeTensorsWriter.raw(ok.replace("[0,24]", "[8,32]"), f32x6));
    cases.put("tensor 'a': data_offsets [0, 20) hold 20 bytes but shape [2, 3] of F32 needs 24",
        SafeTensorsWriter.raw(ok.replace("[0,24]", "[0,20]"), f32x6));
    cases.put("tensors 'a' and 'b' overlap", SafeTensorsWriter.raw(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]}}",
        new byte[16]));
    byte[] good = new SafeTensorsWriter().f32("x", shape(2), 1f, 2f).f32("last", shape(4), 1f, 2f, 3f, 4f).bytes();
    cases.put("tensor 'last': data_offsets [8, 24) end outside the data region of 22 bytes: the file is truncated",
        Arrays.copyOf(good, good.length - 2));
    byte[] tooShortForHeader = Arrays.copyOf(good, 20);
    cases.put("is truncated: header length", tooShortForHeader);

    int i = 0;
    for (Map.Entry<String, byte[]> c : cases.entrySet()) {
      Path f = Files.write(tmp.resolve("bad" + (i++) + ".safetensors"), c.getValue());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.open(f), c.getKey());
      assertTrue(e.getMessage().contains(c.getKey()), "expected '" + c.getKey() + "' in: " + e.getMessage());
      assertTrue(e.getMessage().contains(f.getFileName().toString()), "names the file: " + e.getMessage());
    }
    assertMessage(() -> SafeTensors.open(tmp.resolve("absent.safetensors")), "absent.safetensors", "does not exist");
  }

  private static byte[] withLength(long n, byte[] rest) {
    return ByteBuffer.allocate(8 + rest.length).order(ByteOrder.LITTLE_ENDIAN).putLong(n).put(rest).array();
  }

  // ------------------------------------------------------------------------------------------------------ shards

  @Test
  void shardedCheckpointIsOneSource() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("sharded"));
    new SafeTensorsWriter().f32("a", shape(2), 1f, 2f).f32("b", shape(1), 3f).write(dir.resolve("model-00001-of-00002.safetensors"));
    new SafeTensorsWriter().i64("c", shape(2), 5L, 6L).write(dir.resolve("model-00002-of-00002.safetensors"));
    Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\":{\"total_size\":28},\"weight_map\":{"
        + "\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\",\"c\":\"model-00002-of-00002.safetensors\"}}");
    try (WeightSource w = SafeTensors.openModelDir(dir)) {
      assertEquals(Set.of("a", "b", "c"), w.names());
      assertArrayEquals(new float[] {1f, 2f}, w.floats("a"));
      assertArrayEquals(new float[] {3f}, w.floats("b"));
      assertArrayEquals(new long[] {5L, 6L}, w.longs("c"));
      assertEquals(DType.I64, w.dtype("c"));
      assertMessage(() -> w.floats("d"), "no tensor named 'd'");
    }
    // a weight_map that lies, a missing shard
    Files.writeString(dir.resolve("model.safetensors.index.json"),
        "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\"}}");
    assertMessage(() -> SafeTensors.openModelDir(dir), "tensor 'a'", "does not hold it");
    Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"a\":\"model-00003-of-00003.safetensors\"}}");
    assertMessage(() -> SafeTensors.openModelDir(dir), "tensor 'a'", "model-00003-of-00003.safetensors", "missing");
    // a single file wins over an index
    new SafeTensorsWriter().f32("only", shape(1), 9f).write(dir.resolve("model.safetensors"));
    try (WeightSource w = SafeTensors.openModelDir(dir)) {
      assertEquals(Set.of("only"), w.names());
    }
    assertMessage(() -> SafeTensors.openModelDir(tmp), "neither model.safetensors nor model.safetensors.index.json");
  }

  // ---------------------------------------------------------------------------------------------------- fixtures

  @Test
  void gpt2TinyFixtureIsF16() {
    try (SafeTensors st = SafeTensors.open(Fixtures.require("gpt2-tiny/model.safetensors"))) {
      assertEquals(26, st.names().size());
      for (String n : st.names()) assertEquals(DType.F16, st.dtype(n), n);
      assertArrayEquals(new long[] {128, 384}, st.shape("transformer.h.0.attn.c_attn.weight")); // Conv1D: [in, out]
      assertFalse(st.has("lm_head.weight"), "tied head, no tensor");
      float[] w = st.floats("transformer.h.0.attn.c_attn.weight");
      assertEquals(128 * 384, w.length);
      assertFinite(w);
    }
  }

  @Test
  void llamaTinyFixtureIsBf16() {
    try (WeightSource st = SafeTensors.openModelDir(Fixtures.require("llama-tiny/model.safetensors").getParent())) {
      assertEquals(20, st.names().size());
      for (String n : st.names()) assertEquals(DType.BF16, st.dtype(n), n);
      assertArrayEquals(new long[] {128256, 64}, st.shape("model.embed_tokens.weight"));
      assertArrayEquals(new long[] {64, 160}, st.shape("model.layers.0.mlp.down_proj.weight"));
      float[] e = st.floats("model.embed_tokens.weight");
      assertEquals(128256 * 64, e.length);
      assertFinite(e);
      for (float x : e) assertEquals(0, Float.floatToRawIntBits(x) & 0xffff, "bf16 widened exactly");
    }
  }

  /** The HF and OpenCLIP layouts of clip-tiny hold the same f16 weights under different names. */
  @Test
  void clipTinyHfAndOpenClipHoldTheSameWeights() {
    try (SafeTensors hf = SafeTensors.open(Fixtures.require("clip-tiny-hf/model.safetensors"));
         SafeTensors oc = SafeTensors.open(Fixtures.require("clip-tiny-openclip/open_clip_model.safetensors"))) {
      assertEquals(78, hf.names().size());
      assertEquals(62, oc.names().size());
      for (String n : hf.names()) assertEquals(DType.F16, hf.dtype(n), n);
      for (String n : oc.names()) assertEquals(DType.F16, oc.dtype(n), n);
      List<String[]> same = List.of(
          new String[] {"text_model.embeddings.token_embedding.weight", "token_embedding.weight"},
          new String[] {"text_model.embeddings.position_embedding.weight", "positional_embedding"},
          new String[] {"text_model.encoder.layers.0.mlp.fc1.weight", "transformer.resblocks.0.mlp.c_fc.weight"},
          new String[] {"text_model.encoder.layers.1.self_attn.out_proj.weight", "transformer.resblocks.1.attn.out_proj.weight"},
          new String[] {"text_model.final_layer_norm.weight", "ln_final.weight"},
          new String[] {"vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight"},
          new String[] {"vision_model.embeddings.class_embedding", "visual.class_embedding"},
          new String[] {"vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"},
          new String[] {"vision_model.encoder.layers.1.mlp.fc2.weight", "visual.transformer.resblocks.1.mlp.c_proj.weight"},
          new String[] {"logit_scale", "logit_scale"});
      for (String[] p : same) {
        assertArrayEquals(oc.shape(p[1]), hf.shape(p[0]), p[0]);
        assertBitsEqual(oc.floats(p[1]), hf.floats(p[0]), p[0] + " vs " + p[1]);
      }
      // fused attention: in_proj_weight = [q; k; v]
      float[] in = oc.floats("transformer.resblocks.0.attn.in_proj_weight");
      float[] qkv = concat(hf.floats("text_model.encoder.layers.0.self_attn.q_proj.weight"),
          hf.floats("text_model.encoder.layers.0.self_attn.k_proj.weight"), hf.floats("text_model.encoder.layers.0.self_attn.v_proj.weight"));
      assertBitsEqual(in, qkv, "in_proj_weight = q;k;v");
      // projections: HF Linear [out, in] = OpenCLIP parameter [in, out] transposed
      assertArrayEquals(new long[] {64, 128}, hf.shape("text_projection.weight"));
      assertArrayEquals(new long[] {128, 64}, oc.shape("text_projection"));
      assertBitsEqual(transpose(oc.floats("text_projection"), 128, 64), hf.floats("text_projection.weight"), "text_projection");
      assertBitsEqual(transpose(oc.floats("visual.proj"), 128, 64), hf.floats("visual_projection.weight"), "visual.proj");
      assertFinite(hf.floats("text_model.embeddings.token_embedding.weight"));
    }
  }

  // -------------------------------------------------------------------------------------------------------- utils

  /** {@code [rows, cols]} row-major → {@code [cols, rows]}. */
  private static float[] transpose(float[] a, int rows, int cols) {
    float[] t = new float[a.length];
    for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
    return t;
  }

  private static float[] concat(float[]... parts) {
    int n = 0;
    for (float[] p : parts) n += p.length;
    float[] out = new float[n];
    int o = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, out, o, p.length);
      o += p.length;
    }
    return out;
  }

  private static void assertBitsEqual(float[] want, float[] got, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) {
      if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
        throw new AssertionError(what + ": element " + i + " differs: " + want[i] + " vs " + got[i]);
      }
    }
  }

  private static void assertFinite(float[] a) {
    for (int i = 0; i < a.length; i++) if (!Float.isFinite(a[i])) throw new AssertionError("element " + i + " is " + a[i]);
  }

  static void assertMessage(org.junit.jupiter.api.function.Executable call, String... parts) {
    RuntimeException e = assertThrows(RuntimeException.class, call);
    for (String p : parts) assertTrue(e.getMessage() != null && e.getMessage().contains(p), "expected '" + p + "' in: " + e.getMessage());
  }
}
