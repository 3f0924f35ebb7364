package dev.sparkinfer.kernels;

import com.aparapi.Range;
import com.aparapi.device.OpenCLDevice;
import com.aparapi.internal.kernel.KernelManager;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * The ops as Aparapi kernels on one OpenCL device ({@link OpsKernel}). Weights and activations stay in two device
 * buffers; {@link #write}/{@link #read} go through small staging buffers.
 *
 * <p>Aparapi falls back to Java threads when a kernel cannot run on the device. After every launch this class checks
 * that the kernel really ran on OpenCL: in strict mode a fallback throws {@link KernelFallbackException} naming the op
 * and Aparapi's reason; otherwise it is logged and recorded in {@link #fellBack()}.
 */
public final class AparapiOps extends ArenaOps {
  private static final int STAGE_FLOATS = 1 << 20;
  private static final int LOCAL_1D = 64;

  private final OpenCLDevice device;
  private final DeviceInfo info;
  private final boolean strict;
  private OpsKernel k;
  /** Elements per work-item of the element-wise ops and of zero fills by default (see {@link #runs}). */
  private final int elementRun, zeroRun;
  /** False on PoCL unless its work-item loops run without the vectorizer: barrier kernels are then refused (see {@link #barriersSafe}). */
  private final boolean barriersSafe;
  private volatile boolean fellBack;
  private volatile String firstFallback;
  private volatile EngineConfig config;
  /**
   * What the kernel's float banks not yet made are bound to: one array for all of them, large enough never to move
   * (NonMovingArrays), so that an engine without float32 weights does not hold 8 of them; never read or written.
   */
  private float[] emptyFloatBank;

  /** Tests flip kernel choices on a live engine through system properties: re-reads them (strictness kept). */
  void reloadConfig() { config = EngineConfig.fromSystemProperties().withStrict(strict).withBudgetBytes(config.budgetBytes()); }

  public EngineConfig config() { return config; }

  /** Tunables from this JVM's sparkinfer.* system properties (tests, benchmarks). */
  public AparapiOps(OpenCLDevice device, boolean strict) { this(device, EngineConfig.fromSystemProperties().withStrict(strict), new OpsKernel()); }

  public AparapiOps(OpenCLDevice device, EngineConfig config) { this(device, config, new OpsKernel()); }

  /** With a given kernel instance: tests pass one that cannot run on OpenCL to check the fallback detection. */
  AparapiOps(OpenCLDevice device, boolean strict, OpsKernel kernel) {
    this(device, EngineConfig.fromSystemProperties().withStrict(strict), kernel);
  }

  private AparapiOps(OpenCLDevice device, EngineConfig config, OpsKernel kernel) {
    this.k = kernel;
    this.device = device;
    this.strict = config.strict();
    this.config = config;
    long global = device.getGlobalMemSize();
    setBudget(config.budgetBytes() > 0 ? config.budgetBytes() : global > 0 ? global / 10 * 9 : Long.MAX_VALUE);
    this.info = Devices.describe(device);
    boolean cpu = "CPU".equals(info.type());
    this.elementRun = cpu ? 64 : 1;
    this.zeroRun = cpu ? 1024 : 1;
    this.barriersSafe = barriersSafe(info, System.getenv("POCL_WORK_GROUP_METHOD"));
    NonMovingArrays.requireG1();
    mem = new float[Math.max(mem.length, NonMovingArrays.minElements(4))];
    imem = new int[Math.max(imem.length, NonMovingArrays.minElements(4))];
    bind(kernel);
    // Compile and bind every buffer now, so a device that cannot run the kernel fails at load time, not mid-job.
    boolean retryable = kernel.getClass() == OpsKernel.class; // not the tests' deliberately broken kernels
    if (!buildNow(!retryable) && retryable) {
      // PoCL stores each program it builds in its kernel cache through a temporary file and a rename; two processes
      // building the same kernel at once have failed there ("unable to rename temporary .../kcache/tempfile_...") and the
      // build with them. The cache holds the other process's program by then: one retry after a pause builds or loads it.
      System.getLogger("dev.sparkinfer.kernels").log(System.Logger.Level.WARNING, "building the kernels on " + info
          + " failed once (" + AparapiLog.lastWarning() + "); retrying once (another process may be building into the same "
          + "OpenCL kernel cache)");
      k.dispose();
      try {
        Thread.sleep(250 + new java.util.Random().nextInt(500));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      fellBack = false;
      firstFallback = null;
      bind(new OpsKernel());
      buildNow(true);
    }
  }

  /** Binds a kernel instance to this engine's device and arrays (each large enough that the GC never moves it). */
  private void bind(OpsKernel kernel) {
    k = kernel;
    k.setExplicit(true);
    KernelManager.instance().setPreferredDevices(k, new LinkedHashSet<>(List.of(device)));
    k.mem = mem;
    k.imem = imem;
    k.stage = new float[Math.max(STAGE_FLOATS, NonMovingArrays.minElements(4))];
    k.istage = new int[Math.max(STAGE_FLOATS / 4, NonMovingArrays.minElements(4))];
    for (int i = 0; i < BANKS; i++) bindBank(i, new char[NonMovingArrays.minElements(2)]);
    if (emptyFloatBank == null) emptyFloatBank = new float[NonMovingArrays.minElements(4)];
    for (int i = 0; i < BANKS; i++) bindFloatBank(i, floatBanks[i].length == 0 ? emptyFloatBank : floatBanks[i]);
    k.hstage = new char[Math.max(STAGE_FLOATS, NonMovingArrays.minElements(2))];
    if (bytes.length < NonMovingArrays.minElements(1)) bytes = new byte[NonMovingArrays.minElements(1)];
    k.q8 = bytes;
    k.bstage = new byte[Math.max(STAGE_FLOATS, NonMovingArrays.minElements(1))];
    k.put(k.mem).put(k.imem).put(k.stage).put(k.istage).put(k.hstage).put(k.q8).put(k.bstage);
    for (char[] b : banks) k.put(b);
    k.put(emptyFloatBank);
  }

  /** The first launch, which builds the program: true when it ran on the device; the last attempt throws as launches do. */
  private boolean buildNow(boolean last) {
    k.o = 0;
    k.n0 = 0;
    k.n1 = 1;
    try {
      launch(OpsKernel.OP_ZERO, device.createRange(LOCAL_1D, LOCAL_1D));
    } catch (KernelFallbackException e) {
      if (last) throw e;
      return false;
    }
    return k.isRunningCL();
  }

  @Override
  public DeviceInfo device() { return info; }

  public boolean isStrict() { return strict; }

  /**
   * Linear weights stay in PyTorch's {@code [out, in]}: the transposed matmul is the fastest kernel on both kinds of
   * device ({@link #useDotKernel()}). {@code -Dsparkinfer.linear.layout=in-major} stores {@code [in, out]} instead (the
   * register-blocked {@code b[k, n]} kernel), kept for comparison and tested.
   */
  @Override
  public boolean linearInMajor() { return config.linearLayout().equals("in-major"); }

  /**
   * Which kernel multiplies by a transposed {@code b[n, k]}: CPU devices get the dot-product kernel (contiguous rows,
   * 8 partial sums, vectorised by PoCL; its local-memory barriers make the tiled kernel ~10x slower there), GPUs the
   * local-memory tiled kernel. {@code -Dsparkinfer.matmul.kernel=dot|tiled} overrides.
   */
  boolean useDotKernel() { return cpuKernel(config.matmulKernel(), "dot"); }

  /**
   * Which GPU kernel multiplies by a Linear weight {@code W[n, k]} (float or 16-bit) where the dot kernel is not used:
   * the register-blocked one ({@link OpsKernel#matmulBlocked()}: 64 x 64 outputs per work-group, 4 x 4 per work-item;
   * auto and {@code blocked}) or the one-output-per-work-item tiles ({@code tiled}, kept to compare).
   */
  boolean useBlockedKernel() { return !config.matmulKernel().equals("tiled"); }

  /** A kernel choice of the config: true for the CPU kind (auto: on CPU devices). */
  private boolean cpuKernel(String forced, String cpuKind) {
    if (forced.equals("auto")) return "CPU".equals(info.type());
    return forced.equals(cpuKind);
  }

  /**
   * Attention as one fused kernel, a work-item per scores row (CPU devices: ~10x faster on PoCL than the split
   * kernels, whose per-score index arithmetic and work-group reductions dominate there), or as the three split
   * kernels (scores, softmax, values: GPUs, where they spread over many more work-items).
   * {@code -Dsparkinfer.attention.kernel=rows|split} overrides.
   */
  boolean useRowAttention() { return cpuKernel(config.attentionKernel(), "rows"); }

  /**
   * Where the row kernel is not used: attention in one launch ({@link OpsKernel#attentionFused()}: scores in local
   * memory, never in the scores tensor) when the keys are at most {@code FA_MAX_K} (256) and the head at most
   * {@code FA_MAX_HD} (128), as for BERT-family encoders and CLIP; else the three split launches. Auto and
   * {@code fused} choose it where it fits; {@code split} never.
   */
  boolean useFusedAttention(Attention sp) {
    return !config.attentionKernel().equals("split") && sp.kLen() <= OpsKernel.FA_MAX_K && sp.headDim() <= OpsKernel.FA_MAX_HD;
  }

  /**
   * LayerNorm and RMSNorm with a work-item per row (CPU devices) or a work-group per row with a tree reduction in
   * local memory (GPUs). {@code -Dsparkinfer.norm.kernel=rows|groups} overrides.
   */
  boolean useRowNorms() { return cpuKernel(config.normKernel(), "rows"); }

  /**
   * Softmax and top-k with a work-item per row (CPU devices) or a work-group per row (GPUs).
   * {@code -Dsparkinfer.softmax.kernel=rows|groups} overrides.
   */
  boolean useRowSoftmax() { return cpuKernel(config.softmaxKernel(), "rows"); }

  /**
   * Whether kernels with work-group barriers (the GPU matmuls, the work-group row reductions, split and fused
   * attention) compute correctly here. Not on PoCL with its default work-group method, {@code loopvec}: it wraps each
   * region between barriers in a loop over the work-items and then runs LLVM's loop vectorizer over those loops (PoCL
   * lowers its trip-count threshold to 2), and on an Intel skylake-avx512 target (PoCL 3.1, LLVM 15) the vectorized
   * tree reductions compute wrong values, depending on the shape of the whole kernel's control flow (reproduced in plain
   * OpenCL C, outside Aparapi). The same work-item loops without the vectorizer ({@code POCL_WORK_GROUP_METHOD=loops})
   * compute every kernel right. {@code cbs} is accepted too: PoCL 4+'s continuation-based method; PoCL 3.1 does not
   * know it ("Unknown work group generation method. Using 'auto'.") and runs the loops without the vectorizer. CPU
   * devices never choose these kernels; forcing one on PoCL needs POCL_WORK_GROUP_METHOD=loops in the JVM's environment
   * (set before PoCL loads), else the launch is refused with a message.
   */
  static boolean barriersSafe(DeviceInfo info, String workGroupMethod) {
    boolean pocl = info.vendor().toLowerCase(java.util.Locale.ROOT).contains("pocl")
        || info.vendor().toLowerCase(java.util.Locale.ROOT).contains("portable computing");
    return !pocl || (workGroupMethod != null && java.util.Set.of("loops", "workitemloops", "cbs").contains(workGroupMethod));
  }

  private static final java.util.Set<Integer> BARRIER_OPS = java.util.Set.of(OpsKernel.OP_MATMUL, OpsKernel.OP_LAYERNORM,
      OpsKernel.OP_RMSNORM, OpsKernel.OP_SOFTMAX, OpsKernel.OP_L2NORM, OpsKernel.OP_ATTN_SOFTMAX, OpsKernel.OP_TOPK,
      OpsKernel.OP_LINEAR16, OpsKernel.OP_LINEARQ, OpsKernel.OP_MATMUL_BLOCKED, OpsKernel.OP_LINEAR16_BLOCKED,
      OpsKernel.OP_ATTN_FUSED);

  /** Whether kernels with work-group barriers may run on this device (see {@link #barriersSafe(DeviceInfo, String)}). */
  boolean barriersSafe() { return barriersSafe; }

  @Override
  public String ranOn() {
    return fellBack ? info + " PARTLY ON JAVA THREADS: Aparapi fell back for op " + firstFallback + " and maybe others" : info.toString();
  }

  /** True when some launch did not run on OpenCL (only possible when not strict). */
  public boolean fellBack() { return fellBack; }

  // ---- memory ----

  @Override
  protected void grow(float[] newMem, int[] newImem) {
    if (newMem != null) {
      k.get(k.mem); // device is authoritative: bring the live contents back before moving to a bigger buffer
      System.arraycopy(k.mem, 0, newMem, 0, k.mem.length);
      mem = newMem;
      k.mem = newMem;
      k.put(k.mem);
    }
    if (newImem != null) {
      k.get(k.imem);
      System.arraycopy(k.imem, 0, newImem, 0, k.imem.length);
      imem = newImem;
      k.imem = newImem;
      k.put(k.imem);
    }
  }

  @Override
  protected void grow16(int bank, char[] newBank) {
    // banks hold weights only, uploaded through staging with the host array kept equal: no read-back needed
    if (newBank.length < NonMovingArrays.minElements(2)) newBank = new char[NonMovingArrays.minElements(2)];
    System.arraycopy(banks[bank], 0, newBank, 0, banks[bank].length);
    bindBank(bank, newBank);
    k.put(newBank);
  }

  private void bindBank(int bank, char[] arr) {
    banks[bank] = arr;
    switch (bank) {
      case 0 -> k.h0 = arr;
      case 1 -> k.h1 = arr;
      case 2 -> k.h2 = arr;
      case 3 -> k.h3 = arr;
      case 4 -> k.h4 = arr;
      case 5 -> k.h5 = arr;
      case 6 -> k.h6 = arr;
      case 7 -> k.h7 = arr;
      default -> throw new IllegalArgumentException("no 16-bit bank " + bank);
    }
  }

  @Override
  protected void write16(int bank, int offset, char[] src) {
    for (int from = 0; from < src.length; from += k.hstage.length) {
      int n = Math.min(k.hstage.length, src.length - from);
      System.arraycopy(src, from, k.hstage, 0, n);
      System.arraycopy(src, from, banks[bank], offset + from, n); // keep the host mirror equal (regrowth copies it)
      k.put(k.hstage);
      k.o = offset + from;
      k.n0 = n;
      k.p8 = bank;
      launch(OpsKernel.OP_HSTAGE_IN, range1d(n));
    }
  }

  @Override
  protected void growFloatBank(int bank, float[] newBank) {
    // float banks hold weights only, uploaded through staging with the host array kept equal: no read-back needed
    if (newBank.length < NonMovingArrays.minElements(4)) newBank = new float[NonMovingArrays.minElements(4)];
    System.arraycopy(floatBanks[bank], 0, newBank, 0, floatBanks[bank].length);
    bindFloatBank(bank, newBank);
    floatBanks[bank] = newBank;
    k.put(newBank);
  }

  private void bindFloatBank(int bank, float[] arr) {
    switch (bank) {
      case 0 -> k.g0 = arr;
      case 1 -> k.g1 = arr;
      case 2 -> k.g2 = arr;
      case 3 -> k.g3 = arr;
      case 4 -> k.g4 = arr;
      case 5 -> k.g5 = arr;
      case 6 -> k.g6 = arr;
      case 7 -> k.g7 = arr;
      default -> throw new IllegalArgumentException("no float bank " + bank);
    }
  }

  @Override
  protected void writeFloatBank(int bank, int offset, float[] src) {
    for (int from = 0; from < src.length; from += k.stage.length) {
      int n = Math.min(k.stage.length, src.length - from);
      System.arraycopy(src, from, k.stage, 0, n);
      System.arraycopy(src, from, floatBanks[bank], offset + from, n); // keep the host mirror equal (regrowth copies it)
      k.put(k.stage);
      k.o = offset + from;
      k.n0 = n;
      k.p8 = bank;
      launch(OpsKernel.OP_GSTAGE_IN, range1d(n));
    }
  }

  @Override
  protected void grow8(byte[] newBytes) {
    // quantized weights only, uploaded through staging with the host array kept equal: no read-back needed
    System.arraycopy(bytes, 0, newBytes, 0, bytes.length);
    bytes = newBytes;
    k.q8 = newBytes;
    k.put(newBytes);
  }

  @Override
  protected void write8(int offset, byte[] src) {
    for (int from = 0; from < src.length; from += k.bstage.length) {
      int n = Math.min(k.bstage.length, src.length - from);
      System.arraycopy(src, from, k.bstage, 0, n);
      System.arraycopy(src, from, bytes, offset + from, n); // keep the host mirror equal (regrowth copies it)
      k.put(k.bstage);
      k.o = offset + from;
      k.n0 = n;
      launch(OpsKernel.OP_BSTAGE_IN, range1d(n));
    }
  }

  @Override
  protected long extraHostBytes() { return stagingBytes() + 4L * emptyFloatBank.length; }

  private long stagingBytes() { return 4L * k.stage.length + 4L * k.istage.length + 2L * k.hstage.length + k.bstage.length; }

  /**
   * Device buffers mirror the bound arrays one to one (Aparapi allocates one buffer per array field; a float bank not
   * yet made is the shared empty one, on the device once per field).
   */
  @Override
  protected long deviceBytes() {
    long b16 = 0;
    for (char[] b : banks) b16 += 2L * b.length;
    for (float[] f : floatBanks) b16 += 4L * (f.length > 0 ? f.length : emptyFloatBank.length);
    return 4L * k.mem.length + 4L * k.imem.length + b16 + k.q8.length + stagingBytes();
  }

  @Override
  protected void zero(Tensor t) {
    if (t.size() == 0) return;
    k.o = t.offset();
    k.n0 = t.size();
    launch(OpsKernel.OP_ZERO, runs(t.size(), zeroRun));
  }

  @Override
  protected void zero(IntTensor t) {
    if (t.size() == 0) return;
    k.ia = t.offset();
    k.n0 = t.size();
    launch(OpsKernel.OP_IZERO, runs(t.size(), zeroRun));
  }

  @Override
  public void write(Tensor dst, float[] src) {
    checkOpen();
    check(dst, src.length, "write destination");
    for (int from = 0; from < src.length; from += k.stage.length) {
      int n = Math.min(k.stage.length, src.length - from);
      System.arraycopy(src, from, k.stage, 0, n);
      k.put(k.stage);
      k.o = dst.offset() + from;
      k.n0 = n;
      launch(OpsKernel.OP_STAGE_IN, range1d(n));
    }
  }

  @Override
  public void write(IntTensor dst, int[] src) {
    checkOpen();
    check(dst, src.length, "write destination");
    for (int from = 0; from < src.length; from += k.istage.length) {
      int n = Math.min(k.istage.length, src.length - from);
      System.arraycopy(src, from, k.istage, 0, n);
      k.put(k.istage);
      k.ia = dst.offset() + from;
      k.n0 = n;
      launch(OpsKernel.OP_ISTAGE_IN, range1d(n));
    }
  }

  @Override
  public float[] read(Tensor src) {
    checkOpen();
    float[] out = new float[src.size()];
    for (int from = 0; from < out.length; from += k.stage.length) {
      int n = Math.min(k.stage.length, out.length - from);
      k.a = src.offset() + from;
      k.n0 = n;
      launch(OpsKernel.OP_STAGE_OUT, range1d(n));
      k.get(k.stage);
      System.arraycopy(k.stage, 0, out, from, n);
    }
    return out;
  }

  @Override
  public int[] read(IntTensor src) {
    checkOpen();
    int[] out = new int[src.size()];
    for (int from = 0; from < out.length; from += k.istage.length) {
      int n = Math.min(k.istage.length, out.length - from);
      k.ia = src.offset() + from;
      k.n0 = n;
      launch(OpsKernel.OP_ISTAGE_OUT, range1d(n));
      k.get(k.istage);
      System.arraycopy(k.istage, 0, out, from, n);
    }
    return out;
  }

  // ---- ops ----

  @Override
  protected void matmulImpl(Tensor out, Tensor a, Tensor b, Tensor bias, int m, int n, int kk, boolean transB) {
    k.o = out.offset();
    k.a = a.offset();
    k.b = b.offset();
    k.c = bias == null ? -1 : bias.offset();
    k.n0 = m;
    k.n1 = n;
    k.n2 = kk;
    k.p0 = transB ? 1 : 0;
    if (!transB) {
      // b is [k, n]: the register-blocked kernel without local memory
      int rowBlocks = (m + OpsKernel.ROWS - 1) / OpsKernel.ROWS, colBlocks = (n + OpsKernel.COLS - 1) / OpsKernel.COLS;
      launch(OpsKernel.OP_MATMUL_KN, device.createRange2D(roundUp(colBlocks, 16), rowBlocks, 16, 1));
      return;
    }
    launchTransposed(OpsKernel.OP_MATMUL_NK, OpsKernel.OP_MATMUL, OpsKernel.OP_MATMUL_BLOCKED, m, n);
  }

  /** {@link #launchTransposed(int, int, int, int)} with a register-blocked GPU kernel as well, chosen by {@link #useBlockedKernel()}. */
  private void launchTransposed(int dotOp, int tiledOp, int blockedOp, int m, int n) {
    if (useDotKernel() || !useBlockedKernel()) {
      launchTransposed(dotOp, tiledOp, m, n);
      return;
    }
    int t = OpsKernel.TILE;
    launch(blockedOp, device.createRange2D((n + OpsKernel.BLK - 1) / OpsKernel.BLK * t, (m + OpsKernel.BLK - 1) / OpsKernel.BLK * t, t, t));
  }

  /**
   * A product with b stored [n, k]: the CPU kernel (dot products of contiguous rows, one column x NK_ROWS rows per
   * work-item) or the GPU kernel (local-memory TILE x TILE tiles).
   */
  private void launchTransposed(int dotOp, int tiledOp, int m, int n) {
    if (useDotKernel()) {
      int rowBlocks = (m + OpsKernel.NK_ROWS - 1) / OpsKernel.NK_ROWS;
      launch(dotOp, device.createRange2D(roundUp(n, 16), rowBlocks, 16, 1));
      return;
    }
    int t = OpsKernel.TILE;
    launch(tiledOp, device.createRange2D(roundUp(n, t), roundUp(m, t), t, t));
  }

  @Override
  protected void addImpl(Tensor out, Tensor a, Tensor b, int n) {
    binary(OpsKernel.OP_ADD, out, a, b, n);
  }

  @Override
  protected void mulImpl(Tensor out, Tensor a, Tensor b, int n) {
    binary(OpsKernel.OP_MUL, out, a, b, n);
  }

  private void binary(int op, Tensor out, Tensor a, Tensor b, int n) {
    k.o = out.offset();
    k.a = a.offset();
    k.b = b.offset();
    k.n0 = n;
    launch(op, runs(n, elementRun));
  }

  @Override
  protected void scaleImpl(Tensor out, Tensor x, float s, int n) {
    k.o = out.offset();
    k.a = x.offset();
    k.f0 = s;
    k.n0 = n;
    launch(OpsKernel.OP_SCALE, runs(n, elementRun));
  }

  @Override
  protected void copyImpl(Tensor out, Tensor x, int n) {
    k.o = out.offset();
    k.a = x.offset();
    k.n0 = n;
    launch(OpsKernel.OP_COPY, runs(n, elementRun));
  }

  @Override
  protected void activationImpl(Activation act, Tensor out, Tensor x, int n) {
    k.o = out.offset();
    k.a = x.offset();
    k.p0 = act.code();
    k.n0 = n;
    launch(OpsKernel.OP_ACT, runs(n, elementRun));
  }

  @Override
  protected void layerNormImpl(Tensor out, Tensor x, Tensor gamma, Tensor beta, int rows, int dim, float eps) {
    k.o = out.offset();
    k.a = x.offset();
    k.b = gamma.offset();
    k.c = beta == null ? -1 : beta.offset();
    k.n0 = rows;
    k.n1 = dim;
    k.f0 = eps;
    k.p0 = 0;
    if (useRowNorms()) launch(OpsKernel.OP_NORM_ROWS, range1d(rows));
    else launchRows(OpsKernel.OP_LAYERNORM, rows);
  }

  @Override
  protected void rmsNormImpl(Tensor out, Tensor x, Tensor weight, int rows, int dim, float eps) {
    k.o = out.offset();
    k.a = x.offset();
    k.b = weight.offset();
    k.n0 = rows;
    k.n1 = dim;
    k.f0 = eps;
    k.p0 = 1;
    if (useRowNorms()) launch(OpsKernel.OP_NORM_ROWS, range1d(rows));
    else launchRows(OpsKernel.OP_RMSNORM, rows);
  }

  @Override
  protected void softmaxImpl(Tensor out, Tensor x, Tensor mask, boolean maskPerRow, int rows, int cols, float temperature, boolean log) {
    k.o = out.offset();
    k.a = x.offset();
    k.c = mask == null ? -1 : mask.offset();
    k.p1 = maskPerRow ? 1 : 0;
    k.p0 = log ? 1 : 0;
    k.n0 = rows;
    k.n1 = cols;
    k.f0 = temperature;
    if (useRowSoftmax()) launch(OpsKernel.OP_SOFTMAX_ROWS, range1d(rows));
    else launchRows(OpsKernel.OP_SOFTMAX, rows);
  }

  @Override
  protected void l2NormalizeImpl(Tensor out, Tensor x, int rows, int dim) {
    k.o = out.offset();
    k.a = x.offset();
    k.n0 = rows;
    k.n1 = dim;
    k.p0 = 2;
    if (useRowNorms()) launch(OpsKernel.OP_NORM_ROWS, range1d(rows));
    else launchRows(OpsKernel.OP_L2NORM, rows);
  }

  @Override
  protected void attentionImpl(Tensor out, Tensor q, Tensor kT, Tensor v, IntTensor keyMask, IntTensor positions, Tensor scores, Attention sp) {
    k.ib = positions == null ? -1 : positions.offset();
    k.p8 = sp.kvRows();
    k.o = out.offset();
    k.a = q.offset();
    k.b = kT.offset();
    k.c = v.offset();
    k.s = scores.offset();
    k.ia = keyMask == null ? -1 : keyMask.offset();
    k.n0 = sp.batch();
    k.n1 = sp.qLen();
    k.n2 = sp.kLen();
    k.n3 = sp.headDim();
    k.p0 = sp.heads();
    k.p1 = sp.kvHeads();
    k.p2 = sp.qStride();
    k.p3 = sp.kvStride();
    k.p4 = sp.outStride();
    k.p5 = sp.causal() ? 1 : 0;
    k.p6 = sp.posOffset();
    k.p7 = sp.window();
    k.f0 = sp.scale();
    int rows = sp.batch() * sp.heads() * sp.qLen();
    if (useRowAttention()) {
      launch(OpsKernel.OP_ATTN_ROWS, range1d(rows));
      return;
    }
    if (useFusedAttention(sp)) {
      int queries = sp.kLen() <= OpsKernel.FA_SCORES / 8 ? 8 : 4; // per work-group: the scores block holds 1,024 floats
      k.p9 = queries;
      launchRows(OpsKernel.OP_ATTN_FUSED, sp.batch() * sp.heads() * ((sp.qLen() + queries - 1) / queries));
      return;
    }
    launch(OpsKernel.OP_ATTN_SCORES, range1d(rows * sp.kLen()));
    launchRows(OpsKernel.OP_ATTN_SOFTMAX, rows);
    launch(OpsKernel.OP_ATTN_VALUES, range1d(rows * sp.headDim()));
  }

  @Override
  protected void cacheWriteImpl(Tensor cache, Tensor src, IntTensor positions, int batch, int qLen, int width, int srcStride, int cacheRows) {
    for (int p : read(positions.slice(0, batch))) {
      if (p < 0 || p + qLen > cacheRows) {
        throw new IllegalArgumentException("cache write at position " + p + " of " + qLen + " rows outside a cache of " + cacheRows + " rows");
      }
    }
    k.o = cache.offset();
    k.a = src.offset();
    k.ia = positions.offset();
    k.n0 = batch;
    k.n1 = qLen;
    k.n2 = width;
    k.p0 = srcStride;
    k.p1 = cacheRows;
    launch(OpsKernel.OP_CACHE_WRITE, range1d(batch * qLen * width));
  }

  @Override
  protected void ropeImpl(Tensor x, int rows, int heads, int headDim, int rowStride, IntTensor positions, Tensor invFreq) {
    k.a = x.offset();
    k.b = invFreq.offset();
    k.ia = positions.offset();
    k.n0 = rows;
    k.n3 = headDim;
    k.p0 = rowStride;
    k.p1 = heads;
    launch(OpsKernel.OP_ROPE, range1d(rows * heads * (headDim / 2)));
  }

  @Override
  protected void linear16Impl(Tensor out, Tensor x, HalfTensor w, Tensor bias, int rows, int n, int kk) {
    k.o = out.offset();
    k.a = x.offset();
    k.b = w.offset();
    k.c = bias == null ? -1 : bias.offset();
    k.n0 = rows;
    k.n1 = n;
    k.n2 = kk;
    k.p8 = w.bank();
    k.p9 = w.dtype().kernelCode();
    launchTransposed(OpsKernel.OP_LINEAR16_NK, OpsKernel.OP_LINEAR16, OpsKernel.OP_LINEAR16_BLOCKED, rows, n);
  }

  /** Quantized weights in the plain layout ({@code [n][rowBytes]} bytes, {@code [n][groups]} scales), dequantized in the kernel. */
  @Override
  protected void linearQuantizedImpl(Tensor out, Tensor x, LinearWeight w, Tensor bias, int rows) {
    checkPlainQuantized(w);
    LinearWeight.Quantized q = w.quantized();
    k.o = out.offset();
    k.a = x.offset();
    k.b = q.values().offset();
    k.s = q.scales().offset();
    k.c = bias == null ? -1 : bias.offset();
    k.n0 = rows;
    k.n1 = w.out();
    k.n2 = w.in();
    k.p0 = q.scheme() == Quantization.INT4 ? 1 : 0;
    k.p1 = q.group();
    k.p2 = q.rowBytes(w.in());
    k.p3 = q.groups(w.in());
    launchTransposed(OpsKernel.OP_LINEARQ_NK, OpsKernel.OP_LINEARQ, rows, w.out());
  }

  @Override
  protected void gather16Impl(Tensor out, HalfTensor table, IntTensor ids, int n, int vocab, int dim) {
    k.o = out.offset();
    k.a = table.offset();
    k.ia = ids.offset();
    k.n0 = n;
    k.n1 = vocab;
    k.n2 = dim;
    k.p8 = table.bank();
    k.p9 = table.dtype().kernelCode();
    launch(OpsKernel.OP_GATHER16, range1d(n * dim));
  }

  @Override
  protected void gatherImpl(Tensor out, Tensor table, IntTensor ids, int n, int vocab, int dim, boolean accumulate) {
    k.o = out.offset();
    k.a = table.offset();
    k.ia = ids.offset();
    k.n0 = n;
    k.n1 = vocab;
    k.n2 = dim;
    k.p0 = accumulate ? 1 : 0;
    launch(OpsKernel.OP_GATHER, range1d(n * dim));
  }

  @Override
  protected void meanPoolImpl(Tensor out, Tensor x, IntTensor mask, int batch, int seq, int dim) {
    k.o = out.offset();
    k.a = x.offset();
    k.ia = mask.offset();
    k.n0 = batch;
    k.n1 = seq;
    k.n2 = dim;
    launch(OpsKernel.OP_MEANPOOL, range1d(batch * dim));
  }

  @Override
  protected void topKImpl(Tensor vals, IntTensor ids, Tensor x, int rows, int cols, int kk) {
    k.o = vals.offset();
    k.ib = ids.offset();
    k.a = x.offset();
    k.n0 = rows;
    k.n1 = cols;
    k.p0 = kk;
    if (useRowSoftmax()) launch(OpsKernel.OP_TOPK_ROWS, range1d(rows));
    else launchRows(OpsKernel.OP_TOPK, rows);
  }

  // ---- launching ----

  private Range range1d(int n) { return device.createRange(roundUp(Math.max(n, 1), LOCAL_1D), LOCAL_1D); }

  /**
   * Element-wise ops and zero fills: one work-item per run of {@code per} consecutive elements, told to the kernel in
   * n1. CPU devices take long runs (a work-item costs a loop iteration there, and a run is what gets vectorised;
   * measured on PoCL: GELU over 1.4M floats 20 ms one element per work-item, 0.9-1.3 ms with runs of 64); GPUs one
   * element per work-item.
   */
  private Range runs(int n, int defaultPer) {
    int per = config.elementRun() > 0 ? config.elementRun() : defaultPer;
    k.n1 = per;
    return range1d((n + per - 1) / per);
  }

  private void launchRows(int op, int rows) {
    launch(op, device.createRange(Math.max(rows, 1) * OpsKernel.WG, OpsKernel.WG));
  }

  /** -Dsparkinfer.kernels.profile=true: wall time per op, printed when the Ops closes (for speed work). */
  private static final boolean PROFILE = Boolean.getBoolean("sparkinfer.kernels.profile");
  private final java.util.Map<String, long[]> profile = new java.util.TreeMap<>();

  /** Launches since this engine opened, in all and per op code (read by benchmarks: launches per model forward). */
  private long launches;
  private final long[] launchesByOp = new long[128];

  /** Kernel launches since this engine opened (each one synchronous: Aparapi waits for the kernel). */
  public long launches() { return launches; }

  /** Launches per op since this engine opened, by op name, the ops launched at least once. */
  public java.util.Map<String, Long> launchesByOp() {
    java.util.Map<String, Long> m = new java.util.TreeMap<>();
    for (int op = 0; op < launchesByOp.length; op++) if (launchesByOp[op] > 0) m.put(opName(op), launchesByOp[op]);
    return m;
  }

  /**
   * What one launch costs on this device: wall times, in microseconds and sorted, of {@code count} launches of a zero
   * fill of one float (a kernel with nothing to do), after 100 untimed ones. Each is a whole launch as the ops make it:
   * Aparapi's setting of the kernel's arguments, the enqueue, the wait for the kernel, the fallback check.
   */
  public double[] launchMicros(int count) {
    checkOpen();
    double[] us = new double[count];
    try (Scope s = scope()) {
      Tensor t = alloc(1);
      for (int i = 0; i < 100; i++) zero(t);
      for (int i = 0; i < count; i++) {
        long t0 = System.nanoTime();
        zero(t);
        us[i] = (System.nanoTime() - t0) / 1e3;
      }
    }
    java.util.Arrays.sort(us);
    return us;
  }

  private void launch(int op, Range range) {
    checkOpen();
    if (!barriersSafe && BARRIER_OPS.contains(op)) {
      throw new IllegalStateException("kernel op " + opName(op) + " uses work-group barriers, which PoCL's default work-group "
          + "method (loopvec: its loop vectorizer) miscompiles in this kernel; run with POCL_WORK_GROUP_METHOD=loops in the environment, or use "
          + "the CPU kernels (leave -Dsparkinfer.*.kernel at auto) on " + info);
    }
    k.op = op;
    launches++;
    if (op < launchesByOp.length) launchesByOp[op]++;
    long t0 = PROFILE ? System.nanoTime() : 0;
    try {
      k.execute(range);
      if (PROFILE) {
        long[] acc = profile.computeIfAbsent(opName(op), x -> new long[2]);
        acc[0] += System.nanoTime() - t0;
        acc[1]++;
      }
    } catch (RuntimeException | AssertionError e) {
      throw new KernelFallbackException("kernel op " + opName(op) + " could not run on " + info + ": "
          + AparapiLog.lastWarning() + " (" + e + ")", e);
    }
    if (!k.isRunningCL()) {
      String msg = "kernel op " + opName(op) + " did not run on " + info + " (Aparapi fell back to "
          + k.getExecutionMode() + "): " + AparapiLog.lastWarning();
      if (strict) throw new KernelFallbackException(msg, null);
      if (!fellBack) {
        System.getLogger("dev.sparkinfer.kernels").log(System.Logger.Level.WARNING, msg);
        firstFallback = opName(op);
      }
      fellBack = true;
    }
  }

  static String opName(int op) {
    for (var f : OpsKernel.class.getDeclaredFields()) {
      if (f.getName().startsWith("OP_") && f.getType() == int.class) {
        try {
          if (f.getInt(null) == op) return f.getName().substring(3).toLowerCase(java.util.Locale.ROOT);
        } catch (IllegalAccessException ignored) {
          // fall through to the number
        }
      }
    }
    return "#" + op;
  }

  private static int roundUp(int n, int m) { return (n + m - 1) / m * m; }

  @Override
  public void close() {
    if (PROFILE) {
      StringBuilder b = new StringBuilder("kernel profile on " + info + ":\n");
      profile.forEach((name, acc) -> b.append(String.format("  %-14s %8d launches %10.1f ms%n", name, acc[1], acc[0] / 1e6)));
      System.err.print(b);
    }
    super.close();
    k.dispose();
  }
}
