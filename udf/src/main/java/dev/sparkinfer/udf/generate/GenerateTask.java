package dev.sparkinfer.udf.generate;

import dev.sparkinfer.kernels.DeviceMemoryException;
import dev.sparkinfer.kernels.KernelFallbackException;
import dev.sparkinfer.models.decoder.Generator;
import dev.sparkinfer.schemas.CorpusTable;
import dev.sparkinfer.schemas.GenerationsTable;
import dev.sparkinfer.schemas.RejectsTable;
import dev.sparkinfer.udf.BatchTask;
import dev.sparkinfer.udf.TextRows;
import dev.sparkinfer.udf.arrow.ArrowRows;
import dev.sparkinfer.udf.model.DecoderCache;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Corpus batch (id, prompt text) in, generations out (GenerationsTable). Null, empty and over-long prompts are rejected
 * (stage {@code validate}); each sequence's random stream is seeded by the run's seed and a hash of its id, so the
 * output does not depend on batching or partitioning.
 */
public final class GenerateTask implements BatchTask {
  private final DecoderCache.Teacher model;
  private final GenerateConfig config;
  private final Generator generator;
  private int consecutiveFailures;

  public GenerateTask(DecoderCache.Teacher model, GenerateConfig config) {
    this.model = model;
    this.config = config;
    int[] eos = Generator.eosIds(model.tokenizer());
    this.generator = new Generator(model.model(), new Generator.Settings(config.maxNewTokens(), config.temperature(), config.topP(),
        config.seed(), config.stopAtEos(), eos));
  }

  @Override public Schema inputSchema() { return CorpusTable.arrowSchema(); }
  @Override public Schema outputSchema() { return GenerationsTable.arrowSchema(); }
  @Override public String modelName() { return model.name(); }
  @Override public String deviceDescription() { return model.runtime().device().toString(); }

  @Override
  public void run(VectorSchemaRoot in, VectorSchemaRoot out, RowRejects rejects) {
    int n = in.getRowCount();
    VarCharVector ids = (VarCharVector) in.getVector(CorpusTable.ID);
    VarCharVector texts = (VarCharVector) in.getVector(CorpusTable.TEXT);
    List<Integer> rows = new ArrayList<>();
    List<int[]> prompts = new ArrayList<>();
    List<Long> keys = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String text = TextRows.textOrReject(texts, i, rejects);
      if (text == null) continue;
      int[] t = model.tokenizer().encode(text);
      if (t.length + config.maxNewTokens() > config.capacity()) {
        rejects.reject(i, RejectsTable.STAGE_VALIDATE, "prompt too long", t.length + " prompt tokens + " + config.maxNewTokens()
            + " new tokens exceed the context of " + config.capacity());
        continue;
      }
      rows.add(i);
      prompts.add(t);
      keys.add(Generator.rowKey(new String(ids.get(i), StandardCharsets.UTF_8)));
    }
    Generator.Output[] result = new Generator.Output[n];
    int[] promptTokens = new int[n];
    for (int j = 0; j < rows.size(); j++) promptTokens[rows.get(j)] = prompts.get(j).length;
    if (!rows.isEmpty()) {
      long[] k = keys.stream().mapToLong(Long::longValue).toArray();
      try {
        List<Generator.Output> g = model.runtime().admit(ops -> generator.generate(prompts, k));
        for (int j = 0; j < rows.size(); j++) result[rows.get(j)] = g.get(j);
      } catch (KernelFallbackException | DeviceMemoryException e) {
        throw e;
      } catch (RuntimeException e) {
        for (int j = 0; j < rows.size(); j++) {
          try {
            int[] p = prompts.get(j);
            long kk = k[j];
            result[rows.get(j)] = model.runtime().admit(ops -> generator.generate(List.of(p), new long[] {kk})).get(0);
            consecutiveFailures = 0;
          } catch (KernelFallbackException | DeviceMemoryException x) {
            throw x;
          } catch (RuntimeException x) {
            String why = x.getClass().getSimpleName() + ": " + x.getMessage();
            rejects.reject(rows.get(j), RejectsTable.STAGE_LABEL, "model failed on this row", why);
            if (++consecutiveFailures >= dev.sparkinfer.udf.TaskConfig.DEFAULT_MAX_CONSECUTIVE_ROW_FAILURES) {
              throw new IllegalStateException("model " + model.name() + " failed on " + consecutiveFailures + " rows in a row (last: " + why
                  + "): this looks like a broken model or device, not bad input; check the model and --device", x);
            }
          }
        }
      }
    }
    List<Object[]> outRows = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      String id = new String(ids.get(i), StandardCharsets.UTF_8);
      Generator.Output g = result[i];
      outRows.add(g == null ? new Object[] {id, null, null, null, null, null, null}
          : new Object[] {id, g.tokens(), model.tokenizer().decode(g.tokens()), g.meanLogprob(), promptTokens[i], g.finish(), model.name()});
    }
    ArrowRows.fill(out, outRows);
  }
}
