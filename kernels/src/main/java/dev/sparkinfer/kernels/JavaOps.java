package dev.sparkinfer.kernels;

import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * The reference ops in plain Java: clear rather than fast (loops parallel over rows or column blocks, sums in double;
 * only the matmuls are arranged so that the JIT vectorizes them, without changing a single sum). Every
 * {@link AparapiOps} kernel is tested against this class; it also runs whole models when {@code --device java} is asked
 * for explicitly.
 */
public final class JavaOps extends HeapOps {
  private final DeviceInfo info;

  public JavaOps() { this(DeviceInfo.JAVA); }

  /** With the description to report (the --device auto fallback says why it runs). */
  JavaOps(DeviceInfo info) { this.info = info; }

  @Override
  public DeviceInfo device() { return info; }

  @Override
  public boolean linearInMajor() { return false; }

  // ---- ops ----

  @Override
  protected void matmulImpl(Tensor out, Tensor a, Tensor b, Tensor bias, int m, int n, int k, boolean transB) {
    float[] x = mem;
    int bo = b.offset();
    // transB: b is [n, k] and each output is a four-way sum; else b is [k, n], one sum in order
    columnBlocks(n, k, (col, p) -> transB ? x[bo + col * k + p] : x[bo + p * n + col], transB ? 4 : 1,
        a.offset(), m, bias, out.offset());
  }

  /** The weight w[col, p] of a Linear with out = col, in = p, as a float. */
  private interface WeightAt {
    float at(int col, int p);
  }

  /** Output columns per task of {@link #columnBlocks}. */
  private static final int COLUMNS = 64;

  /**
   * out[r, col] = (float) (sum over p of (double) x[r, p] * w(col, p) (+ bias[col])) for every row r < rows (x rows k
   * apart from xo) and column col < n (out rows n apart from oo), in parallel over blocks of {@link #COLUMNS} columns.
   * {@code parts} = 4: four partial sums (term p into sum p % 4, the last k % 4 terms into the first, then
   * (s0 + s1) + (s2 + s3)), as a dot product written to keep four additions in flight; 1: one sum in order of p.
   * Each block's weights are first copied out as doubles, a row of columns per p, so that the innermost loop runs over
   * columns with plain indices: the JIT vectorizes it (JDK 17 does not when two arrays are indexed from different
   * offsets), and each output is still the same sum, operation for operation. Rows go four at a time, each weight read
   * once for the four, then the rows left one by one.
   */
  private void columnBlocks(int n, int k, WeightAt w, int parts, int xo, int rows, Tensor bias, int oo) {
    IntStream.range(0, (n + COLUMNS - 1) / COLUMNS).parallel().forEach(block -> {
      int c0 = block * COLUMNS, cols = Math.min(COLUMNS, n - c0);
      double[][] wt = new double[k][cols];
      for (int c = 0; c < cols; c++) for (int p = 0; p < k; p++) wt[p][c] = w.at(c0 + c, p);
      double[][][] s = new double[4][4][cols]; // [row of the four][partial sum][column]
      int k4 = parts == 4 ? k & ~3 : 0, r = 0;
      for (; r + 4 <= rows; r += 4) {
        for (double[][] row : s) for (double[] sum : row) Arrays.fill(sum, 0);
        int xr = xo + r * k;
        for (int p = 0; p < k; p++) {
          int part = p < k4 ? p & 3 : 0;
          addProducts(s[0][part], s[1][part], s[2][part], s[3][part], wt[p], cols,
              mem[xr + p], mem[xr + k + p], mem[xr + 2 * k + p], mem[xr + 3 * k + p]);
        }
        for (int i = 0; i < 4; i++) store(s[i], cols, parts, bias, c0, oo + (r + i) * n);
      }
      for (; r < rows; r++) {
        for (double[] sum : s[0]) Arrays.fill(sum, 0);
        int xr = xo + r * k;
        for (int p = 0; p < k; p++) addProducts(s[0][p < k4 ? p & 3 : 0], wt[p], cols, mem[xr + p]);
        store(s[0], cols, parts, bias, c0, oo + r * n);
      }
    });
  }

  /** s0..s3[c] += x0..x3 * w[c] for c < cols. */
  private static void addProducts(double[] s0, double[] s1, double[] s2, double[] s3, double[] w, int cols,
      double x0, double x1, double x2, double x3) {
    for (int c = 0; c < cols; c++) {
      double wc = w[c];
      s0[c] += x0 * wc;
      s1[c] += x1 * wc;
      s2[c] += x2 * wc;
      s3[c] += x3 * wc;
    }
  }

  /** s[c] += x * w[c] for c < cols. */
  private static void addProducts(double[] s, double[] w, int cols, double x) {
    for (int c = 0; c < cols; c++) s[c] += x * w[c];
  }

  /** One row of {@link #columnBlocks}: its partial sums s[part][c] added up, bias added, to out[o + c0 + c]. */
  private void store(double[][] s, int cols, int parts, Tensor bias, int c0, int o) {
    for (int c = 0; c < cols; c++) {
      double acc = parts == 4 ? (s[0][c] + s[1][c]) + (s[2][c] + s[3][c]) : s[0][c];
      mem[o + c0 + c] = (float) (acc + (bias == null ? 0 : mem[bias.offset() + c0 + c]));
    }
  }

  @Override
  protected void addImpl(Tensor out, Tensor a, Tensor b, int n) {
    for (int i = 0; i < n; i++) mem[out.offset() + i] = mem[a.offset() + i] + mem[b.offset() + i];
  }

  @Override
  protected void mulImpl(Tensor out, Tensor a, Tensor b, int n) {
    for (int i = 0; i < n; i++) mem[out.offset() + i] = mem[a.offset() + i] * mem[b.offset() + i];
  }

  @Override
  protected void scaleImpl(Tensor out, Tensor x, float s, int n) {
    for (int i = 0; i < n; i++) mem[out.offset() + i] = mem[x.offset() + i] * s;
  }

  @Override
  protected void copyImpl(Tensor out, Tensor x, int n) {
    System.arraycopy(mem, x.offset(), mem, out.offset(), n);
  }

  @Override
  protected void activationImpl(Activation act, Tensor out, Tensor x, int n) {
    IntStream.range(0, (n + 4095) / 4096).parallel().forEach(chunk -> { // element by element, in parallel chunks
      for (int i = chunk * 4096, end = Math.min(n, i + 4096); i < end; i++) mem[out.offset() + i] = (float) activate(act, mem[x.offset() + i]);
    });
  }

  static double activate(Activation act, double x) {
    return switch (act) {
      case GELU_ERF -> 0.5 * x * (1 + erf(x / Math.sqrt(2)));
      case GELU_TANH -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
      case QUICK_GELU -> x / (1 + Math.exp(-1.702 * x));
      case SILU -> x / (1 + Math.exp(-x));
      case RELU -> Math.max(x, 0);
    };
  }

  /** erf in double: Taylor series below |x| = 4 (error < 1e-12), 1 - asymptotic erfc beyond (erfc(4) < 2e-8). */
  static double erf(double x) {
    double ax = Math.abs(x);
    double r;
    if (ax < 4) {
      double term = ax, sum = ax, x2 = ax * ax;
      for (int n = 1; n < 100 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
        term *= -x2 / n;
        sum += term / (2 * n + 1);
      }
      r = 2 / Math.sqrt(Math.PI) * sum;
    } else {
      double x2 = ax * ax;
      double series = 1 - 1 / (2 * x2) + 3 / (4 * x2 * x2) - 15 / (8 * x2 * x2 * x2);
      r = 1 - Math.exp(-x2) / (ax * Math.sqrt(Math.PI)) * series;
    }
    return x < 0 ? -r : r;
  }

  @Override
  protected void layerNormImpl(Tensor out, Tensor x, Tensor gamma, Tensor beta, int rows, int dim, float eps) {
    IntStream.range(0, rows).parallel().forEach(r -> {
      int base = x.offset() + r * dim;
      double mean = 0;
      for (int j = 0; j < dim; j++) mean += mem[base + j];
      mean /= dim;
      double var = 0;
      for (int j = 0; j < dim; j++) var += (mem[base + j] - mean) * (mem[base + j] - mean);
      var /= dim;
      double inv = 1 / Math.sqrt(var + eps);
      for (int j = 0; j < dim; j++) {
        double v = (mem[base + j] - mean) * inv * mem[gamma.offset() + j] + (beta == null ? 0 : mem[beta.offset() + j]);
        mem[out.offset() + r * dim + j] = (float) v;
      }
    });
  }

  @Override
  protected void rmsNormImpl(Tensor out, Tensor x, Tensor weight, int rows, int dim, float eps) {
    for (int r = 0; r < rows; r++) {
      int base = x.offset() + r * dim;
      double ms = 0;
      for (int j = 0; j < dim; j++) ms += (double) mem[base + j] * mem[base + j];
      double inv = 1 / Math.sqrt(ms / dim + eps);
      for (int j = 0; j < dim; j++) mem[out.offset() + r * dim + j] = (float) (mem[base + j] * inv * mem[weight.offset() + j]);
    }
  }

  @Override
  protected void softmaxImpl(Tensor out, Tensor x, Tensor mask, boolean maskPerRow, int rows, int cols, float temperature, boolean log) {
    for (int r = 0; r < rows; r++) {
      double[] z = new double[cols];
      double mx = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < cols; j++) {
        double m = mask == null ? 0 : mem[mask.offset() + (maskPerRow ? r * cols : 0) + j];
        z[j] = (double) mem[x.offset() + r * cols + j] / temperature + m;
        mx = Math.max(mx, z[j]);
      }
      double sum = 0;
      for (int j = 0; j < cols; j++) sum += Math.exp(z[j] - mx);
      for (int j = 0; j < cols; j++) {
        mem[out.offset() + r * cols + j] = (float) (log ? z[j] - mx - Math.log(sum) : Math.exp(z[j] - mx) / sum);
      }
    }
  }

  @Override
  protected void l2NormalizeImpl(Tensor out, Tensor x, int rows, int dim) {
    for (int r = 0; r < rows; r++) {
      double ss = 0;
      for (int j = 0; j < dim; j++) ss += (double) mem[x.offset() + r * dim + j] * mem[x.offset() + r * dim + j];
      double inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
      for (int j = 0; j < dim; j++) mem[out.offset() + r * dim + j] = (float) (mem[x.offset() + r * dim + j] * inv);
    }
  }

  @Override
  protected void attentionImpl(Tensor out, Tensor q, Tensor k, Tensor v, IntTensor keyMask, IntTensor positions, Tensor scores, Attention sp) {
    int hd = sp.headDim(), group = sp.heads() / sp.kvHeads();
    IntStream.range(0, sp.batch() * sp.heads()).parallel().forEach(bh -> {
      int b = bh / sp.heads(), h = bh % sp.heads(), g = h / group;
      int start = positions == null ? sp.posOffset() : imem[positions.offset() + b];
      double[] p = new double[sp.kLen()];
      for (int i = 0; i < sp.qLen(); i++) {
        // scores of query i against every visible key, then softmax, then the weighted sum of values
        double mx = Double.NEGATIVE_INFINITY;
        boolean[] vis = new boolean[sp.kLen()];
        int qBase = q.offset() + (b * sp.qLen() + i) * sp.qStride() + h * hd;
        for (int j = 0; j < sp.kLen(); j++) {
          vis[j] = sp.visibleAt(start + i, j) && (keyMask == null || imem[keyMask.offset() + b * sp.kLen() + j] != 0);
          if (!vis[j]) continue;
          int kBase = k.offset() + (b * sp.kvRows() + j) * sp.kvStride() + g * hd;
          double dot = 0;
          for (int d = 0; d < hd; d++) dot += (double) mem[qBase + d] * mem[kBase + d];
          p[j] = dot * sp.scale();
          mx = Math.max(mx, p[j]);
        }
        double sum = 0;
        for (int j = 0; j < sp.kLen(); j++) {
          p[j] = vis[j] ? Math.exp(p[j] - mx) : 0;
          sum += p[j];
        }
        for (int d = 0; d < hd; d++) {
          double acc = 0;
          for (int j = 0; j < sp.kLen(); j++) {
            if (p[j] != 0) acc += p[j] / sum * mem[v.offset() + (b * sp.kvRows() + j) * sp.kvStride() + g * hd + d];
          }
          mem[out.offset() + (b * sp.qLen() + i) * sp.outStride() + h * hd + d] = (float) acc;
        }
      }
    });
  }

  @Override
  protected void gatherImpl(Tensor out, Tensor table, IntTensor ids, int n, int vocab, int dim, boolean accumulate) {
    for (int i = 0; i < n; i++) {
      int id = imem[ids.offset() + i];
      for (int d = 0; d < dim; d++) {
        float v = id >= 0 && id < vocab ? mem[table.offset() + id * dim + d] : 0f;
        int o = out.offset() + i * dim + d;
        mem[o] = accumulate ? mem[o] + v : v;
      }
    }
  }

  @Override
  protected void ropeImpl(Tensor x, int rows, int heads, int headDim, int rowStride, IntTensor positions, Tensor invFreq) {
    int half = headDim / 2;
    for (int r = 0; r < rows; r++) {
      int pos = imem[positions.offset() + r];
      for (int h = 0; h < heads; h++) {
        int base = x.offset() + r * rowStride + h * headDim;
        for (int i = 0; i < half; i++) {
          float ang = pos * mem[invFreq.offset() + i]; // float32 product, as HF's freqs
          double c = Math.cos(ang), sn = Math.sin(ang);
          float cf = (float) c, sf = (float) sn; // HF: cos()/sin() of the float angle, rounded to float
          float x1 = mem[base + i], x2 = mem[base + i + half];
          mem[base + i] = x1 * cf - x2 * sf;
          mem[base + i + half] = x2 * cf + x1 * sf;
        }
      }
    }
  }

  @Override
  protected void linear16Impl(Tensor out, Tensor x, HalfTensor w, Tensor bias, int rows, int n, int k) {
    // float32: the very sums of matmul's, as from the arena; 16-bit weights: one sum in order
    columnBlocks(n, k, (col, p) -> bankedAt(w, col * k + p), w.dtype() == DType.F32 ? 4 : 1, x.offset(), rows, bias, out.offset());
  }

  /** The twin of every engine's quantized Linear: each row of W dequantized to float (q * scale), then dot products in double. */
  @Override
  protected void linearQuantizedImpl(Tensor out, Tensor x, LinearWeight w, Tensor bias, int rows) {
    checkPlainQuantized(w);
    LinearWeight.Quantized q = w.quantized();
    int n = w.out(), k = w.in(), group = q.group(), groups = q.groups(k), rowBytes = q.rowBytes(k);
    boolean int4 = q.scheme() == Quantization.INT4;
    int vo = q.values().offset(), so = q.scales().offset();
    columnBlocks(n, k, (col, p) -> QuantizedWeights.q(bytes, vo + col * rowBytes, p, int4) * mem[so + col * groups + p / group],
        4, x.offset(), rows, bias, out.offset());
  }

  @Override
  protected void gather16Impl(Tensor out, HalfTensor table, IntTensor ids, int n, int vocab, int dim) {
    for (int i = 0; i < n; i++) {
      int id = imem[ids.offset() + i];
      for (int d = 0; d < dim; d++) {
        mem[out.offset() + i * dim + d] = id >= 0 && id < vocab ? bankedAt(table, id * dim + d) : 0f;
      }
    }
  }

  @Override
  protected void meanPoolImpl(Tensor out, Tensor x, IntTensor mask, int batch, int seq, int dim) {
    for (int b = 0; b < batch; b++) {
      double count = 0;
      for (int s = 0; s < seq; s++) count += imem[mask.offset() + b * seq + s];
      for (int d = 0; d < dim; d++) {
        double acc = 0;
        for (int s = 0; s < seq; s++) acc += (double) mem[x.offset() + (b * seq + s) * dim + d] * imem[mask.offset() + b * seq + s];
        mem[out.offset() + b * dim + d] = (float) (acc / Math.max(count, 1e-9));
      }
    }
  }

  @Override
  protected void topKImpl(Tensor vals, IntTensor ids, Tensor x, int rows, int cols, int k) {
    for (int r = 0; r < rows; r++) {
      int base = x.offset() + r * cols;
      Integer[] order = new Integer[cols];
      for (int j = 0; j < cols; j++) order[j] = j;
      Arrays.sort(order, (p, q) -> mem[base + p] != mem[base + q] ? Float.compare(mem[base + q], mem[base + p]) : Integer.compare(p, q));
      for (int t = 0; t < k; t++) {
        boolean has = t < cols;
        mem[vals.offset() + r * k + t] = has ? mem[base + order[t]] : OpsKernel.NEG_BIG;
        imem[ids.offset() + r * k + t] = has ? order[t] : -1;
      }
    }
  }
}
