package dev.sparkinfer.udf.embed;

import static org.junit.jupiter.api.Assertions.*;

import dev.sparkinfer.schemas.CorpusTable;
import dev.sparkinfer.schemas.RejectsTable;
import dev.sparkinfer.udf.TaskConfig;
import dev.sparkinfer.udf.arrow.ArrowRows;
import dev.sparkinfer.udf.testing.FakeEmbedderProvider;
import dev.sparkinfer.udf.testing.FakeHashEmbedder;
import dev.sparkinfer.udf.testing.StrictAllocator;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;

class EmbedTaskTest {
  record Reject(int row, String stage, String reason, String detail) {}

  private final FakeHashEmbedder model = new FakeHashEmbedder(FakeEmbedderProvider.DIM, false);

  private List<Reject> run(EmbedTask task, List<Object[]> rows, List<Object[]> outRows) {
    List<Reject> rejects = new ArrayList<>();
    try (StrictAllocator allocator = new StrictAllocator();
         VectorSchemaRoot in = VectorSchemaRoot.create(CorpusTable.arrowSchema(), allocator);
         VectorSchemaRoot out = VectorSchemaRoot.create(task.outputSchema(), allocator)) {
      // two rounds on the same (reused) batches: the second must not see the first's values
      for (int round = 0; round < 2; round++) {
        ArrowRows.reset(in);
        ArrowRows.reset(out);
        rejects.clear();
        outRows.clear();
        ArrowRows.fill(in, rows);
        task.run(in, out, (r, s, reason, d) -> rejects.add(new Reject(r, s, reason, d)));
        assertEquals(rows.size(), out.getRowCount());
        for (int i = 0; i < out.getRowCount(); i++) outRows.add(ArrowRows.row(out, i));
      }
    }
    return rejects;
  }

  @Test
  void embedsEveryRowInOrderWithTokensAndTruncation() {
    String longText = "word ".repeat(100);
    List<Object[]> rows = List.of(new Object[] {"a", "hello world"}, new Object[] {"b", longText},
        new Object[] {"c", "héllo wörld 你好 🙂"});
    List<Object[]> out = new ArrayList<>();
    List<Reject> rejects = run(new EmbedTask(model, TaskConfig.defaults()), rows, out);
    assertTrue(rejects.isEmpty(), rejects.toString());
    for (int i = 0; i < rows.size(); i++) {
      String text = (String) rows.get(i)[1];
      assertEquals(rows.get(i)[0], out.get(i)[0]);
      assertArrayEquals(model.embed(text), (float[]) out.get(i)[1]);
      assertEquals(model.embedDetailed(List.of(text)).get(0).nTokens(), out.get(i)[2]);
      assertEquals("fake-hash-16", out.get(i)[4]);
    }
    assertEquals(false, out.get(0)[3]);
    assertEquals(true, out.get(1)[3], "long text is truncated by the model and flagged");
    assertEquals(FakeHashEmbedder.MAX_TOKENS, out.get(1)[2]);
  }

  @Test
  void rejectsNullAndBlankTextsAndIsolatesModelFailures() {
    List<Object[]> rows = List.of(new Object[] {"ok1", "fine text"}, new Object[] {"null", null},
        new Object[] {"empty", ""}, new Object[] {"blank", " \t "},
        new Object[] {"bad", "this one " + FakeHashEmbedder.FAIL_MARKER}, new Object[] {"ok2", "also fine"});
    List<Object[]> out = new ArrayList<>();
    List<Reject> rejects = run(new EmbedTask(model, TaskConfig.defaults()), rows, out);
    assertEquals(List.of(1, 2, 3, 4), rejects.stream().map(Reject::row).toList());
    assertEquals(RejectsTable.STAGE_VALIDATE, rejects.get(0).stage());
    assertEquals("null text", rejects.get(0).reason());
    assertEquals("empty text", rejects.get(1).reason());
    assertEquals("empty text", rejects.get(2).reason());
    assertEquals(RejectsTable.STAGE_EMBED, rejects.get(3).stage());
    assertTrue(rejects.get(3).detail().contains("cannot embed"), rejects.get(3).detail());
    // good rows of the failed batch were retried one by one and kept
    assertArrayEquals(model.embed("fine text"), (float[]) out.get(0)[1]);
    assertArrayEquals(model.embed("also fine"), (float[]) out.get(5)[1]);
    assertNull(out.get(4)[1]);
    assertEquals("bad", out.get(4)[0]);
  }

  @Test
  void cutsHugeTextsAndFlagsThem() {
    String huge = "x".repeat(50);
    List<Object[]> out = new ArrayList<>();
    List<Reject> rejects = run(new EmbedTask(model, new TaskConfig(10, 5)), List.<Object[]>of(new Object[] {"h", huge}), out);
    assertTrue(rejects.isEmpty());
    assertArrayEquals(model.embed("x".repeat(10)), (float[]) out.get(0)[1]);
    assertEquals(true, out.get(0)[3]);
    assertEquals("ab", EmbedTask.cutAt("ab\uD83D\uDE42", 3), "never splits a surrogate pair");
  }

  @Test
  void aBrokenModelFailsTheTaskInsteadOfRejectingEverything() {
    FakeHashEmbedder broken = new FakeHashEmbedder(FakeEmbedderProvider.DIM, true);
    List<Object[]> rows = new ArrayList<>();
    for (int i = 0; i < 8; i++) rows.add(new Object[] {"r" + i, "text " + i});
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> run(new EmbedTask(broken, new TaskConfig(1000, 5)), rows, new ArrayList<>()));
    assertTrue(e.getMessage().contains("not bad input"), e.getMessage());
  }

  /**
   * A kernel that could not run on the device asked for, or an engine out of memory, is the engine's failure: the task
   * fails at once with it (Spark retries, then fails the job), and not one row is rejected for it.
   */
  @Test
  void engineFailuresFailTheTaskAndRejectNoRow() {
    for (RuntimeException failure : new RuntimeException[] {
        new dev.sparkinfer.kernels.KernelFallbackException("kernel op matmul_nk did not run on opencl: ...", null),
        new dev.sparkinfer.kernels.DeviceMemoryException("the engine's memory budget of 1 bytes is exhausted")}) {
      dev.sparkinfer.models.Embedder failing = new dev.sparkinfer.models.Embedder() {
        @Override public int dimension() { return FakeEmbedderProvider.DIM; }
        @Override public String modelName() { return "failing"; }
        @Override public String deviceDescription() { return "opencl: test"; }
        @Override public List<dev.sparkinfer.models.Embedding> embedDetailed(List<String> texts) { throw failure; }
      };
      List<Object[]> rows = new ArrayList<>();
      for (int i = 0; i < 4; i++) rows.add(new Object[] {"r" + i, "text " + i});
      List<Reject> rejects = new ArrayList<>();
      try (StrictAllocator allocator = new StrictAllocator();
           VectorSchemaRoot in = VectorSchemaRoot.create(CorpusTable.arrowSchema(), allocator);
           VectorSchemaRoot out = VectorSchemaRoot.create(new EmbedTask(failing, TaskConfig.defaults()).outputSchema(), allocator)) {
        ArrowRows.fill(in, rows);
        RuntimeException e = assertThrows(RuntimeException.class, () -> new EmbedTask(failing, TaskConfig.defaults())
            .run(in, out, (r, st, reason, d) -> rejects.add(new Reject(r, st, reason, d))));
        assertSame(failure, e);
      }
      assertTrue(rejects.isEmpty(), "no row rejected for an engine failure: " + rejects);
    }
  }

  @Test
  void textsThatTokenizeToNothingAreRejectedAsEmpty() {
    // issue 8 case 11: only zero-width spaces or control characters: [CLS][SEP] alone, the same vector for all
    List<Object[]> rows = List.of(new Object[] {"zw", "\u200b\u200b\u200b"}, new Object[] {"ctl", "\u0001\u0002\u007f"},
        new Object[] {"mixed", "\u200b word \u0001"}, new Object[] {"ok", "hello"});
    List<Object[]> withFailure = List.of(new Object[] {"f", "x " + FakeHashEmbedder.FAIL_MARKER}, new Object[] {"zc", "\u200b\u0001"});
    List<Reject> isolated = run(new EmbedTask(model, TaskConfig.defaults()), withFailure, new ArrayList<>());
    assertEquals(List.of("embed", "validate"), isolated.stream().map(Reject::stage).sorted().toList(), "also when the batch is retried row by row: " + isolated);
    List<Object[]> out = new ArrayList<>();
    List<Reject> rejects = run(new EmbedTask(model, TaskConfig.defaults()), rows, out);
    assertEquals(List.of(0, 1), rejects.stream().map(Reject::row).toList(), rejects.toString());
    for (Reject r : rejects) {
      assertEquals(RejectsTable.STAGE_VALIDATE, r.stage());
      assertEquals("empty text", r.reason());
      assertTrue(r.detail().contains("no token"), r.detail());
    }
    assertNull(out.get(0)[1]);
    assertNotNull(out.get(2)[1]);
    assertNotNull(out.get(3)[1]);
  }
}
