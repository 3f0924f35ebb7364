package dev.sparkinfer.kernels;

import java.io.Serializable;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Every engine tunable in one place, serializable so that it travels to executors with the job (instead of system
 * properties read on each machine). Defaults come from the {@code sparkinfer.*} system properties of the JVM that makes
 * the config (the driver), so the flags users know keep working there.
 *
 * @param matmulKernel    {@code auto}, {@code dot} (CPU: contiguous dot products), {@code blocked} (GPU: local-memory
 *                        tiles, a 4 x 4 register block per work-item; auto's choice on GPUs) or {@code tiled} (GPU: the
 *                        older kernel, one output per work-item, kept to compare)
 * @param attentionKernel {@code auto}, {@code rows} (CPU, fused per row), {@code fused} (GPU: one launch, scores in local
 *                        memory, where the keys are at most 256 and the head at most 128; else split; auto's choice on GPUs) or
 *                        {@code split} (GPU: scores, softmax, values in three launches)
 * @param normKernel      {@code auto}, {@code rows} or {@code groups} (work-group reductions)
 * @param softmaxKernel   {@code auto}, {@code rows} or {@code groups}, also for top-k
 * @param linearLayout    {@code auto}, {@code in-major} or {@code out-major}: how float Linear weights are stored
 * @param elementRun      elements per work-item of element-wise ops; 0: the device's default (64 on CPUs, 1 on GPUs)
 * @param budgetBytes     most bytes the engine may hold on its device; 0: 90 % of the device's global memory
 *                        (the Java engine: 90 % of the JVM's max heap)
 * @param openclDevice    substring of the OpenCL device name to pin, {@code #N} for the N-th GPU (what Spark's GPU
 *                        address N becomes on an executor), or empty
 * @param strict          a kernel that would fall back to Java threads fails instead (--device opencl implies it)
 * @param cpuThreads      threads of the CPU engine ({@code --device cpu}); 0: the JVM's available processors. The jobs
 *                        set it to the cores Spark gives an executor, so the engine never uses more than its share
 * @param quantize        Linear weights quantized at load ({@code sparkinfer.quantize=none|int8|int4}, {@code --quantize};
 *                        see {@link Quantization}); embeddings and norms keep their stored precision
 * @param prune           Linear weights magnitude-pruned at load, before quantizing ({@code sparkinfer.prune=none|unstructured:F|2:4},
 *                        {@code --prune}; see {@link Pruning})
 */
public record EngineConfig(String matmulKernel, String attentionKernel, String normKernel, String softmaxKernel,
                           String linearLayout, int elementRun, long budgetBytes,
                           String openclDevice, boolean strict, int cpuThreads,
                           Quantization quantize, Pruning prune) implements Serializable {
  public EngineConfig {
    check("matmul", matmulKernel, "dot", "tiled", "blocked");
    check("attention", attentionKernel, "rows", "split", "fused");
    check("norm", normKernel, "rows", "groups");
    check("softmax", softmaxKernel, "rows", "groups");
    if (!linearLayout.equals("auto") && !linearLayout.equals("in-major") && !linearLayout.equals("out-major")) {
      throw new IllegalArgumentException("sparkinfer.linear.layout must be auto, in-major or out-major, got '" + linearLayout + "'");
    }
    if (elementRun < 0) throw new IllegalArgumentException("sparkinfer.elementwise.run must be >= 0, got " + elementRun);
    if (budgetBytes < 0) throw new IllegalArgumentException("sparkinfer.device.budget must be >= 0 bytes, got " + budgetBytes);
    openclDevice = openclDevice == null ? "" : openclDevice;
    if (cpuThreads < 0) throw new IllegalArgumentException("sparkinfer.cpu.threads must be >= 0 (0: all processors), got " + cpuThreads);
    quantize = quantize == null ? Quantization.NONE : quantize;
    prune = prune == null ? Pruning.NONE : prune;
  }

  /** Without pruning (the config of before pruning existed). */
  public EngineConfig(String matmulKernel, String attentionKernel, String normKernel, String softmaxKernel, String linearLayout,
                      int elementRun, long budgetBytes, String openclDevice, boolean strict, int cpuThreads, Quantization quantize) {
    this(matmulKernel, attentionKernel, normKernel, softmaxKernel, linearLayout, elementRun, budgetBytes, openclDevice, strict,
        cpuThreads, quantize, Pruning.NONE);
  }

  /** The config of before quantization existed: weights at their stored precision. */
  public EngineConfig(String matmulKernel, String attentionKernel, String normKernel, String softmaxKernel, String linearLayout,
                      int elementRun, long budgetBytes, String openclDevice, boolean strict, int cpuThreads) {
    this(matmulKernel, attentionKernel, normKernel, softmaxKernel, linearLayout, elementRun, budgetBytes, openclDevice, strict,
        cpuThreads, Quantization.NONE, Pruning.NONE);
  }

  /** The CPU engine's threads: the configured number, else the JVM's available processors. */
  public int cpuThreadsOrAll() { return cpuThreads > 0 ? cpuThreads : Runtime.getRuntime().availableProcessors(); }

  private static void check(String what, String value, String... kinds) {
    if (!value.equals("auto") && !java.util.Arrays.asList(kinds).contains(value)) {
      String last = kinds[kinds.length - 1];
      String others = String.join(", ", java.util.Arrays.asList(kinds).subList(0, kinds.length - 1));
      throw new IllegalArgumentException("sparkinfer." + what + ".kernel must be auto, " + others + " or " + last + ", got '" + value + "'");
    }
  }

  /** The defaults: every choice automatic, 90 % of the device's memory. */
  public static EngineConfig defaults() { return from(new Properties()); }

  /** From this JVM's system properties ({@code -Dsparkinfer.matmul.kernel=dot} ...), defaults where unset. */
  public static EngineConfig fromSystemProperties() { return from(System.getProperties()); }

  static EngineConfig from(Map<Object, Object> p) {
    return new EngineConfig(get(p, "sparkinfer.matmul.kernel", "auto"), get(p, "sparkinfer.attention.kernel", "auto"),
        get(p, "sparkinfer.norm.kernel", "auto"), get(p, "sparkinfer.softmax.kernel", "auto"),
        get(p, "sparkinfer.linear.layout", "auto"), Integer.parseInt(get(p, "sparkinfer.elementwise.run", "0")),
        parseBytes(get(p, "sparkinfer.device.budget", "0")),
        get(p, Devices.DEVICE_PROPERTY, ""), Boolean.parseBoolean(get(p, "sparkinfer.strict", "false")),
        parseThreads(get(p, "sparkinfer.cpu.threads", "0")), Quantization.parse(get(p, "sparkinfer.quantize", "none")),
        Pruning.parse(get(p, "sparkinfer.prune", "none")));
  }

  private static int parseThreads(String s) {
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("sparkinfer.cpu.threads must be a whole number of threads, got '" + s + "'");
    }
  }

  private static String get(Map<Object, Object> p, String key, String dflt) {
    Object v = p.get(key);
    return v == null || v.toString().isBlank() ? dflt : v.toString().trim();
  }

  /** "8g", "512m", "1048576": bytes. */
  static long parseBytes(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    long mult = 1;
    if (t.endsWith("k")) mult = 1L << 10;
    else if (t.endsWith("m")) mult = 1L << 20;
    else if (t.endsWith("g")) mult = 1L << 30;
    if (mult != 1) t = t.substring(0, t.length() - 1);
    try {
      return Math.multiplyExact(Long.parseLong(t), mult);
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("sparkinfer.device.budget must be bytes like 8g, 512m or 1048576, got '" + s + "'");
    }
  }

  public EngineConfig withBudgetBytes(long bytes) {
    return new EngineConfig(matmulKernel, attentionKernel, normKernel, softmaxKernel, linearLayout, elementRun, bytes,
        openclDevice, strict, cpuThreads, quantize, prune);
  }

  public EngineConfig withStrict(boolean s) {
    return new EngineConfig(matmulKernel, attentionKernel, normKernel, softmaxKernel, linearLayout, elementRun, budgetBytes,
        openclDevice, s, cpuThreads, quantize, prune);
  }

  public EngineConfig withCpuThreads(int threads) {
    return new EngineConfig(matmulKernel, attentionKernel, normKernel, softmaxKernel, linearLayout, elementRun, budgetBytes,
        openclDevice, strict, threads, quantize, prune);
  }

  public EngineConfig withLinearLayout(String layout) {
    return new EngineConfig(matmulKernel, attentionKernel, normKernel, softmaxKernel, layout, elementRun, budgetBytes,
        openclDevice, strict, cpuThreads, quantize, prune);
  }

  public EngineConfig withQuantize(Quantization q) {
    return new EngineConfig(matmulKernel, attentionKernel, normKernel, softmaxKernel, linearLayout, elementRun, budgetBytes,
        openclDevice, strict, cpuThreads, q, prune);
  }

  /** The settings of the engine itself, without those of each model load (quantize, prune): what one engine is opened with. */
  public EngineConfig engineOnly() { return withQuantize(Quantization.NONE).withPrune(Pruning.NONE); }

  public EngineConfig withPrune(Pruning p) {
    return new EngineConfig(matmulKernel, attentionKernel, normKernel, softmaxKernel, linearLayout, elementRun, budgetBytes,
        openclDevice, strict, cpuThreads, quantize, p);
  }

  public EngineConfig withMatmulKernel(String kernel) {
    return new EngineConfig(kernel, attentionKernel, normKernel, softmaxKernel, linearLayout, elementRun, budgetBytes,
        openclDevice, strict, cpuThreads, quantize, prune);
  }

  public EngineConfig withOpenclDevice(String device) {
    return new EngineConfig(matmulKernel, attentionKernel, normKernel, softmaxKernel, linearLayout, elementRun, budgetBytes,
        device, strict, cpuThreads, quantize, prune);
  }

  /**
   * What a model loaded with this config carries in its recorded name (the model column, the summary), in the order
   * applied: {@code +prune2:4}, {@code +int8}, {@code +prune0.5+int4}; empty when weights are as stored.
   */
  public String weightsSuffix() {
    return (prune.isNone() ? "" : "+" + prune.label()) + (quantize == Quantization.NONE ? "" : "+" + quantize);
  }
}
