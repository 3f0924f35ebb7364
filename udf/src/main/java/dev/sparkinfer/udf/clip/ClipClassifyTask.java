package dev.sparkinfer.udf.clip;

import dev.sparkinfer.models.image.ImageDecoder;
import dev.sparkinfer.schemas.ClipClassesTable;
import dev.sparkinfer.schemas.ImageCorpusTable;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.arrow.ArrowRows;
import dev.sparkinfer.udf.image.ImageBatch;
import dev.sparkinfer.udf.model.ClipCache;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Image batch in, zero-shot classes out ({@link ClipClassesTable}): the label prompts ("a photo of a {}.") are embedded
 * once per executor ({@link ClipCache#promptEmbeddings}); each image's probabilities are
 * softmax(logit_scale · cos(image, prompt) / T) over the labels, computed in double; the top k are kept, and every
 * probability with {@code --soft-labels}. The caption column is not used.
 */
public final class ClipClassifyTask implements BatchTask {
  private final ClipCache.Clip clip;
  private final ClipTaskConfig config;
  private final ImageDecoder decoder;
  private final ClipPass pass;
  private final float[][] prompts;
  private final byte[][] labelBytes;

  public ClipClassifyTask(ClipCache.Clip clip, ClipTaskConfig config) {
    this.clip = clip;
    this.config = config;
    this.decoder = new ImageDecoder(config.maxPixels());
    this.pass = new ClipPass(clip);
    this.prompts = ClipCache.promptEmbeddings(clip, config.prompts());
    List<String> labels = config.labels();
    this.labelBytes = new byte[labels.size()][];
    for (int i = 0; i < labelBytes.length; i++) labelBytes[i] = labels.get(i).getBytes(StandardCharsets.UTF_8);
  }

  @Override public Schema inputSchema() { return ImageCorpusTable.arrowSchema(); }
  @Override public Schema outputSchema() { return ClipClassesTable.arrowSchema(config.softLabels()); }
  @Override public String modelName() { return clip.name(); }
  @Override public String deviceDescription() { return clip.runtime().device().toString(); }

  /** A batch's ids and preprocessed images (copied out of the input root). */
  record Prepared(byte[][] ids, ImageBatch images, boolean[] ok) {}

  @Override
  public boolean pipelined() { return true; }

  @Override
  public void run(VectorSchemaRoot in, VectorSchemaRoot out, RowRejects rejects) { complete(prepare(in, rejects), out, rejects); }

  /** Decodes and preprocesses the images on the executor's cores. */
  @Override
  public Prepared prepare(VectorSchemaRoot in, RowRejects rejects) {
    boolean[] wanted = new boolean[in.getRowCount()];
    Arrays.fill(wanted, true);
    ImageBatch images = ImageBatch.of((VarBinaryVector) in.getVector(ImageCorpusTable.IMAGE), wanted, decoder, clip.preprocessor());
    return new Prepared(ClipPass.ids(in), images, images.reject(rejects));
  }

  /** The vision tower on the device, then the probabilities. */
  @Override
  public void complete(Object prepared, VectorSchemaRoot out, RowRejects rejects) {
    Prepared p = (Prepared) prepared;
    int n = p.ids().length;
    ImageBatch images = p.images();
    ClipPass.Result r = pass.run(images.pixels, null, p.ok(), rejects);

    VarCharVector outIds = (VarCharVector) out.getVector(ClipClassesTable.ID);
    byte[] modelName = clip.name().getBytes(StandardCharsets.UTF_8);
    int k = Math.min(config.topK(), prompts.length);
    for (int i = 0; i < n; i++) {
      outIds.setSafe(i, p.ids()[i]);
      if (r.image()[i] == null) {
        for (FieldVector v : out.getFieldVectors()) if (v != outIds) ArrowRows.set(v, i, null);
        continue;
      }
      double[] probs = probabilities(r.image()[i], prompts, clip.model().logitScale(), config.temperature());
      int[] top = topK(probs, k);
      Float[] topP = new Float[k];
      for (int j = 0; j < k; j++) topP[j] = (float) probs[top[j]];
      ((VarCharVector) out.getVector(ClipClassesTable.LABEL)).setSafe(i, labelBytes[top[0]]);
      ((IntVector) out.getVector(ClipClassesTable.LABEL_INDEX)).setSafe(i, top[0]);
      ArrowRows.set(out.getVector(ClipClassesTable.TOP_INDICES), i, top);
      ArrowRows.set(out.getVector(ClipClassesTable.TOP_PROBS), i, topP);
      if (config.softLabels()) {
        Float[] all = new Float[probs.length];
        for (int j = 0; j < probs.length; j++) all[j] = (float) probs[j];
        ArrowRows.set(out.getVector(ClipClassesTable.PROBS), i, all);
      }
      ArrowRows.set(out.getVector(ClipClassesTable.IMAGE_WIDTH), i, images.width[i]);
      ArrowRows.set(out.getVector(ClipClassesTable.IMAGE_HEIGHT), i, images.height[i]);
      ((VarCharVector) out.getVector(ClipClassesTable.MODEL)).setSafe(i, modelName);
    }
    out.setRowCount(n);
  }

  /** softmax(scale · cos / T) over the prompts, in double (max subtracted). */
  static double[] probabilities(float[] image, float[][] prompts, float logitScale, float temperature) {
    double[] z = new double[prompts.length];
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < z.length; j++) {
      z[j] = (double) logitScale * ClipScoreTask.dot(image, prompts[j]) / temperature;
      max = Math.max(max, z[j]);
    }
    double sum = 0;
    for (int j = 0; j < z.length; j++) sum += z[j] = Math.exp(z[j] - max);
    for (int j = 0; j < z.length; j++) z[j] /= sum;
    return z;
  }

  /** Indices of the k largest, largest first; ties by the lower index. */
  static int[] topK(double[] p, int k) {
    Integer[] order = new Integer[p.length];
    for (int i = 0; i < order.length; i++) order[i] = i;
    Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
    int[] top = new int[k];
    for (int i = 0; i < k; i++) top[i] = order[i];
    return top;
  }
}
