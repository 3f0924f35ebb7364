package dev.sparkinfer.kernels;

/**
 * What transformer inference needs, on one device. Two implementations: {@link JavaOps} (plain-Java reference) and
 * {@link AparapiOps} (Aparapi kernels on an OpenCL device); every op has a parity test between them.
 *
 * <p>Memory: tensors live in the device's memory. {@link #upload} puts weights there once (resident for the life of the
 * Ops); {@link #alloc} takes scratch for activations inside a {@link #scope()}, released when the scope closes. Only
 * {@link #write} and {@link #read} move data between the JVM and the device.
 *
 * <p>All tensors are row-major; dims are passed to each op. An Ops is used by one thread at a time.
 */
public interface Ops extends AutoCloseable {

  /** Which device runs the ops, e.g. {@code opencl: NVIDIA H100 (NVIDIA Corporation, GPU)} or {@code java}. */
  DeviceInfo device();

  /**
   * What ran every launch so far: the device, and, where Aparapi fell back to Java threads for some op (possible only
   * when not strict), that fact and the first op it happened to. Jobs record this at the end of each partition.
   */
  default String ranOn() { return device().toString(); }

  // ---- memory ----

  /** Copies weights to the device once; they stay resident until {@link #close()}. Not allowed inside a scope. */
  Tensor upload(float[] data);

  IntTensor uploadInts(int[] data);

  /** Scratch floats, zeroed, valid until the enclosing scope closes. */
  Tensor alloc(int size);

  IntTensor allocInts(int size);

  void write(Tensor dst, float[] src);

  void write(IntTensor dst, int[] src);

  float[] read(Tensor src);

  int[] read(IntTensor src);

  /**
   * 16-bit weights (bf16 or f16 bit patterns as the checkpoint stores them), copied to the device once and kept 16-bit
   * there; kernels widen them to float where they use them. Not allowed inside a scope.
   */
  HalfTensor upload16(char[] bits, DType dtype);

  /**
   * A Linear weight {@code [out, in]} of 16-bit values (as {@link #upload16}), in the layout this engine's
   * {@link #linear16} reads best: the CPU engine packs it in panels of output columns, so that it widens each panel
   * contiguously and every row count sums in one order; other engines keep it as given. Read by {@link #linear16} with
   * this out and in, and by {@link #gather16} with {@code vocab = out, dim = in} (a token table that is also the tied
   * output head). Not allowed inside a scope.
   */
  default HalfTensor upload16Linear(char[] bits, DType dtype, int out, int in) {
    checkLinear16(bits, out, in);
    return upload16(bits, dtype);
  }

  /** Refuses 16-bit Linear bits that are not {@code out x in} values (every {@link #upload16Linear}). */
  static void checkLinear16(char[] bits, int out, int in) {
    if (bits.length != (long) out * in) throw new IllegalArgumentException("16-bit linear weight has " + bits.length + " values, expected " + out + " x " + in);
  }

  /**
   * Float32 weights too large to share the float arena with state and activations (Linear weights, embedding tables),
   * copied once into the float banks (up to 8 of 2 GiB, beside the arena) and read as stored by {@link #linear16} and
   * {@link #gather16}, like 16-bit weights in theirs. Not allowed inside a scope.
   */
  HalfTensor uploadBanked(float[] data);

  /**
   * Bytes (quantized weights), copied to the device once and kept there as bytes; kernels dequantize them where they
   * use them. Not allowed inside a scope.
   */
  ByteTensor uploadBytes(byte[] data);

  /**
   * The 16-bit values a Linear weight {@code [out, in]} takes once uploaded with {@link #upload16Linear} (the CPU engine
   * pads the last panel): what a loader counts for it in {@link #reserve16}.
   */
  default long linear16Values(int out, int in) { return (long) out * in; }

  /**
   * Makes room for this many more 16-bit weights at once (a model loader knows its total; avoids regrowing, which takes
   * half as much again as the bank held). Count Linear weights by {@link #linear16Values}. A smaller reservation made
   * while one is outstanding does not shrink it: a loader that loads its parts with their own loaders (LLaVA: a vision
   * tower and a LLaMA) reserves the whole first.
   */
  void reserve16(long values);

  /**
   * The float-bank values a float32 Linear weight {@code [out, in]} takes once uploaded with {@link #uploadLinear} (the
   * CPU engine pads the last panel); 0 where this engine keeps it in its float arena (the in-major layout of
   * {@link #uploadLinear}'s default): what a loader counts for it in {@link #reserve32}.
   */
  default long linear32Values(int out, int in) { return linearInMajor() ? 0 : (long) out * in; }

  /**
   * As {@link #reserve16}, for float32 weights in the float banks (Linear weights by {@link #linear32Values}, tables by
   * their element count).
   */
  void reserve32(long values);

  /**
   * The bytes a Linear weight {@code [out, in]} quantized with {@code q} takes in the byte memory once uploaded with
   * {@link #uploadLinear(QuantizedWeights)} (a row's values, INT4 two to a byte; the CPU engine pads the last panel):
   * what a loader counts for it in {@link #reserve8}. Its scales go to the float arena.
   */
  default long linearBytes(int out, int in, Quantization q) {
    if (q == Quantization.NONE) return 0;
    return (long) out * (q == Quantization.INT4 ? (in + 1) / 2 : in);
  }

  /** As {@link #reserve16}, for quantized weights (counted by {@link #linearBytes}). */
  void reserve8(long bytes);

  /**
   * State that lives across calls (a KV cache at its capacity), zeroed, beside the weights: allocated outside any scope,
   * kept until {@link #close()}.
   */
  Tensor allocState(int size);

  /** Bytes this Ops holds in host memory and on its device for weights, state and scratch (capacity, not use). */
  MemoryUse memoryUse();

  /**
   * What an Ops holds: host bytes (Java arrays) and device bytes (buffers; 0 for the Java reference); of the host bytes,
   * the 16-bit banks, the float and int arenas, the byte memory of quantized weights, and the float banks of float32
   * weights ({@link #uploadBanked}).
   */
  record MemoryUse(long hostBytes, long deviceBytes, long weights16Bytes, long floatBytes, long weights8Bytes, long weights32Bytes) {}

  /** Marks the scratch in use now; closing the scope frees everything allocated since. Scopes nest. */
  Scope scope();

  interface Scope extends AutoCloseable {
    @Override
    void close();
  }

  // ---- linear algebra ----

  /**
   * out[m, n] = a[m, k] x b + bias[n], where b is {@code [n, k]} when {@code transB} (PyTorch Linear weight) and
   * {@code [k, n]} otherwise (GPT-2 Conv1D). {@code bias} may be null.
   */
  void matmul(Tensor out, Tensor a, Tensor b, Tensor bias, int m, int n, int k, boolean transB);

  /** True when this device multiplies Linear weights fastest stored transposed, {@code [in, out]}. */
  boolean linearInMajor();

  /**
   * Uploads a Linear weight given in PyTorch's {@code [out, in]} layout, stored as this device prefers. This default
   * keeps {@code [out, in]} in a float bank ({@link #uploadBanked}, multiplied by {@link #linear16}: on OpenCL the same
   * kernels, sums and results as from the float arena), so that a large float32 model leaves the float arena to state
   * and activations; the in-major layout is transposed into the float arena.
   */
  default LinearWeight uploadLinear(float[] w, int out, int in) {
    if (w.length != (long) out * in) throw new IllegalArgumentException("linear weight has " + w.length + " floats, expected " + out + " x " + in);
    if (!linearInMajor()) return LinearWeight.banked(uploadBanked(w), out, in);
    float[] t = new float[w.length];
    for (int o = 0; o < out; o++) for (int i = 0; i < in; i++) t[i * out + o] = w[o * in + i];
    return new LinearWeight(upload(t), out, in, true);
  }

  /**
   * Uploads a quantized Linear weight: it stays quantized on the device (values as bytes, scales as floats) and
   * {@link #linear} dequantizes it inside the kernel. This default keeps {@link QuantizedWeights}' own layout
   * ({@code [out][rowBytes]}, {@code [out][groups]}); an engine may store it as it multiplies fastest.
   */
  default LinearWeight uploadLinear(QuantizedWeights q) {
    ByteTensor values = uploadBytes(q.values());
    Tensor scales = upload(q.scales());
    return new LinearWeight(null, q.out(), q.in(), false, 0, new LinearWeight.Quantized(q.scheme(), q.group(), values, scales));
  }

  /** A Linear weight given in PyTorch's {@code [out, in]} layout, quantized first unless {@code quantize} is NONE. */
  default LinearWeight uploadLinear(float[] w, int out, int in, Quantization quantize) {
    if (quantize == Quantization.NONE) return uploadLinear(w, out, in);
    return uploadLinear(QuantizedWeights.quantize(w, out, in, quantize));
  }

  /** out[rows, w.out] = x[rows, w.in] W^T + bias (bias may be null): a PyTorch Linear, float or quantized. */
  default void linear(Tensor out, Tensor x, LinearWeight w, Tensor bias, int rows) {
    if (w.isQuantized()) {
      linearQuantized(out, x, w, bias, rows);
      return;
    }
    if (w.banked() != null) {
      linear16(out, x, w.banked(), bias, rows, w.out(), w.in());
      return;
    }
    if (w.panel() != 0) throw new IllegalArgumentException("a panel-packed Linear weight belongs to the CPU engine that packed it");
    matmul(out, x, w.data(), bias, rows, w.out(), w.in(), !w.inMajor());
  }

  /**
   * out = act(x W^T + bias): a Linear followed by an activation (act null: none). This default runs the two ops; the
   * CPU engine applies the activation to each block of the output while it is still in cache (the same arithmetic).
   */
  default void linear(Tensor out, Tensor x, LinearWeight w, Tensor bias, int rows, Activation act) {
    linear(out, x, w, bias, rows);
    if (act != null) activation(act, out, out, Math.multiplyExact(rows, w.out()));
  }

  /**
   * out[rows, w.out] = x[rows, w.in] W^T + bias with W quantized ({@link #uploadLinear(QuantizedWeights)} of this
   * engine), dequantized inside the kernel; bias (float) may be null. {@link #linear} calls it for quantized weights.
   */
  void linearQuantized(Tensor out, Tensor x, LinearWeight w, Tensor bias, int rows);

  /**
   * out[rows, n] = x[rows, k] W^T + bias[n], W a banked PyTorch Linear weight {@code [n, k]}: 16-bit (widened in the
   * kernel) or float32 ({@link #uploadBanked}); bias (float) may be null.
   */
  void linear16(Tensor out, Tensor x, HalfTensor w, Tensor bias, int rows, int n, int k);

  /** out = a + b, element-wise over n floats (residual add; out may be a or b). */
  void add(Tensor out, Tensor a, Tensor b, int n);

  /** out = a * b, element-wise over n floats (SwiGLU; out may be a or b). */
  void mul(Tensor out, Tensor a, Tensor b, int n);

  /** out = x * s over n floats. */
  void scale(Tensor out, Tensor x, float s, int n);

  /** out = act(x) over n floats (out may be x). */
  void activation(Activation act, Tensor out, Tensor x, int n);

  // ---- normalisation ----

  /** Per row: (x - mean) / sqrt(var + eps) * gamma + beta (biased variance, as PyTorch). beta may be null. */
  void layerNorm(Tensor out, Tensor x, Tensor gamma, Tensor beta, int rows, int dim, float eps);

  /**
   * The residual add and the LayerNorm after it: a = a + b, then out = layerNorm(a) per row (out may be b; a keeps the
   * sum, as after {@link #add}). This default runs the two ops; the CPU engine does both in one pass over each row
   * (the same arithmetic in the same order).
   */
  default void addLayerNorm(Tensor out, Tensor a, Tensor b, Tensor gamma, Tensor beta, int rows, int dim, float eps) {
    add(a, a, b, Math.multiplyExact(rows, dim));
    layerNorm(out, a, gamma, beta, rows, dim, eps);
  }

  /** Per row: x / sqrt(mean(x^2) + eps) * weight (LLaMA). */
  void rmsNorm(Tensor out, Tensor x, Tensor weight, int rows, int dim, float eps);

  /**
   * Per row: softmax(x / temperature + mask), or its log when {@code log}. {@code mask} is additive and may be null; it
   * has {@code cols} floats shared by every row ({@code maskPerRow} false) or {@code rows * cols}.
   */
  void softmax(Tensor out, Tensor x, Tensor mask, boolean maskPerRow, int rows, int cols, float temperature, boolean log);

  /** Per row: x / max(||x||_2, 1e-12) (torch.nn.functional.normalize). */
  void l2Normalize(Tensor out, Tensor x, int rows, int dim);

  // ---- attention ----

  /**
   * Scaled-dot-product attention: out = softmax(scale q k^T, masked) v per head. {@code keyMask} ([batch, kLen], 1 = real
   * token, 0 = padding) may be null. {@code scores} is scratch of at least {@link Attention#scoresSize()} floats. A
   * query row that sees no key gets zeros.
   */
  default void attention(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, Tensor scores, Attention spec) {
    attention(out, q, k, v, keyMask, null, scores, spec);
  }

  /**
   * Attention over a KV cache with ragged positions: as above, with k and v holding {@link Attention#kvRows()} rows per
   * batch entry, and query i of entry b at position {@code positions[b] + i} ({@code positions}: [batch] ints; null =
   * {@link Attention#posOffset()} for every entry).
   */
  void attention(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, IntTensor positions, Tensor scores, Attention spec);

  /**
   * Writes new keys or values into a cache: {@code cache[(b * cacheRows + positions[b] + i) * width + d] =
   * src[(b * qLen + i) * srcStride + d]} for d < width (src may be a slice of a fused projection).
   */
  void cacheWrite(Tensor cache, Tensor src, IntTensor positions, int batch, int qLen, int width, int srcStride, int cacheRows);

  /**
   * Rotary position embedding in place, Hugging Face's rotate-half layout: for each row r of x ({@code rows} rows of
   * {@code rowStride} floats) and each of {@code heads} heads at columns {@code h * headDim}, with angle
   * {@code positions[r] * invFreq[i]} (float32, as HF computes it) for i < headDim / 2:
   * {@code (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)}, x1 = x[i], x2 = x[i + headDim / 2].
   */
  void rope(Tensor x, int rows, int heads, int headDim, int rowStride, IntTensor positions, Tensor invFreq);

  // ---- embeddings, pooling, selection ----

  /** out[i, :] = table[ids[i], :] for i < n (or += when {@code accumulate}); table has {@code vocab} rows of dim. */
  void gather(Tensor out, Tensor table, IntTensor ids, int n, int vocab, int dim, boolean accumulate);

  /** out[b, :] = sum_s x[b, s, :] mask[b, s] / max(sum_s mask[b, s], 1e-9) (sentence-transformers mean pooling). */
  void meanPool(Tensor out, Tensor x, IntTensor mask, int batch, int seq, int dim);

  /**
   * out[i, :] = table[ids[i], :] from a banked table of {@code vocab} rows of dim (16-bit widened, or float32 as
   * stored; or a 16-bit table this engine packed with {@link #upload16Linear}); ids out of range: zeros.
   */
  void gather16(Tensor out, HalfTensor table, IntTensor ids, int n, int vocab, int dim);

  /**
   * Per row, the k largest values in descending order (ties: lower index first), written to vals[row, :k] and
   * ids[row, :k].
   */
  void topK(Tensor vals, IntTensor ids, Tensor x, int rows, int cols, int k);

  /** out[0..n) = x[0..n) (device-side copy). */
  void copy(Tensor out, Tensor x, int n);

  @Override
  void close();
}
