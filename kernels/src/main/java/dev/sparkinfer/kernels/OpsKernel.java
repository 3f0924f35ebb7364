package dev.sparkinfer.kernels;

/**
 * Every op of {@link AparapiOps} as one Aparapi kernel, dispatched on {@link #op}.
 *
 * <p>Why one kernel: Aparapi binds device buffers to a kernel instance's array fields, so separate kernel classes
 * could not share buffers and every launch would copy weights and activations. Here {@link #mem} (weights + activation
 * scratch) and {@link #imem} (ids, masks) are uploaded once and stay on the device; only the small staging arrays
 * {@link #stage}/{@link #istage} cross between host and device.
 *
 * <p>Operands are offsets into {@code mem}/{@code imem}; their meaning per op is in each method's comment. Aparapi
 * translates this class to OpenCL C: no objects, no calls outside this class, float math through Kernel's methods,
 * no infinity literals.
 */
class OpsKernel extends BitsKernel {
  static final int OP_STAGE_IN = 1, OP_STAGE_OUT = 2, OP_ISTAGE_IN = 3, OP_ISTAGE_OUT = 4, OP_ZERO = 5, OP_IZERO = 6;
  static final int OP_MATMUL = 10, OP_MATMUL_KN = 16, OP_MATMUL_NK = 17, OP_ADD = 11, OP_MUL = 12, OP_SCALE = 13, OP_ACT = 14, OP_COPY = 15;
  static final int OP_LAYERNORM = 20, OP_RMSNORM = 21, OP_SOFTMAX = 22, OP_L2NORM = 23, OP_NORM_ROWS = 24;
  static final int OP_ATTN_SCORES = 30, OP_ATTN_SOFTMAX = 31, OP_ATTN_VALUES = 32, OP_ATTN_ROWS = 33;
  static final int OP_GATHER = 40, OP_MEANPOOL = 41, OP_TOPK = 42;
  /** Barrier-free twins of the work-group row ops, one work-item per row (CPU devices; see {@link AparapiOps}). */
  static final int OP_SOFTMAX_ROWS = 25, OP_TOPK_ROWS = 43;
  /** 16-bit weights, persistent state and rotary embedding. */
  /** Quantized weights (bytes): staging, and Linear with dequantization in the kernel (tiled for GPUs, dot for CPUs). */
  static final int OP_BSTAGE_IN = 8, OP_LINEARQ = 55, OP_LINEARQ_NK = 56;
  /** Float32 weights in float banks: staging (the 16-bit ops read them with dtype code p9 == 2). */
  static final int OP_GSTAGE_IN = 9;
  static final int OP_HSTAGE_IN = 7, OP_LINEAR16 = 50, OP_LINEAR16_NK = 51, OP_GATHER16 = 52, OP_ROPE = 53, OP_CACHE_WRITE = 54;
  /** Register-blocked GPU matmul, W [n, k]: float W, and 16-bit W widened as its tile is loaded ({@link #matmulBlocked()}). */
  static final int OP_MATMUL_BLOCKED = 60, OP_LINEAR16_BLOCKED = 61;
  /** Attention in one launch for GPUs and short sequences, scores in local memory ({@link #attentionFused()}). */
  static final int OP_ATTN_FUSED = 62;

  /** Matmul tile edge: a work-group of TILE x TILE work-items computes a TILE x TILE block of the output. */
  static final int TILE = 16;
  /** Work-group size of the row ops (one work-group per row, tree reductions in local memory). */
  static final int WG = 128;
  /** Output block per work-item in {@link #matmulKn()}: ROWS x COLS. */
  static final int ROWS = 4, COLS = 8;
  /** Rows per work-item in {@link #matmulNk()} (one column each). */
  static final int NK_ROWS = 8;
  /** Stands in for -infinity (OpenCL C has no portable literal for it through Aparapi). */
  static final float NEG_BIG = -3.0e38f;

  float[] mem;     // weights, then activation scratch
  int[] imem;      // token ids, masks, top-k indices
  float[] stage;   // host <-> device transfers of floats
  int[] istage;    // host <-> device transfers of ints
  char[] h0, h1, h2, h3, h4, h5, h6, h7; // 16-bit weight banks (bf16/f16 bit patterns), widened where read
  char[] hstage;   // host -> device transfers of 16-bit weights
  float[] g0, g1, g2, g3, g4, g5, g6, g7; // float32 weight banks (Linear weights, embedding tables), read as stored
  byte[] q8;       // quantized weights: int8 values, or int4 pairs (low nibble first), dequantized where read
  byte[] bstage;   // host -> device transfers of quantized weights

  int op;
  int o, a, b, c, s;          // float offsets: output and operands (-1 = absent)
  int ia, ib;                 // int offsets
  int n0, n1, n2, n3;         // sizes, per op
  int p0, p1, p2, p3, p4, p5, p6, p7, p8, p9; // op parameters
  float f0, f1;

  @Local final float[] tileA = new float[TILE * TILE];
  @Local final float[] tileB = new float[TILE * TILE];
  @Local final float[] red = new float[WG];
  @Local final int[] redIdx = new int[WG];

  @Override
  public void run() {
    if (op == OP_MATMUL) matmul();
    else if (op == OP_MATMUL_KN) matmulKn();
    else if (op == OP_MATMUL_NK) matmulNk();
    else if (op == OP_MATMUL_BLOCKED || op == OP_LINEAR16_BLOCKED) matmulBlocked();
    else if (op == OP_ADD || op == OP_MUL || op == OP_SCALE || op == OP_ACT || op == OP_COPY) elementwise();
    else if (op == OP_LAYERNORM) layerNorm();
    else if (op == OP_RMSNORM) rmsNorm();
    else if (op == OP_NORM_ROWS) normRows();
    else if (op == OP_SOFTMAX) softmax();
    else if (op == OP_SOFTMAX_ROWS) softmaxRows();
    else if (op == OP_L2NORM) l2Normalize();
    else if (op == OP_ATTN_SCORES) attentionScores();
    else if (op == OP_ATTN_SOFTMAX) attentionSoftmax();
    else if (op == OP_ATTN_VALUES) attentionValues();
    else if (op == OP_ATTN_ROWS) attentionRows();
    else if (op == OP_ATTN_FUSED) attentionFused();
    else if (op == OP_GATHER) gather();
    else if (op == OP_MEANPOOL) meanPool();
    else if (op == OP_TOPK) topK();
    else if (op == OP_TOPK_ROWS) topKRows();
    else if (op == OP_ZERO || op == OP_IZERO) zeroChunks();
    else if (op == OP_LINEAR16) linear16();
    else if (op == OP_LINEAR16_NK) linear16Nk();
    else if (op == OP_LINEARQ) linearQ();
    else if (op == OP_LINEARQ_NK) linearQNk();
    else if (op == OP_GATHER16) gather16();
    else if (op == OP_ROPE) rope();
    else if (op == OP_CACHE_WRITE) cacheWrite();
    else transfer();
  }

  /** Staging copies over n0 elements: mem[o..] / stage, imem[ia..] / istage. */
  void transfer() {
    int g = getGlobalId(0);
    if (g < n0) {
      if (op == OP_STAGE_IN) mem[o + g] = stage[g];
      else if (op == OP_STAGE_OUT) stage[g] = mem[a + g];
      else if (op == OP_ISTAGE_IN) imem[ia + g] = istage[g];
      else if (op == OP_ISTAGE_OUT) istage[g] = imem[ia + g];
      else if (op == OP_HSTAGE_IN) store16(o + g, hstage[g]);
      else if (op == OP_BSTAGE_IN) q8[o + g] = bstage[g];
      else if (op == OP_GSTAGE_IN) store32(o + g, stage[g]);
    }
  }

  /**
   * out[m=n0, n=n1] = a[m, k=n2] x B + bias. B at b is [n, k] when p0 == 1 (transposed, PyTorch Linear) else [k, n];
   * bias at c (-1: none). 2-D range: dim 0 over columns, dim 1 over rows, TILE x TILE work-groups sharing tiles of a
   * and B in local memory.
   */
  void matmul() {
    int m = n0, n = n1, k = n2;
    int lc = getLocalId(0), lr = getLocalId(1);
    int col = getGlobalId(0), row = getGlobalId(1);
    int colBase = getGroupId(0) * TILE;
    float acc = 0f;
    for (int t = 0; t < k; t += TILE) {
      int ak = t + lc;
      tileA[lr * TILE + lc] = (row < m && ak < k) ? mem[a + row * k + ak] : 0f;
      if (p0 == 1) {
        // B is [n, k]: work-item (lr, lc) loads B[colBase + lr, t + lc] (consecutive lc read consecutive floats)
        int bn = colBase + lr, bk = t + lc;
        tileB[lc * TILE + lr] = (bn < n && bk < k) ? mem[b + bn * k + bk] : 0f;
      } else {
        int bk = t + lr;
        tileB[lr * TILE + lc] = (col < n && bk < k) ? mem[b + bk * n + col] : 0f;
      }
      localBarrier();
      for (int q = 0; q < TILE; q++) acc += tileA[lr * TILE + q] * tileB[q * TILE + lc];
      localBarrier();
    }
    if (row < m && col < n) mem[o + row * n + col] = acc + (c >= 0 ? mem[c + col] : 0f);
  }

  /**
   * out[m=n0, n=n1] = a[m, k=n2] x b[k, n] + bias (c, -1: none), the non-transposed case on every device (and Linear
   * weights stored [in, out] with -Dsparkinfer.linear.layout=in-major): no local memory or barriers; each work-item
   * keeps a ROWS x COLS block of the output in named scalars and reads b contiguously. dim 0 over column blocks, dim 1
   * over row blocks. (PoCL leaves it scalar, ~8 GFLOP/s; {@link #matmulNk()} is its fast CPU kernel.)
   */
  void matmulKn() {
    int m = n0, n = n1, k = n2;
    int c0 = getGlobalId(0) * COLS, r0 = getGlobalId(1) * ROWS;
    if (c0 < n && r0 < m) {
      if (c0 + COLS <= n && r0 + ROWS <= m) {
        matmulKnBlock(k, n, r0, c0);
      } else {
        // ragged edge: one output at a time with bounds checks
        for (int r = r0; r < min(r0 + ROWS, m); r++) {
          for (int col = c0; col < min(c0 + COLS, n); col++) {
            float acc = 0f;
            for (int p = 0; p < k; p++) acc += mem[a + r * k + p] * mem[b + p * n + col];
            mem[o + r * n + col] = acc + (c >= 0 ? mem[c + col] : 0f);
          }
        }
      }
    }
  }

  /**
   * A full ROWS x COLS block: 4 rows x 8 contiguous columns in 32 named accumulators. Per step of k: 8 contiguous loads
   * of b and 4 broadcasts of a, which the OpenCL compiler turns into vector multiply-adds (named scalars, because
   * Aparapi has no vector types and private arrays would stay in memory).
   */
  void matmulKnBlock(int k, int n, int r0, int c0) {
    float x00 = 0f, x01 = 0f, x02 = 0f, x03 = 0f, x04 = 0f, x05 = 0f, x06 = 0f, x07 = 0f;
    float x10 = 0f, x11 = 0f, x12 = 0f, x13 = 0f, x14 = 0f, x15 = 0f, x16 = 0f, x17 = 0f;
    float x20 = 0f, x21 = 0f, x22 = 0f, x23 = 0f, x24 = 0f, x25 = 0f, x26 = 0f, x27 = 0f;
    float x30 = 0f, x31 = 0f, x32 = 0f, x33 = 0f, x34 = 0f, x35 = 0f, x36 = 0f, x37 = 0f;
    int a0 = a + r0 * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
    for (int p = 0; p < k; p++) {
      int bp = b + p * n + c0;
      float b0 = mem[bp], b1 = mem[bp + 1], b2 = mem[bp + 2], b3 = mem[bp + 3];
      float b4 = mem[bp + 4], b5 = mem[bp + 5], b6 = mem[bp + 6], b7 = mem[bp + 7];
      float v = mem[a0 + p];
      x00 += v * b0; x01 += v * b1; x02 += v * b2; x03 += v * b3; x04 += v * b4; x05 += v * b5; x06 += v * b6; x07 += v * b7;
      v = mem[a1 + p];
      x10 += v * b0; x11 += v * b1; x12 += v * b2; x13 += v * b3; x14 += v * b4; x15 += v * b5; x16 += v * b6; x17 += v * b7;
      v = mem[a2 + p];
      x20 += v * b0; x21 += v * b1; x22 += v * b2; x23 += v * b3; x24 += v * b4; x25 += v * b5; x26 += v * b6; x27 += v * b7;
      v = mem[a3 + p];
      x30 += v * b0; x31 += v * b1; x32 += v * b2; x33 += v * b3; x34 += v * b4; x35 += v * b5; x36 += v * b6; x37 += v * b7;
    }
    storeRow(r0, n, c0, x00, x01, x02, x03, x04, x05, x06, x07);
    storeRow(r0 + 1, n, c0, x10, x11, x12, x13, x14, x15, x16, x17);
    storeRow(r0 + 2, n, c0, x20, x21, x22, x23, x24, x25, x26, x27);
    storeRow(r0 + 3, n, c0, x30, x31, x32, x33, x34, x35, x36, x37);
  }

  void storeRow(int r, int n, int c0, float v0, float v1, float v2, float v3, float v4, float v5, float v6, float v7) {
    int at = o + r * n + c0;
    int hasBias = c >= 0 ? 1 : 0;
    mem[at] = v0 + (hasBias == 1 ? mem[c + c0] : 0f);
    mem[at + 1] = v1 + (hasBias == 1 ? mem[c + c0 + 1] : 0f);
    mem[at + 2] = v2 + (hasBias == 1 ? mem[c + c0 + 2] : 0f);
    mem[at + 3] = v3 + (hasBias == 1 ? mem[c + c0 + 3] : 0f);
    mem[at + 4] = v4 + (hasBias == 1 ? mem[c + c0 + 4] : 0f);
    mem[at + 5] = v5 + (hasBias == 1 ? mem[c + c0 + 5] : 0f);
    mem[at + 6] = v6 + (hasBias == 1 ? mem[c + c0 + 6] : 0f);
    mem[at + 7] = v7 + (hasBias == 1 ? mem[c + c0 + 7] : 0f);
  }

  /**
   * out[m=n0, n=n1] = a[m, k=n2] x b[n, k]^T + bias (c, -1: none), for CPU devices: each work-item computes one
   * column for NK_ROWS rows, as dot products of two contiguous rows (a's row, b's row) with 8 partial sums per
   * output, so the compiler turns each step of 8 into vector loads and vector multiply-adds (PoCL's SLP vectoriser
   * does; on a 2-core AMD EPYC this runs ~75-100 GFLOP/s against ~8 for {@link #matmulKn()}). Rows past m reuse row
   * m-1 (no divergent loop) and are not stored. dim 0 over columns, dim 1 over blocks of NK_ROWS rows. Sums are
   * combined pairwise: ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7)).
   */
  void matmulNk() { matmulNkFrom(mem); }

  /** {@link #matmulNk()} with B read from {@code wm}: mem, or a float bank ({@link #linear16Nk()}). */
  void matmulNkFrom(float[] wm) {
    int m = n0, n = n1, k = n2;
    int col = getGlobalId(0), r0 = getGlobalId(1) * NK_ROWS;
    if (col < n && r0 < m) {
      int a0 = a + min(r0 + 0, m - 1) * k;
      int a1 = a + min(r0 + 1, m - 1) * k;
      int a2 = a + min(r0 + 2, m - 1) * k;
      int a3 = a + min(r0 + 3, m - 1) * k;
      int a4 = a + min(r0 + 4, m - 1) * k;
      int a5 = a + min(r0 + 5, m - 1) * k;
      int a6 = a + min(r0 + 6, m - 1) * k;
      int a7 = a + min(r0 + 7, m - 1) * k;
      int w = b + col * k;
      float s00 = 0f, s01 = 0f, s02 = 0f, s03 = 0f, s04 = 0f, s05 = 0f, s06 = 0f, s07 = 0f;
      float s10 = 0f, s11 = 0f, s12 = 0f, s13 = 0f, s14 = 0f, s15 = 0f, s16 = 0f, s17 = 0f;
      float s20 = 0f, s21 = 0f, s22 = 0f, s23 = 0f, s24 = 0f, s25 = 0f, s26 = 0f, s27 = 0f;
      float s30 = 0f, s31 = 0f, s32 = 0f, s33 = 0f, s34 = 0f, s35 = 0f, s36 = 0f, s37 = 0f;
      float s40 = 0f, s41 = 0f, s42 = 0f, s43 = 0f, s44 = 0f, s45 = 0f, s46 = 0f, s47 = 0f;
      float s50 = 0f, s51 = 0f, s52 = 0f, s53 = 0f, s54 = 0f, s55 = 0f, s56 = 0f, s57 = 0f;
      float s60 = 0f, s61 = 0f, s62 = 0f, s63 = 0f, s64 = 0f, s65 = 0f, s66 = 0f, s67 = 0f;
      float s70 = 0f, s71 = 0f, s72 = 0f, s73 = 0f, s74 = 0f, s75 = 0f, s76 = 0f, s77 = 0f;
      int full = k - k % 8;
      for (int p = 0; p < full; p += 8) {
        int q = w + p;
        float w0 = wm[q], w1 = wm[q + 1], w2 = wm[q + 2], w3 = wm[q + 3];
        float w4 = wm[q + 4], w5 = wm[q + 5], w6 = wm[q + 6], w7 = wm[q + 7];
        q = a0 + p;
        s00 += mem[q] * w0; s01 += mem[q + 1] * w1; s02 += mem[q + 2] * w2; s03 += mem[q + 3] * w3;
        s04 += mem[q + 4] * w4; s05 += mem[q + 5] * w5; s06 += mem[q + 6] * w6; s07 += mem[q + 7] * w7;
        q = a1 + p;
        s10 += mem[q] * w0; s11 += mem[q + 1] * w1; s12 += mem[q + 2] * w2; s13 += mem[q + 3] * w3;
        s14 += mem[q + 4] * w4; s15 += mem[q + 5] * w5; s16 += mem[q + 6] * w6; s17 += mem[q + 7] * w7;
        q = a2 + p;
        s20 += mem[q] * w0; s21 += mem[q + 1] * w1; s22 += mem[q + 2] * w2; s23 += mem[q + 3] * w3;
        s24 += mem[q + 4] * w4; s25 += mem[q + 5] * w5; s26 += mem[q + 6] * w6; s27 += mem[q + 7] * w7;
        q = a3 + p;
        s30 += mem[q] * w0; s31 += mem[q + 1] * w1; s32 += mem[q + 2] * w2; s33 += mem[q + 3] * w3;
        s34 += mem[q + 4] * w4; s35 += mem[q + 5] * w5; s36 += mem[q + 6] * w6; s37 += mem[q + 7] * w7;
        q = a4 + p;
        s40 += mem[q] * w0; s41 += mem[q + 1] * w1; s42 += mem[q + 2] * w2; s43 += mem[q + 3] * w3;
        s44 += mem[q + 4] * w4; s45 += mem[q + 5] * w5; s46 += mem[q + 6] * w6; s47 += mem[q + 7] * w7;
        q = a5 + p;
        s50 += mem[q] * w0; s51 += mem[q + 1] * w1; s52 += mem[q + 2] * w2; s53 += mem[q + 3] * w3;
        s54 += mem[q + 4] * w4; s55 += mem[q + 5] * w5; s56 += mem[q + 6] * w6; s57 += mem[q + 7] * w7;
        q = a6 + p;
        s60 += mem[q] * w0; s61 += mem[q + 1] * w1; s62 += mem[q + 2] * w2; s63 += mem[q + 3] * w3;
        s64 += mem[q + 4] * w4; s65 += mem[q + 5] * w5; s66 += mem[q + 6] * w6; s67 += mem[q + 7] * w7;
        q = a7 + p;
        s70 += mem[q] * w0; s71 += mem[q + 1] * w1; s72 += mem[q + 2] * w2; s73 += mem[q + 3] * w3;
        s74 += mem[q + 4] * w4; s75 += mem[q + 5] * w5; s76 += mem[q + 6] * w6; s77 += mem[q + 7] * w7;
      }
      for (int p = full; p < k; p++) {
        float wp = wm[w + p];
        s00 += mem[a0 + p] * wp;
        s10 += mem[a1 + p] * wp;
        s20 += mem[a2 + p] * wp;
        s30 += mem[a3 + p] * wp;
        s40 += mem[a4 + p] * wp;
        s50 += mem[a5 + p] * wp;
        s60 += mem[a6 + p] * wp;
        s70 += mem[a7 + p] * wp;
      }
      float bias = c >= 0 ? mem[c + col] : 0f;
      storeDot(r0 + 0, m, n, col, bias, s00, s01, s02, s03, s04, s05, s06, s07);
      storeDot(r0 + 1, m, n, col, bias, s10, s11, s12, s13, s14, s15, s16, s17);
      storeDot(r0 + 2, m, n, col, bias, s20, s21, s22, s23, s24, s25, s26, s27);
      storeDot(r0 + 3, m, n, col, bias, s30, s31, s32, s33, s34, s35, s36, s37);
      storeDot(r0 + 4, m, n, col, bias, s40, s41, s42, s43, s44, s45, s46, s47);
      storeDot(r0 + 5, m, n, col, bias, s50, s51, s52, s53, s54, s55, s56, s57);
      storeDot(r0 + 6, m, n, col, bias, s60, s61, s62, s63, s64, s65, s66, s67);
      storeDot(r0 + 7, m, n, col, bias, s70, s71, s72, s73, s74, s75, s76, s77);
    }
  }

  void storeDot(int r, int m, int n, int col, float bias, float s0, float s1, float s2, float s3, float s4, float s5,
      float s6, float s7) {
    if (r < m) mem[o + r * n + col] = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) + bias;
  }

  /**
   * Element-wise over n0 floats: add/mul (a, b), scale by f0, activation p0, copy. Each work-item takes n1
   * consecutive elements (CPU devices: 64, where a work-item is a loop iteration and the runs are what the compiler
   * vectorises, as PoCL does not vectorise across work-items; GPUs: 1). A full run goes through a loop per op; the last,
   * partial run element by element.
   */
  void elementwise() {
    int g0 = getGlobalId(0) * n1;
    if (g0 + n1 > n0) {
      elementTail(g0);
    } else if (op == OP_ADD) {
      addRun(g0);
    } else if (op == OP_MUL) {
      mulRun(g0);
    } else if (op == OP_ACT && p0 == 0) {
      geluRun(g0);
    } else {
      otherRun(g0);
    }
  }

  void elementTail(int g0) {
    for (int g = g0; g < n0; g++) mem[o + g] = elementValue(g);
  }

  void otherRun(int g0) {
    for (int e = 0; e < n1; e++) mem[o + g0 + e] = elementValue(g0 + e);
  }

  void addRun(int g0) {
    for (int e = 0; e < n1; e++) mem[o + g0 + e] = mem[a + g0 + e] + mem[b + g0 + e];
  }

  void mulRun(int g0) {
    for (int e = 0; e < n1; e++) mem[o + g0 + e] = mem[a + g0 + e] * mem[b + g0 + e];
  }

  void geluRun(int g0) {
    for (int e = 0; e < n1; e++) {
      float x = mem[a + g0 + e];
      mem[o + g0 + e] = 0.5f * x * (1f + erf(x * 0.70710678118654752f));
    }
  }

  float elementValue(int g) {
    float x = mem[a + g];
    float y = x;
    if (op == OP_ADD) y = x + mem[b + g];
    else if (op == OP_MUL) y = x * mem[b + g];
    else if (op == OP_SCALE) y = x * f0;
    else if (op == OP_ACT) y = activate(p0, x);
    return y;
  }

  float activate(int kind, float x) {
    float y = x;
    if (kind == 0) y = 0.5f * x * (1f + erf(x * 0.70710678118654752f));
    else if (kind == 1) y = 0.5f * x * (1f + tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    else if (kind == 2) y = x / (1f + exp(-1.702f * x));
    else if (kind == 3) y = x / (1f + exp(-x));
    else if (kind == 4) y = max(x, 0f);
    return y;
  }

  /**
   * erf as a rational function of x (odd degree-13 numerator, even degree-8 denominator in x) on x clamped to
   * [-4, 4], where erf is +-1 to within 2e-8: |error| <= 4.2e-7. No exp, so a chunk of it vectorises on CPUs (an exp
   * is a scalar library call there). The coefficients are the minimax fit Eigen and XLA use for float erf.
   */
  float erf(float x) {
    float z = min(max(x, -4f), 4f);
    float z2 = z * z;
    float p = -2.72614225801306e-10f;
    p = p * z2 + 2.77068142495902e-08f;
    p = p * z2 - 2.10102402082508e-06f;
    p = p * z2 - 5.69250639462346e-05f;
    p = p * z2 - 7.34990630326855e-04f;
    p = p * z2 - 2.95459980854025e-03f;
    p = p * z2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * z2 - 2.13374055278905e-04f;
    q = q * z2 - 1.68282697438203e-03f;
    q = q * z2 - 7.37332916720468e-03f;
    q = q * z2 - 1.42647390514189e-02f;
    return z * p / q;
  }

  /** Zero fills of n0 elements at mem[o..] (OP_ZERO) or imem[ia..] (OP_IZERO), n1 per work-item. */
  void zeroChunks() {
    int g0 = getGlobalId(0) * n1;
    int end = min(g0 + n1, n0);
    if (op == OP_ZERO) {
      zeroFloats(g0, end);
    } else {
      zeroInts(g0, end);
    }
  }

  void zeroFloats(int g0, int end) {
    for (int g = g0; g < end; g++) mem[o + g] = 0f;
  }

  void zeroInts(int g0, int end) {
    for (int g = g0; g < end; g++) imem[ia + g] = 0;
  }

  /** Sum of red[0..WG) into red[0]; every work-item of the group must call it. */
  void reduceSum() {
    int lid = getLocalId(0);
    for (int stride = WG / 2; stride > 0; stride = stride / 2) {
      if (lid < stride) red[lid] = red[lid] + red[lid + stride];
      localBarrier();
    }
  }

  void reduceMax() {
    int lid = getLocalId(0);
    for (int stride = WG / 2; stride > 0; stride = stride / 2) {
      if (lid < stride) red[lid] = max(red[lid], red[lid + stride]);
      localBarrier();
    }
  }

  /** Row sum of x[a + row*dim ...] (squared when sq == 1, centred on mean), returned to every work-item. */
  float rowSum(int base, int dim, int sq, float mean) {
    int lid = getLocalId(0);
    float acc = 0f;
    for (int j = lid; j < dim; j += WG) {
      float v = mem[base + j] - mean;
      acc += sq == 1 ? v * v : v;
    }
    red[lid] = acc;
    localBarrier();
    reduceSum();
    float total = red[0];
    localBarrier();
    return total;
  }

  /** rows n0 x dim n1 at a; gamma at b, beta at c (-1: none); eps f0; out at o. One work-group per row. */
  void layerNorm() {
    int row = getGroupId(0), lid = getLocalId(0), dim = n1;
    int base = a + row * dim;
    float mean = rowSum(base, dim, 0, 0f) / dim;
    float var = rowSum(base, dim, 1, mean) / dim;
    float inv = 1f / sqrt(var + f0);
    for (int j = lid; j < dim; j += WG) {
      float v = (mem[base + j] - mean) * inv * mem[b + j];
      mem[o + row * dim + j] = c >= 0 ? v + mem[c + j] : v;
    }
  }

  /**
   * LayerNorm (p0 == 0: gamma at b, beta at c, -1: none), RMSNorm (p0 == 1: weight at b) or L2 normalisation
   * (p0 == 2: x / max(||x||, 1e-12)) with one work-item per
   * row, for CPU devices: sums with 8 partial sums and a contiguous scaling loop, which the compiler vectorises,
   * instead of a work-group's tree reduction (barriers are costly on PoCL). rows n0 x dim n1 at a; eps f0; out at o.
   */
  void normRows() {
    int row = getGlobalId(0), dim = n1;
    if (row < n0) {
      int base = a + row * dim, out = o + row * dim;
      float mean = p0 >= 1 ? 0f : rowSum8(base, dim, 0f, 0) / dim;
      float ss = rowSum8(base, dim, mean, 1);
      float inv = p0 == 2 ? 1f / max(sqrt(ss), 1e-12f) : 1f / sqrt(ss / dim + f0);
      if (p0 == 2) {
        for (int j = 0; j < dim; j++) mem[out + j] = mem[base + j] * inv;
      } else if (p0 == 1 || c < 0) {
        normScale(base, out, dim, mean, inv);
      } else {
        normScaleShift(base, out, dim, mean, inv);
      }
    }
  }

  void normScale(int base, int out, int dim, float mean, float inv) {
    for (int j = 0; j < dim; j++) mem[out + j] = (mem[base + j] - mean) * inv * mem[b + j];
  }

  void normScaleShift(int base, int out, int dim, float mean, float inv) {
    for (int j = 0; j < dim; j++) mem[out + j] = (mem[base + j] - mean) * inv * mem[b + j] + mem[c + j];
  }

  /** sum over j < dim of (x[base + j] - mean), squared when sq == 1, in 8 partial sums combined pairwise. */
  float rowSum8(int base, int dim, float mean, int sq) {
    float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
    int full = dim - dim % 8;
    for (int j = 0; j < full; j += 8) {
      int q = base + j;
      float v0 = mem[q] - mean, v1 = mem[q + 1] - mean, v2 = mem[q + 2] - mean, v3 = mem[q + 3] - mean;
      float v4 = mem[q + 4] - mean, v5 = mem[q + 5] - mean, v6 = mem[q + 6] - mean, v7 = mem[q + 7] - mean;
      if (sq == 1) {
        s0 += v0 * v0; s1 += v1 * v1; s2 += v2 * v2; s3 += v3 * v3; s4 += v4 * v4; s5 += v5 * v5; s6 += v6 * v6; s7 += v7 * v7;
      } else {
        s0 += v0; s1 += v1; s2 += v2; s3 += v3; s4 += v4; s5 += v5; s6 += v6; s7 += v7;
      }
    }
    for (int j = full; j < dim; j++) {
      float v = mem[base + j] - mean;
      s0 += sq == 1 ? v * v : v;
    }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /** rows n0 x dim n1 at a; weight at b; eps f0. */
  void rmsNorm() {
    int row = getGroupId(0), lid = getLocalId(0), dim = n1;
    int base = a + row * dim;
    float ms = rowSum(base, dim, 1, 0f) / dim;
    float inv = 1f / sqrt(ms + f0);
    for (int j = lid; j < dim; j += WG) mem[o + row * dim + j] = mem[base + j] * inv * mem[b + j];
  }

  /** rows n0 x cols n1 at a; additive mask at c (-1: none), per row when p1 == 1; temperature f0; log when p0 == 1. */
  void softmax() {
    int row = getGroupId(0), lid = getLocalId(0), cols = n1;
    int base = a + row * cols;
    int maskBase = c + (p1 == 1 ? row * cols : 0);
    float invT = 1f / f0;
    float mx = NEG_BIG;
    for (int j = lid; j < cols; j += WG) mx = max(mx, mem[base + j] * invT + (c >= 0 ? mem[maskBase + j] : 0f));
    red[lid] = mx;
    localBarrier();
    reduceMax();
    mx = red[0];
    localBarrier();
    float sum = 0f;
    for (int j = lid; j < cols; j += WG) sum += exp(mem[base + j] * invT + (c >= 0 ? mem[maskBase + j] : 0f) - mx);
    red[lid] = sum;
    localBarrier();
    reduceSum();
    sum = red[0];
    float logSum = log(sum);
    for (int j = lid; j < cols; j += WG) {
      float z = mem[base + j] * invT + (c >= 0 ? mem[maskBase + j] : 0f) - mx;
      mem[o + row * cols + j] = p0 == 1 ? z - logSum : exp(z) / sum;
    }
  }

  /**
   * {@link #softmax()} with one work-item per row and no barriers (CPU devices): the max, the sum of exponentials and
   * the output in three contiguous passes over the row. Same operands.
   */
  void softmaxRows() {
    int row = getGlobalId(0), cols = n1;
    if (row < n0) {
      int base = a + row * cols, out = o + row * cols;
      int maskBase = c + (p1 == 1 ? row * cols : 0);
      float invT = 1f / f0;
      float mx = NEG_BIG;
      for (int j = 0; j < cols; j++) mx = max(mx, mem[base + j] * invT + (c >= 0 ? mem[maskBase + j] : 0f));
      float sum = 0f;
      for (int j = 0; j < cols; j++) sum += exp(mem[base + j] * invT + (c >= 0 ? mem[maskBase + j] : 0f) - mx);
      float logSum = log(sum);
      for (int j = 0; j < cols; j++) {
        float z = mem[base + j] * invT + (c >= 0 ? mem[maskBase + j] : 0f) - mx;
        mem[out + j] = p0 == 1 ? z - logSum : exp(z) / sum;
      }
    }
  }

  /** rows n0 x dim n1 at a: x / max(||x||, 1e-12). */
  void l2Normalize() {
    int row = getGroupId(0), lid = getLocalId(0), dim = n1;
    int base = a + row * dim;
    float norm = sqrt(rowSum(base, dim, 1, 0f));
    float inv = 1f / max(norm, 1e-12f);
    for (int j = lid; j < dim; j += WG) mem[o + row * dim + j] = mem[base + j] * inv;
  }

  // Attention parameters: n0 batch, n1 qLen, n2 kLen, n3 headDim; p0 heads, p1 kvHeads, p2 qStride, p3 kvStride,
  // p4 outStride, p5 causal, p6 posOffset, p7 window, p8 kv rows per batch entry (cache capacity); f0 scale; q at a,
  // k at b, v at c, scores at s, out at o; key mask at ia (-1: none); per-entry positions at ib (-1: p6 for all).

  /** scores[b, h, i, j] = scale * q[b, i, h] . k[b, j, h / group]; one work-item per score. */
  void attentionScores() {
    int g = getGlobalId(0);
    int qLen = n1, kLen = n2, hd = n3, heads = p0;
    if (g < n0 * heads * qLen * kLen) {
      int j = g % kLen;
      int t = g / kLen;
      int i = t % qLen;
      t = t / qLen;
      int h = t % heads;
      int bb = t / heads;
      int kvh = h / (heads / p1);
      int qBase = a + (bb * qLen + i) * p2 + h * hd;
      int kBase = b + (bb * p8 + j) * p3 + kvh * hd;
      float dot = 0f;
      // a key the query does not see (causal, window, padding): the softmax skips its score, so it is not computed
      if (visible(bb, queryPos(bb, i), j, kLen) == 1) {
        for (int d = 0; d < hd; d++) dot += mem[qBase + d] * mem[kBase + d];
      }
      mem[s + g] = dot * f0;
    }
  }

  /** The first key query position pos may see: after its window (p7 > 0), else 0. */
  int firstKey(int pos) { return p7 > 0 ? max(0, pos - p7 + 1) : 0; }

  /** The last key query position pos may see: pos when causal (p5), else the last. */
  int lastKey(int pos, int kLen) { return p5 == 1 ? min(kLen - 1, pos) : kLen - 1; }

  /** In-place softmax over each scores row, with key-padding, causal and window masks; no visible key: zeros. */
  void attentionSoftmax() {
    int row = getGroupId(0), lid = getLocalId(0);
    int qLen = n1, kLen = n2, heads = p0;
    int i = row % qLen;
    int bb = row / qLen / heads;
    int pos = queryPos(bb, i);
    int base = s + row * kLen;
    float mx = NEG_BIG;
    for (int j = lid; j < kLen; j += WG) {
      if (visible(bb, pos, j, kLen) == 1) mx = max(mx, mem[base + j]);
    }
    red[lid] = mx;
    localBarrier();
    reduceMax();
    mx = red[0];
    localBarrier();
    float sum = 0f;
    for (int j = lid; j < kLen; j += WG) {
      if (visible(bb, pos, j, kLen) == 1) sum += exp(mem[base + j] - mx);
    }
    red[lid] = sum;
    localBarrier();
    reduceSum();
    sum = red[0];
    for (int j = lid; j < kLen; j += WG) {
      mem[base + j] = (visible(bb, pos, j, kLen) == 1 && sum > 0f) ? exp(mem[base + j] - mx) / sum : 0f;
    }
  }

  /** Absolute position of query i of batch entry bb: positions[bb] + i (int tensor at ib) or posOffset p6 + i. */
  int queryPos(int bb, int i) { return (ib >= 0 ? imem[ib + bb] : p6) + i; }

  int visible(int bb, int pos, int j, int kLen) {
    int v = 1;
    if (ia >= 0 && imem[ia + bb * kLen + j] == 0) v = 0;
    if (p5 == 1 && j > pos) v = 0;
    if (p7 > 0 && j <= pos - p7) v = 0;
    return v;
  }

  /** out[b, i, h*hd + d] = sum_j P[b, h, i, j] v[b, j, kvh*hd + d]; one work-item per output element. */
  void attentionValues() {
    int g = getGlobalId(0);
    int qLen = n1, kLen = n2, hd = n3, heads = p0;
    if (g < n0 * qLen * heads * hd) {
      int d = g % hd;
      int t = g / hd;
      int h = t % heads;
      t = t / heads;
      int i = t % qLen;
      int bb = t / qLen;
      int kvh = h / (heads / p1);
      int pBase = s + ((bb * heads + h) * qLen + i) * kLen;
      int vBase = c + bb * p8 * p3 + kvh * hd + d;
      int pos = queryPos(bb, i);
      float acc = 0f;
      // keys outside [firstKey, lastKey] have weight 0: skipping them leaves the sum as it was
      for (int j = firstKey(pos); j <= lastKey(pos, kLen); j++) acc += mem[pBase + j] * mem[vBase + j * p3];
      mem[o + (bb * qLen + i) * p4 + h * hd + d] = acc;
    }
  }

  /**
   * The three attention steps fused, for CPU devices: one work-item per scores row (b, h, i) computes the row's
   * scores (dot products with 8 partial sums, which the compiler vectorises), its masked softmax, and the row's output
   * as sum_j P[j] v[j, :] accumulated in place (a contiguous, vectorisable loop over the head dimension). Same masks
   * and the same "no visible key: zeros" rule as the split kernels; the scores row is kept in {@code s} as they do.
   * Index arithmetic is done once per row instead of once per score.
   */
  void attentionRows() {
    int g = getGlobalId(0);
    int qLen = n1, kLen = n2, hd = n3, heads = p0;
    if (g < n0 * heads * qLen) {
      int i = g % qLen;
      int t = g / qLen;
      int h = t % heads;
      int bb = t / heads;
      int kvh = h / (heads / p1);
      int qBase = a + (bb * qLen + i) * p2 + h * hd;
      int base = s + g * kLen;
      int pos = queryPos(bb, i);
      int full = hd - hd % 8;
      // only the keys [lo, hi] the query may see (causal, window) are scored and summed: the others have weight 0,
      // and skipping them leaves every sum as it was (a causal prefill does half the work)
      int lo = firstKey(pos), hi = lastKey(pos, kLen);
      float mx = NEG_BIG;
      for (int j = lo; j <= hi; j++) {
        int kBase = b + (bb * p8 + j) * p3 + kvh * hd;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
        for (int d = 0; d < full; d += 8) {
          int qd = qBase + d, kd = kBase + d;
          s0 += mem[qd] * mem[kd]; s1 += mem[qd + 1] * mem[kd + 1]; s2 += mem[qd + 2] * mem[kd + 2]; s3 += mem[qd + 3] * mem[kd + 3];
          s4 += mem[qd + 4] * mem[kd + 4]; s5 += mem[qd + 5] * mem[kd + 5]; s6 += mem[qd + 6] * mem[kd + 6]; s7 += mem[qd + 7] * mem[kd + 7];
        }
        for (int d = full; d < hd; d++) s0 += mem[qBase + d] * mem[kBase + d];
        float score = (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) * f0;
        mem[base + j] = score;
        if (visible(bb, pos, j, kLen) == 1) mx = max(mx, score);
      }
      float sum = 0f;
      for (int j = lo; j <= hi; j++) {
        float e = visible(bb, pos, j, kLen) == 1 ? exp(mem[base + j] - mx) : 0f;
        mem[base + j] = e;
        sum += e;
      }
      int oBase = o + (bb * qLen + i) * p4 + h * hd;
      for (int d = 0; d < hd; d++) mem[oBase + d] = 0f;
      for (int j = lo; j <= hi; j++) {
        float pj = sum > 0f ? mem[base + j] / sum : 0f;
        mem[base + j] = pj;
        int vBase = c + (bb * p8 + j) * p3 + kvh * hd;
        for (int d = 0; d < hd; d++) mem[oBase + d] += pj * mem[vBase + d];
      }
    }
  }

  /** out[i, :] (+)= table[ids[i], :]: n0 rows, n1 vocab, n2 dim, ids at ia, table at a, accumulate p0. */
  void gather() {
    int g = getGlobalId(0);
    int dim = n2;
    if (g < n0 * dim) {
      int i = g / dim, col = g % dim;
      int id = imem[ia + i];
      float v = (id >= 0 && id < n1) ? mem[a + id * dim + col] : 0f;
      mem[o + g] = p0 == 1 ? mem[o + g] + v : v;
    }
  }

  /** out[b, d] = sum_s x[b, s, d] mask[b, s] / max(sum mask, 1e-9): n0 batch, n1 seq, n2 dim; mask at ia. */
  void meanPool() {
    int g = getGlobalId(0);
    int seq = n1, dim = n2;
    if (g < n0 * dim) {
      int bb = g / dim, col = g % dim;
      float acc = 0f;
      float cnt = 0f;
      for (int t = 0; t < seq; t++) {
        float m = imem[ia + bb * seq + t];
        acc += mem[a + (bb * seq + t) * dim + col] * m;
        cnt += m;
      }
      mem[o + g] = acc / max(cnt, 1e-9f);
    }
  }

  /**
   * Per row (n0 rows of n1 cols at a): the p0 largest values, descending, ties by lower index; values to o, indices to
   * imem[ib]. Each round picks the best (value, index) strictly after the previous pick in that order.
   */
  void topK() {
    int row = getGroupId(0), lid = getLocalId(0), cols = n1;
    int base = a + row * cols;
    float prevV = 0f;
    int prevI = -1;
    for (int r = 0; r < p0; r++) {
      float bestV = NEG_BIG;
      int bestI = -1;
      for (int j = lid; j < cols; j += WG) {
        float v = mem[base + j];
        int after = (r == 0 || v < prevV || (v == prevV && j > prevI)) ? 1 : 0;
        if (after == 1 && (bestI < 0 || v > bestV)) {
          bestV = v;
          bestI = j;
        }
      }
      red[lid] = bestV;
      redIdx[lid] = bestI;
      localBarrier();
      for (int stride = WG / 2; stride > 0; stride = stride / 2) {
        if (lid < stride) {
          float ov = red[lid + stride];
          int oi = redIdx[lid + stride];
          if (oi >= 0 && (redIdx[lid] < 0 || ov > red[lid] || (ov == red[lid] && oi < redIdx[lid]))) {
            red[lid] = ov;
            redIdx[lid] = oi;
          }
        }
        localBarrier();
      }
      prevV = red[0];
      prevI = redIdx[0];
      if (lid == 0) {
        mem[o + row * p0 + r] = prevV;
        imem[ib + row * p0 + r] = prevI;
      }
      localBarrier();
    }
  }

  /** {@link #topK()} with one work-item per row and no barriers (CPU devices): p0 scans of the row, same order rule. */
  void topKRows() {
    int row = getGlobalId(0), cols = n1;
    if (row < n0) {
      int base = a + row * cols;
      float prevV = 0f;
      int prevI = -1;
      for (int r = 0; r < p0; r++) {
        float bestV = NEG_BIG;
        int bestI = -1;
        for (int j = 0; j < cols; j++) {
          float v = mem[base + j];
          int after = (r == 0 || v < prevV || (v == prevV && j > prevI)) ? 1 : 0;
          if (after == 1 && (bestI < 0 || v > bestV)) {
            bestV = v;
            bestI = j;
          }
        }
        mem[o + row * p0 + r] = bestV;
        imem[ib + row * p0 + r] = bestI;
        prevV = bestV;
        prevI = bestI;
      }
    }
  }

  // ---- banked weights: p8 is the bank, p9 the dtype (0 bf16, 1 f16: 16-bit banks h0..h7; 2 f32: float banks g0..g7) ----

  /** The bit pattern at [i] of bank p8 (Aparapi binds arrays, not pointers: the bank is chosen by a uniform branch). */
  int bits16(int i) {
    int v = 0;
    if (p8 == 0) v = h0[i];
    else if (p8 == 1) v = h1[i];
    else if (p8 == 2) v = h2[i];
    else if (p8 == 3) v = h3[i];
    else if (p8 == 4) v = h4[i];
    else if (p8 == 5) v = h5[i];
    else if (p8 == 6) v = h6[i];
    else v = h7[i];
    return v;
  }

  void store16(int i, char v) {
    if (p8 == 0) h0[i] = v;
    else if (p8 == 1) h1[i] = v;
    else if (p8 == 2) h2[i] = v;
    else if (p8 == 3) h3[i] = v;
    else if (p8 == 4) h4[i] = v;
    else if (p8 == 5) h5[i] = v;
    else if (p8 == 6) h6[i] = v;
    else h7[i] = v;
  }

  /** The float at [i] of float bank p8 (chosen by a uniform branch, as the 16-bit banks are). */
  float bits32(int i) {
    float v = 0f;
    if (p8 == 0) v = g0[i];
    else if (p8 == 1) v = g1[i];
    else if (p8 == 2) v = g2[i];
    else if (p8 == 3) v = g3[i];
    else if (p8 == 4) v = g4[i];
    else if (p8 == 5) v = g5[i];
    else if (p8 == 6) v = g6[i];
    else v = g7[i];
    return v;
  }

  void store32(int i, float v) {
    if (p8 == 0) g0[i] = v;
    else if (p8 == 1) g1[i] = v;
    else if (p8 == 2) g2[i] = v;
    else if (p8 == 3) g3[i] = v;
    else if (p8 == 4) g4[i] = v;
    else if (p8 == 5) g5[i] = v;
    else if (p8 == 6) g6[i] = v;
    else g7[i] = v;
  }

  /**
   * The float the banked weight at [i] of bank p8 stands for: f32 as stored; bf16 is the top half of a float; f16 is
   * rebiased (exact).
   */
  float w16(int i) {
    float v = 0f;
    if (p9 == 2) {
      v = bits32(i);
    } else {
      int h = bits16(i);
      v = p9 == 0 ? super.asFloat(h << 16) : f16(h);
    }
    return v;
  }

  /**
   * out[m=n0, n=n1] = a[m, k=n2] x W^T + bias (c, -1: none), W banked [n, k] at [b] of bank p8: {@link #matmul()}'s
   * local-memory tiles (GPUs), W widened (16-bit) or read (f32) as its tile is loaded.
   */
  void linear16() {
    int m = n0, n = n1, k = n2;
    int lc = getLocalId(0), lr = getLocalId(1);
    int col = getGlobalId(0), row = getGlobalId(1);
    int colBase = getGroupId(0) * TILE;
    float acc = 0f;
    for (int t = 0; t < k; t += TILE) {
      int ak = t + lc;
      tileA[lr * TILE + lc] = (row < m && ak < k) ? mem[a + row * k + ak] : 0f;
      int bn = colBase + lr, bk = t + lc;
      tileB[lc * TILE + lr] = (bn < n && bk < k) ? w16(b + bn * k + bk) : 0f;
      localBarrier();
      for (int q = 0; q < TILE; q++) acc += tileA[lr * TILE + q] * tileB[q * TILE + lc];
      localBarrier();
    }
    if (row < m && col < n) mem[o + row * n + col] = acc + (c >= 0 ? mem[c + col] : 0f);
  }

  /**
   * {@link #matmulNk()} with W 16-bit [n, k] at [b] of bank p8 (CPU devices): one column x up to NK_ROWS rows per
   * work-item, dot products with 8 partial sums. The bank array and the dtype are chosen once per work-item, outside the
   * loops (branches inside them kept PoCL from vectorising: 1.6 GFLOP/s). Float32 weights (p9 == 2) take
   * {@link #matmulNk()}'s own work-item over their float bank: the same sums in the same order as from {@code mem}.
   */
  void linear16Nk() {
    int m = n0, n = n1;
    int col = getGlobalId(0), r0 = getGlobalId(1) * NK_ROWS;
    if (p9 == 2) {
      if (p8 == 0) matmulNkFrom(g0);
      else if (p8 == 1) matmulNkFrom(g1);
      else if (p8 == 2) matmulNkFrom(g2);
      else if (p8 == 3) matmulNkFrom(g3);
      else if (p8 == 4) matmulNkFrom(g4);
      else if (p8 == 5) matmulNkFrom(g5);
      else if (p8 == 6) matmulNkFrom(g6);
      else matmulNkFrom(g7);
    } else if (col < n && r0 < m) {
      if (p8 == 0) linear16Rows(h0, col, r0);
      else if (p8 == 1) linear16Rows(h1, col, r0);
      else if (p8 == 2) linear16Rows(h2, col, r0);
      else if (p8 == 3) linear16Rows(h3, col, r0);
      else if (p8 == 4) linear16Rows(h4, col, r0);
      else if (p8 == 5) linear16Rows(h5, col, r0);
      else if (p8 == 6) linear16Rows(h6, col, r0);
      else linear16Rows(h7, col, r0);
    }
  }

  void linear16Rows(char[] h, int col, int r0) {
    int m = n0, n = n1, k = n2;
    int rows = min(NK_ROWS, m - r0);
    int wBase = b + col * k;
    for (int r = 0; r < rows; r++) {
      int x0 = a + (r0 + r) * k;
      float acc = p9 == 0 ? dotBf16(h, wBase, x0, k) : dotF16(h, wBase, x0, k);
      mem[o + (r0 + r) * n + col] = acc + (c >= 0 ? mem[c + col] : 0f);
    }
  }

  /** sum over p < k of x[x0 + p] * bf16(h[w0 + p]), 8 partial sums combined pairwise. */
  float dotBf16(char[] h, int w0, int x0, int k) {
    float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
    int full = k - k % 8;
    for (int p = 0; p < full; p += 8) {
      int w = w0 + p, x = x0 + p;
      s0 += mem[x] * super.asFloat(h[w] << 16); s1 += mem[x + 1] * super.asFloat(h[w + 1] << 16);
      s2 += mem[x + 2] * super.asFloat(h[w + 2] << 16); s3 += mem[x + 3] * super.asFloat(h[w + 3] << 16);
      s4 += mem[x + 4] * super.asFloat(h[w + 4] << 16); s5 += mem[x + 5] * super.asFloat(h[w + 5] << 16);
      s6 += mem[x + 6] * super.asFloat(h[w + 6] << 16); s7 += mem[x + 7] * super.asFloat(h[w + 7] << 16);
    }
    for (int p = full; p < k; p++) s0 += mem[x0 + p] * super.asFloat(h[w0 + p] << 16);
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /** The same for f16 weights. */
  float dotF16(char[] h, int w0, int x0, int k) {
    float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
    int full = k - k % 8;
    for (int p = 0; p < full; p += 8) {
      int w = w0 + p, x = x0 + p;
      s0 += mem[x] * f16(h[w]); s1 += mem[x + 1] * f16(h[w + 1]); s2 += mem[x + 2] * f16(h[w + 2]); s3 += mem[x + 3] * f16(h[w + 3]);
      s4 += mem[x + 4] * f16(h[w + 4]); s5 += mem[x + 5] * f16(h[w + 5]); s6 += mem[x + 6] * f16(h[w + 6]); s7 += mem[x + 7] * f16(h[w + 7]);
    }
    for (int p = full; p < k; p++) s0 += mem[x0 + p] * f16(h[w0 + p]);
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /** binary16 bits to float, exactly (the kernels' twin of Half.toFloat). */
  float f16(int h) {
    int sign = (h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = 0f;
    if (e == 0) v = (sign != 0 ? -1f : 1f) * m * 5.9604644775390625e-8f;
    else if (e == 31) v = super.asFloat(sign | 0x7f800000 | (m << 13));
    else v = super.asFloat(sign | ((e + 112) << 23) | (m << 13));
    return v;
  }

  // ---- quantized weights: W [n, k] as bytes at [b] of q8 (p2 bytes per row), scales [n][p3] at [s] of mem, one per
  // group of p1 inputs; p0 = 1 for int4 (two per byte, input 2j in the low nibble of byte j), 0 for int8 ----

  /** The integer at input i of the quantized row whose bytes start at r0 (nibbles sign-extended by the shifts). */
  int quantInt(int r0, int i) {
    int v = 0;
    if (p0 == 1) {
      int bb = q8[r0 + (i >> 1)];
      v = (i & 1) == 0 ? (bb << 28) >> 28 : bb >> 4;
    } else {
      v = q8[r0 + i];
    }
    return v;
  }

  /**
   * out[m=n0, n=n1] = a[m, k=n2] x W^T + bias (c, -1: none), W quantized: {@link #linear16()}'s local-memory tiles
   * (GPUs), each weight dequantized (integer x its group's scale) as its tile is loaded.
   */
  void linearQ() {
    int m = n0, n = n1, k = n2;
    int lc = getLocalId(0), lr = getLocalId(1);
    int col = getGlobalId(0), row = getGlobalId(1);
    int colBase = getGroupId(0) * TILE;
    float acc = 0f;
    for (int t = 0; t < k; t += TILE) {
      int ak = t + lc;
      tileA[lr * TILE + lc] = (row < m && ak < k) ? mem[a + row * k + ak] : 0f;
      int bn = colBase + lr, bk = t + lc;
      tileB[lc * TILE + lr] = (bn < n && bk < k) ? quantInt(b + bn * p2, bk) * mem[s + bn * p3 + bk / p1] : 0f;
      localBarrier();
      for (int q = 0; q < TILE; q++) acc += tileA[lr * TILE + q] * tileB[q * TILE + lc];
      localBarrier();
    }
    if (row < m && col < n) mem[o + row * n + col] = acc + (c >= 0 ? mem[c + col] : 0f);
  }

  /**
   * {@link #linear16Nk()} with W quantized (CPU devices): one column x up to NK_ROWS rows per work-item; per scale group,
   * a dot product of the activations with the group's integers, times the group's scale.
   */
  void linearQNk() {
    int m = n0, n = n1, k = n2;
    int col = getGlobalId(0), r0 = getGlobalId(1) * NK_ROWS;
    if (col < n && r0 < m) {
      int rows = min(NK_ROWS, m - r0);
      int w0 = b + col * p2, sc = s + col * p3;
      for (int r = 0; r < rows; r++) {
        int x0 = a + (r0 + r) * k;
        float acc = 0f;
        for (int g0 = 0; g0 < k; g0 += p1) {
          int gEnd = min(k, g0 + p1);
          float part = p0 == 1 ? dotQ4(w0, x0, g0, gEnd) : dotQ8(w0, x0, g0, gEnd);
          acc += part * mem[sc + g0 / p1];
        }
        mem[o + (r0 + r) * n + col] = acc + (c >= 0 ? mem[c + col] : 0f);
      }
    }
  }

  /** sum over from <= p < to of x[x0 + p] * q8[w0 + p], 8 partial sums combined pairwise. */
  float dotQ8(int w0, int x0, int from, int to) {
    float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
    int full = from + (to - from) / 8 * 8;
    for (int p = from; p < full; p += 8) {
      int w = w0 + p, x = x0 + p;
      s0 += mem[x] * q8[w]; s1 += mem[x + 1] * q8[w + 1]; s2 += mem[x + 2] * q8[w + 2]; s3 += mem[x + 3] * q8[w + 3];
      s4 += mem[x + 4] * q8[w + 4]; s5 += mem[x + 5] * q8[w + 5]; s6 += mem[x + 6] * q8[w + 6]; s7 += mem[x + 7] * q8[w + 7];
    }
    for (int p = full; p < to; p++) s0 += mem[x0 + p] * q8[w0 + p];
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /** The same for int4 (from even): 4 bytes (8 inputs) per step, low nibble first. */
  float dotQ4(int w0, int x0, int from, int to) {
    float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
    int full = from + (to - from) / 8 * 8;
    for (int p = from; p < full; p += 8) {
      int w = w0 + (p >> 1), x = x0 + p;
      int q0 = q8[w], q1 = q8[w + 1], q2 = q8[w + 2], q3 = q8[w + 3];
      s0 += mem[x] * ((q0 << 28) >> 28); s1 += mem[x + 1] * (q0 >> 4);
      s2 += mem[x + 2] * ((q1 << 28) >> 28); s3 += mem[x + 3] * (q1 >> 4);
      s4 += mem[x + 4] * ((q2 << 28) >> 28); s5 += mem[x + 5] * (q2 >> 4);
      s6 += mem[x + 6] * ((q3 << 28) >> 28); s7 += mem[x + 7] * (q3 >> 4);
    }
    for (int p = full; p < to; p++) {
      int qq = q8[w0 + (p >> 1)];
      s0 += mem[x0 + p] * ((p & 1) == 0 ? (qq << 28) >> 28 : qq >> 4);
    }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /** out[i, :] = table[ids[i], :] (16-bit widened, f32 as stored): n0 rows, n1 vocab, n2 dim, ids at ia, table at [a] of bank p8. */
  void gather16() {
    int g = getGlobalId(0);
    int dim = n2;
    if (g < n0 * dim) {
      int i = g / dim, col = g % dim;
      int id = imem[ia + i];
      mem[o + g] = (id >= 0 && id < n1) ? w16(a + id * dim + col) : 0f;
    }
  }

  /**
   * Rotary embedding in place (rotate-half): n0 rows of stride p0 at a, p1 heads of n3 dims, positions at ia (one per
   * row), inverse frequencies at b (n3 / 2 floats). One work-item per (row, head, i < n3 / 2).
   */
  void rope() {
    int g = getGlobalId(0);
    int hd2 = n3 / 2;
    if (g < n0 * p1 * hd2) {
      int i = g % hd2;
      int t = g / hd2;
      int h = t % p1;
      int r = t / p1;
      int base = a + r * p0 + h * n3;
      float ang = imem[ia + r] * mem[b + i];
      float cs = cos(ang), sn = sin(ang);
      float x1 = mem[base + i], x2 = mem[base + i + hd2];
      mem[base + i] = x1 * cs - x2 * sn;
      mem[base + i + hd2] = x2 * cs + x1 * sn;
    }
  }

  /**
   * cache[(b * p1 + positions[b] + i) * n2 + d] = src[(b * n1 + i) * p0 + d]: n0 batch, n1 qLen, n2 width, p0 source
   * stride, p1 cache rows per entry; cache at o, source at a, positions at ia. One work-item per value.
   */
  void cacheWrite() {
    int g = getGlobalId(0);
    int w = n2;
    if (g < n0 * n1 * w) {
      int d = g % w;
      int t = g / w;
      int i = t % n1;
      int bb = t / n1;
      mem[o + (bb * p1 + imem[ia + bb] + i) * w + d] = mem[a + (bb * n1 + i) * p0 + d];
    }
  }

  // ---- register-blocked GPU matmul: a work-group computes a BLK x BLK block of the output ----

  /** Output block edge of {@link #matmulBlocked()}: TILE x TILE work-items, each a BLK/TILE x BLK/TILE register block. */
  static final int BLK = 64;
  /** Depth (along k) of its local-memory tiles. */
  static final int BLK_K = 16;
  /**
   * Pitch of a tile's k-rows in local memory: BLK + 1, so that the transposing stores (16 work-items writing one
   * row's 16 k-values) fall into 16 different banks instead of one.
   */
  static final int BLK_PITCH = BLK + 1;

  @Local final float[] blkA = new float[BLK_K * BLK_PITCH]; // a's rows [rowBase, rowBase + BLK) x k [t, t + BLK_K), k-major
  @Local final float[] blkW = new float[BLK_K * BLK_PITCH]; // W's rows [colBase, colBase + BLK) x the same k, k-major

  /**
   * out[m=n0, n=n1] = a[m, k=n2] x W^T + bias (c, -1: none), W [n, k] (PyTorch Linear): float at b of mem
   * (OP_MATMUL_BLOCKED), or 16-bit at [b] of bank p8, dtype p9 (OP_LINEAR16_BLOCKED). For GPUs: a TILE x TILE
   * work-group computes a BLK x BLK output block, each work-item 4 x 4 outputs (rows lr + 16i, columns lc + 16j: the
   * stores of consecutive work-items are consecutive) in 16 named accumulators, from tiles of a and W BLK_K deep in
   * local memory. Per step of k a work-item reads 4 values of a and 4 of W from local memory for 16 multiply-adds
   * (against 2 for 1 in {@link #matmul()}). Tiles are filled by all 256 work-items, 4 values of each tile each, 16
   * consecutive work-items reading 16 consecutive k of one row; every edge (m, n, k) is bounds-checked, outside
   * values are zero. dim 0 over column blocks (BLK columns per TILE work-items), dim 1 over row blocks.
   */
  void matmulBlocked() {
    int m = n0, n = n1, k = n2;
    int lc = getLocalId(0), lr = getLocalId(1);
    int tid = lr * TILE + lc;
    int rowBase = getGroupId(1) * BLK, colBase = getGroupId(0) * BLK;
    float x00 = 0f, x01 = 0f, x02 = 0f, x03 = 0f;
    float x10 = 0f, x11 = 0f, x12 = 0f, x13 = 0f;
    float x20 = 0f, x21 = 0f, x22 = 0f, x23 = 0f;
    float x30 = 0f, x31 = 0f, x32 = 0f, x33 = 0f;
    for (int t = 0; t < k; t += BLK_K) {
      for (int l = 0; l < 4; l++) {
        int idx = tid + l * TILE * TILE;
        int r = idx / BLK_K, kk = idx % BLK_K;
        int gk = t + kk;
        int ar = rowBase + r, wr = colBase + r;
        blkA[kk * BLK_PITCH + r] = (ar < m && gk < k) ? mem[a + ar * k + gk] : 0f;
        blkW[kk * BLK_PITCH + r] = (wr < n && gk < k) ? blockedWeight(b + wr * k + gk) : 0f;
      }
      localBarrier();
      for (int kk = 0; kk < BLK_K; kk++) {
        int ia0 = kk * BLK_PITCH + lr, iw0 = kk * BLK_PITCH + lc;
        float a0 = blkA[ia0], a1 = blkA[ia0 + 16], a2 = blkA[ia0 + 32], a3 = blkA[ia0 + 48];
        float w0 = blkW[iw0], w1 = blkW[iw0 + 16], w2 = blkW[iw0 + 32], w3 = blkW[iw0 + 48];
        x00 += a0 * w0; x01 += a0 * w1; x02 += a0 * w2; x03 += a0 * w3;
        x10 += a1 * w0; x11 += a1 * w1; x12 += a1 * w2; x13 += a1 * w3;
        x20 += a2 * w0; x21 += a2 * w1; x22 += a2 * w2; x23 += a2 * w3;
        x30 += a3 * w0; x31 += a3 * w1; x32 += a3 * w2; x33 += a3 * w3;
      }
      localBarrier();
    }
    int r0 = rowBase + lr, c0 = colBase + lc;
    storeBlocked(r0, c0, x00); storeBlocked(r0, c0 + 16, x01); storeBlocked(r0, c0 + 32, x02); storeBlocked(r0, c0 + 48, x03);
    storeBlocked(r0 + 16, c0, x10); storeBlocked(r0 + 16, c0 + 16, x11); storeBlocked(r0 + 16, c0 + 32, x12); storeBlocked(r0 + 16, c0 + 48, x13);
    storeBlocked(r0 + 32, c0, x20); storeBlocked(r0 + 32, c0 + 16, x21); storeBlocked(r0 + 32, c0 + 32, x22); storeBlocked(r0 + 32, c0 + 48, x23);
    storeBlocked(r0 + 48, c0, x30); storeBlocked(r0 + 48, c0 + 16, x31); storeBlocked(r0 + 48, c0 + 32, x32); storeBlocked(r0 + 48, c0 + 48, x33);
  }

  /** The weight at [i]: float from mem, or 16-bit from bank p8 widened (a branch uniform over the launch). */
  float blockedWeight(int i) {
    return op == OP_LINEAR16_BLOCKED ? w16(i) : mem[i];
  }

  /** out[row, col] = v + bias[col], inside the output only. */
  void storeBlocked(int row, int col, float v) {
    if (row < n0 && col < n1) mem[o + row * n1 + col] = v + (c >= 0 ? mem[c + col] : 0f);
  }

  // ---- fused attention for GPUs and short sequences ----

  /**
   * {@link #attentionFused()}: the scores block in local memory (FA_SCORES floats: FA_SCORES / p9 keys for each of the
   * work-group's p9 queries), and the longest key sequence and head it takes.
   */
  static final int FA_SCORES = 1024, FA_MAX_K = 256, FA_MAX_HD = 128;

  /**
   * Attention (same operands, masks and "no visible key: zeros" rule as the split kernels) in one launch, for GPUs
   * and kLen <= FA_MAX_K, headDim <= FA_MAX_HD: a work-group of WG work-items per (batch entry, head, block of p9
   * queries: 8 up to 128 keys, 4 up to 256), the block's queries and its p9 x kLen scores in local memory (in
   * {@link #blkW} and {@link #blkA}: the matmul's tiles, 1,040 floats each, reused because Aparapi gives every launch
   * all of the kernel's local arrays, so each new one costs every op's work-groups local memory on a GPU). Three
   * steps, a barrier between them and none in a loop: scores (a work-item per score in turn, q from local memory, k
   * from global), softmax (a work-item per query row), output (a work-item per (row, d) in turn, v read along d).
   * Nothing goes to the scores tensor. Work-groups ordered query block fastest, then head, then batch entry.
   */
  void attentionFused() {
    int qLen = n1, kLen = n2, hd = n3, heads = p0;
    int lid = getLocalId(0);
    int fr = p9, ks = FA_SCORES / p9; // queries per work-group, scores row stride
    int qBlocks = (qLen + fr - 1) / fr;
    int grp = getGroupId(0);
    int qb = grp % qBlocks;
    int t = grp / qBlocks;
    int h = t % heads;
    int bb = t / heads;
    int kvh = h / (heads / p1);
    int i0 = qb * fr;
    int rows = min(fr, qLen - i0);
    for (int e = lid; e < rows * hd; e += WG) {
      int r = e / hd, d = e % hd;
      blkW[r * FA_MAX_HD + d] = mem[a + (bb * qLen + i0 + r) * p2 + h * hd + d];
    }
    localBarrier();
    for (int e = lid; e < rows * kLen; e += WG) {
      int r = e / kLen, j = e % kLen;
      int qBase = r * FA_MAX_HD;
      int kBase = b + (bb * p8 + j) * p3 + kvh * hd;
      float dot = 0f;
      for (int d = 0; d < hd; d++) dot += blkW[qBase + d] * mem[kBase + d];
      blkA[r * ks + j] = dot * f0;
    }
    localBarrier();
    if (lid < rows) {
      int pos = queryPos(bb, i0 + lid);
      int base = lid * ks;
      float mx = NEG_BIG;
      for (int j = 0; j < kLen; j++) {
        if (visible(bb, pos, j, kLen) == 1) mx = max(mx, blkA[base + j]);
      }
      float sum = 0f;
      for (int j = 0; j < kLen; j++) {
        float e = visible(bb, pos, j, kLen) == 1 ? exp(blkA[base + j] - mx) : 0f;
        blkA[base + j] = e;
        sum += e;
      }
      for (int j = 0; j < kLen; j++) blkA[base + j] = sum > 0f ? blkA[base + j] / sum : 0f;
    }
    localBarrier();
    for (int e = lid; e < rows * hd; e += WG) {
      int r = e / hd, d = e % hd;
      int pBase = r * ks;
      int vBase = c + bb * p8 * p3 + kvh * hd + d;
      float acc = 0f;
      for (int j = 0; j < kLen; j++) acc += blkA[pBase + j] * mem[vBase + j * p3];
      mem[o + (bb * qLen + i0 + r) * p4 + h * hd + d] = acc;
    }
  }
}
