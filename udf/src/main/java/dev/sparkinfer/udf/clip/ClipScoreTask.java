package dev.sparkinfer.udf.clip;

import dev.sparkinfer.kernels.DType;
import dev.sparkinfer.models.image.ImageDecoder;
import dev.sparkinfer.schemas.ClipScoresTable;
import dev.sparkinfer.schemas.ClipScoresTable.EmbeddingDtype;
import dev.sparkinfer.schemas.ImageCorpusTable;
import dev.sparkinfer.schemas.RejectsTable;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.arrow.ArrowRows;
import dev.sparkinfer.udf.image.ImageBatch;
import dev.sparkinfer.udf.model.ClipCache;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Image–caption batch (id, caption, image bytes) in, CLIP scores out ({@link ClipScoresTable}).
 *
 * <p>Steps: validate the caption (null or blank: rejected, stage {@code validate}); tokenize it (CLIP's 77-token
 * context, longer captions cut keeping EOT and flagged {@code caption_truncated}); decode and preprocess the images
 * on the executor's cores ({@link ImageBatch}; a bad image is rejected, stage {@code image}); both towers in one
 * admitted call ({@link ClipPass}); cosine of the L2-normalised embeddings, clip_score = 100 · max(cosine, 0).
 */
public final class ClipScoreTask implements BatchTask {
  /** Captions longer than this are cut before tokenizing (they are truncated to 77 tokens anyway). */
  static final int MAX_CAPTION_CHARS = 100_000;

  private final ClipCache.Clip clip;
  private final ClipTaskConfig config;
  private final ImageDecoder decoder;
  private final ClipPass pass;

  public ClipScoreTask(ClipCache.Clip clip, ClipTaskConfig config) {
    this.clip = clip;
    this.config = config;
    this.decoder = new ImageDecoder(config.maxPixels());
    this.pass = new ClipPass(clip);
  }

  @Override public Schema inputSchema() { return ImageCorpusTable.arrowSchema(); }
  @Override public Schema outputSchema() { return ClipScoresTable.arrowSchema(clip.model().config().projection(), config.embeddings()); }
  @Override public String modelName() { return clip.name(); }
  @Override public String deviceDescription() { return clip.runtime().device().toString(); }

  /** A batch with its captions tokenized and its images preprocessed (copied out of the input root). */
  record Prepared(byte[][] ids, int[][] tokens, boolean[] truncated, ImageBatch images, boolean[] ok) {}

  @Override
  public boolean pipelined() { return true; }

  @Override
  public void run(VectorSchemaRoot in, VectorSchemaRoot out, RowRejects rejects) { complete(prepare(in, rejects), out, rejects); }

  /** Validates and tokenizes the captions, decodes and preprocesses the images (on the executor's cores). */
  @Override
  public Prepared prepare(VectorSchemaRoot in, RowRejects rejects) {
    int n = in.getRowCount();
    byte[][] ids = ClipPass.ids(in);
    VarCharVector captions = (VarCharVector) in.getVector(ImageCorpusTable.CAPTION);
    int[][] tokens = new int[n][];
    boolean[] truncated = new boolean[n];
    boolean[] wanted = new boolean[n];
    for (int i = 0; i < n; i++) {
      String caption = caption(captions, i, rejects);
      if (caption == null) continue;
      boolean[] cut = new boolean[1];
      try {
        tokens[i] = clip.tokenizer().context(caption, cut);
      } catch (RuntimeException e) {
        rejects.reject(i, RejectsTable.STAGE_VALIDATE, "cannot tokenize caption", e.getClass().getSimpleName() + ": " + e.getMessage());
        continue;
      }
      truncated[i] = cut[0] || caption.length() > MAX_CAPTION_CHARS;
      wanted[i] = true;
    }
    ImageBatch images = ImageBatch.of((VarBinaryVector) in.getVector(ImageCorpusTable.IMAGE), wanted, decoder, clip.preprocessor());
    return new Prepared(ids, tokens, truncated, images, images.reject(rejects));
  }

  /** Both towers on the device, then the scores. */
  @Override
  public void complete(Object prepared, VectorSchemaRoot out, RowRejects rejects) {
    Prepared p = (Prepared) prepared;
    int n = p.ids().length;
    ImageBatch images = p.images();
    boolean[] truncated = p.truncated();
    ClipPass.Result r = pass.run(images.pixels, p.tokens(), p.ok(), rejects);

    VarCharVector outIds = (VarCharVector) out.getVector(ClipScoresTable.ID);
    Float4Vector cosine = (Float4Vector) out.getVector(ClipScoresTable.COSINE);
    Float4Vector score = (Float4Vector) out.getVector(ClipScoresTable.CLIP_SCORE);
    BitVector cut = (BitVector) out.getVector(ClipScoresTable.CAPTION_TRUNCATED);
    IntVector width = (IntVector) out.getVector(ClipScoresTable.IMAGE_WIDTH);
    IntVector height = (IntVector) out.getVector(ClipScoresTable.IMAGE_HEIGHT);
    VarCharVector model = (VarCharVector) out.getVector(ClipScoresTable.MODEL);
    FieldVector imageEmb = config.embeddings() == null ? null : out.getVector(ClipScoresTable.IMAGE_EMBEDDING);
    FieldVector textEmb = config.embeddings() == null ? null : out.getVector(ClipScoresTable.TEXT_EMBEDDING);
    byte[] modelName = clip.name().getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < n; i++) {
      outIds.setSafe(i, p.ids()[i]);
      if (r.image()[i] == null) {
        for (FieldVector v : out.getFieldVectors()) if (v != outIds) ArrowRows.set(v, i, null);
        continue;
      }
      float cos = dot(r.image()[i], r.text()[i]);
      cosine.setSafe(i, cos);
      score.setSafe(i, 100f * Math.max(cos, 0f));
      cut.setSafe(i, truncated[i] ? 1 : 0);
      width.setSafe(i, images.width[i]);
      height.setSafe(i, images.height[i]);
      if (imageEmb != null) {
        ArrowRows.set(imageEmb, i, embedding(r.image()[i], config.embeddings()));
        ArrowRows.set(textEmb, i, embedding(r.text()[i], config.embeddings()));
      }
      model.setSafe(i, modelName);
    }
    out.setRowCount(n);
  }

  /** Row i's caption (cut at {@link #MAX_CAPTION_CHARS}), or null after rejecting it. */
  static String caption(VarCharVector captions, int i, RowRejects rejects) {
    if (captions.isNull(i)) {
      rejects.reject(i, RejectsTable.STAGE_VALIDATE, "no caption", "the caption column is null or missing for this row");
      return null;
    }
    String c = new String(captions.get(i), StandardCharsets.UTF_8);
    if (c.isBlank()) {
      rejects.reject(i, RejectsTable.STAGE_VALIDATE, "empty caption", c.isEmpty() ? "the caption is the empty string"
          : "the caption is only whitespace (" + c.length() + " chars)");
      return null;
    }
    if (c.length() > MAX_CAPTION_CHARS) {
      int end = MAX_CAPTION_CHARS;
      if (Character.isHighSurrogate(c.charAt(end - 1))) end--;
      c = c.substring(0, end);
    }
    return c;
  }

  /** Cosine of two unit vectors: their dot product, accumulated in double, as a float. */
  static float dot(float[] a, float[] b) {
    double s = 0;
    for (int j = 0; j < a.length; j++) s += (double) a[j] * b[j];
    return (float) s;
  }

  /** An embedding as the output stores it: float[] (float32), or little-endian IEEE halves (float16). */
  static Object embedding(float[] e, EmbeddingDtype dtype) {
    if (dtype == EmbeddingDtype.FLOAT32) return e;
    ByteBuffer b = ByteBuffer.allocate(2 * e.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : e) b.putChar(DType.F16.fromFloat(v));
    return b.array();
  }
}
