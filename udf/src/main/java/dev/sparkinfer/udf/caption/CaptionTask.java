package dev.sparkinfer.udf.caption;

import dev.sparkinfer.kernels.DeviceMemoryException;
import dev.sparkinfer.kernels.KernelFallbackException;
import dev.sparkinfer.models.decoder.Generator;
import dev.sparkinfer.models.image.ImageDecoder;
import dev.sparkinfer.schemas.CaptionsTable;
import dev.sparkinfer.schemas.ImageCorpusTable;
import dev.sparkinfer.schemas.RejectsTable;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.TaskConfig;
import dev.sparkinfer.udf.arrow.ArrowRows;
import dev.sparkinfer.udf.image.ImageBatch;
import dev.sparkinfer.udf.model.LlavaCache;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Image batch in, captions out ({@link CaptionsTable}), with a LLaVA model.
 *
 * <p>Steps: decode and preprocess the images on the executor's cores ({@link ImageBatch}; a bad image is rejected,
 * stage {@code image}) — the partition runner does this for the next batch while the current one generates; then on
 * the device: the prompt with the image's projected features at its image positions (the vision tower runs once per
 * image), and generation on the KV cache ({@link Generator}: greedy, or sampling at a temperature with top-p, each
 * row's random stream seeded by --seed and its id, or beam search), stopping at EOS or --max-new-tokens. A batch the model fails on is
 * retried row by row (stage {@code caption}); engine failures fail the task.
 */
public final class CaptionTask implements BatchTask {
  private final LlavaCache.Llava llava;
  private final CaptionConfig config;
  private final ImageDecoder decoder;
  private final Generator generator;
  private final int[] prompt;
  private int consecutiveFailures;

  public CaptionTask(LlavaCache.Llava llava, CaptionConfig config) {
    this.llava = llava;
    this.config = config;
    this.decoder = new ImageDecoder(config.maxPixels());
    this.prompt = llava.prompt().encode(config.prompt());
    if (prompt.length != config.promptTokens()) {
      throw new IllegalStateException("the prompt has " + prompt.length + " tokens here but " + config.promptTokens() + " on the driver");
    }
    this.generator = new Generator(llava.model().languageModel(), config.settings(Generator.eosIds(llava.prompt().tokenizer())));
  }

  @Override public Schema inputSchema() { return ImageCorpusTable.arrowSchema(); }
  @Override public Schema outputSchema() { return CaptionsTable.arrowSchema(); }
  @Override public String modelName() { return llava.name(); }
  @Override public String deviceDescription() { return llava.runtime().device().toString(); }

  /** A batch's ids and preprocessed images (copied out of the input root). */
  record Prepared(String[] ids, ImageBatch images, boolean[] ok) {}

  @Override
  public boolean pipelined() { return true; }

  @Override
  public void run(VectorSchemaRoot in, VectorSchemaRoot out, RowRejects rejects) { complete(prepare(in, rejects), out, rejects); }

  @Override
  public Prepared prepare(VectorSchemaRoot in, RowRejects rejects) {
    int n = in.getRowCount();
    VarCharVector idv = (VarCharVector) in.getVector(ImageCorpusTable.ID);
    String[] ids = new String[n];
    for (int i = 0; i < n; i++) ids[i] = new String(idv.get(i), StandardCharsets.UTF_8);
    boolean[] wanted = new boolean[n];
    Arrays.fill(wanted, true);
    ImageBatch images = ImageBatch.of((VarBinaryVector) in.getVector(ImageCorpusTable.IMAGE), wanted, decoder, llava.preprocessor());
    return new Prepared(ids, images, images.reject(rejects));
  }

  @Override
  public void complete(Object prepared, VectorSchemaRoot out, RowRejects rejects) {
    Prepared p = (Prepared) prepared;
    int n = p.ids().length;
    int[] rows = java.util.stream.IntStream.range(0, n).filter(i -> p.ok()[i]).toArray();
    Generator.Output[] result = new Generator.Output[n];
    if (rows.length > 0 && !tryCaption(rows, p, result)) {
      for (int row : rows) {
        if (tryCaption(new int[] {row}, p, result)) {
          consecutiveFailures = 0;
        } else {
          rejects.reject(row, RejectsTable.STAGE_CAPTION, "model failed on this row", lastFailure);
          if (++consecutiveFailures >= TaskConfig.DEFAULT_MAX_CONSECUTIVE_ROW_FAILURES) {
            throw new IllegalStateException("LLaVA " + llava.name() + " failed on " + consecutiveFailures + " rows in a row (last: "
                + lastFailure + "): this looks like a broken model or device, not bad input; check the model and --device");
          }
        }
      }
    }
    List<Object[]> outRows = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Generator.Output g = result[i];
      outRows.add(g == null ? new Object[] {p.ids()[i], null, null, null, null, null, null, null}
          : new Object[] {p.ids()[i], llava.prompt().decode(g.tokens()), g.tokens(), g.meanLogprob(), g.finish(),
              p.images().width[i], p.images().height[i], llava.name()});
    }
    ArrowRows.fill(out, outRows);
  }

  private String lastFailure;

  /** Captions the rows in one admitted call; false (and lastFailure) when the model failed. */
  private boolean tryCaption(int[] rows, Prepared p, Generator.Output[] result) {
    List<int[]> prompts = new ArrayList<>(rows.length);
    long[] keys = new long[rows.length];
    float[][][] images = new float[rows.length][][];
    for (int k = 0; k < rows.length; k++) {
      prompts.add(prompt);
      keys[k] = Generator.rowKey(p.ids()[rows[k]]);
      images[k] = new float[][] {p.images().pixels[rows[k]]};
    }
    try {
      List<Generator.Output> g = llava.runtime().admit(ops -> generator.generate(prompts, keys, (first, which, batch) -> {
        float[][][] its = new float[which.length][][];
        for (int j = 0; j < which.length; j++) its[j] = images[which[j]];
        return llava.model().prefill(first, batch, its);
      }));
      for (int k = 0; k < rows.length; k++) result[rows[k]] = g.get(k);
      return true;
    } catch (KernelFallbackException | DeviceMemoryException e) {
      throw e; // the engine, not a row
    } catch (RuntimeException e) {
      lastFailure = e.getClass().getSimpleName() + ": " + e.getMessage();
      return false;
    }
  }
}
