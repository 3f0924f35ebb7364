package dev.sparkinfer.models.bert;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The reference: ONNX Runtime running a BERT ONNX export, then sentence-transformers pooling (masked mean, L2) in
 * double precision. Test and benchmark code only; the engine never uses ONNX Runtime.
 */
public final class OnnxRuntimeReference implements AutoCloseable {
  private final OrtEnvironment env = OrtEnvironment.getEnvironment();
  private final OrtSession session;

  public OnnxRuntimeReference(byte[] onnx, int threads) throws OrtException {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    if (threads > 0) o.setIntraOpNumThreads(threads);
    session = env.createSession(onnx, o);
  }

  /** Last hidden state [batch][seq][hidden] for padded ids. */
  public float[][][] lastHiddenState(long[] ids, long[] mask, long[] types, int batch, int seq) throws OrtException {
    Map<String, OnnxTensor> in = new HashMap<>();
    long[] shape = {batch, seq};
    try {
      for (String name : session.getInputNames()) {
        long[] data = name.contains("mask") ? mask : name.contains("type") ? types : ids;
        in.put(name, OnnxTensor.createTensor(env, LongBuffer.wrap(data), shape));
      }
      try (OrtSession.Result r = session.run(in)) {
        return (float[][][]) r.get(0).getValue();
      }
    } finally {
      in.values().forEach(OnnxTensor::close);
    }
  }

  /** Sentence embeddings of a padded batch: masked mean of the last hidden state, L2-normalised. */
  public float[][] embed(List<int[]> encodings) throws OrtException {
    int batch = encodings.size(), seq = 0;
    for (int[] e : encodings) seq = Math.max(seq, e.length);
    long[] ids = new long[batch * seq], mask = new long[batch * seq], types = new long[batch * seq];
    for (int b = 0; b < batch; b++) {
      int[] e = encodings.get(b);
      for (int s = 0; s < e.length; s++) {
        ids[b * seq + s] = e[s];
        mask[b * seq + s] = 1;
      }
    }
    float[][][] h = lastHiddenState(ids, mask, types, batch, seq);
    float[][] out = new float[batch][];
    for (int b = 0; b < batch; b++) {
      int len = encodings.get(b).length, dim = h[b][0].length;
      double[] sum = new double[dim];
      for (int s = 0; s < len; s++) for (int d = 0; d < dim; d++) sum[d] += h[b][s][d];
      double norm = 0;
      for (int d = 0; d < dim; d++) {
        sum[d] /= len;
        norm += sum[d] * sum[d];
      }
      norm = Math.max(Math.sqrt(norm), 1e-12);
      out[b] = new float[dim];
      for (int d = 0; d < dim; d++) out[b][d] = (float) (sum[d] / norm);
    }
    return out;
  }

  @Override
  public void close() throws OrtException { session.close(); }
}
