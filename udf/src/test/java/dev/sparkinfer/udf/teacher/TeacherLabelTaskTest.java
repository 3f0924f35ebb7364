package dev.sparkinfer.udf.teacher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.DeviceRuntime;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.models.decoder.CausalLm;
import dev.sparkinfer.models.decoder.TextTokenizer;
import dev.sparkinfer.schemas.CorpusTable;
import dev.sparkinfer.schemas.TeacherLabelsTable;
import dev.sparkinfer.udf.model.DecoderCache;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;

/** A teacher that fails on every row is a broken model: its rows are rejected up to a bound, then the task fails. */
class TeacherLabelTaskTest {
  @Test
  void aModelFailingOnEveryRowFailsTheTaskInsteadOfRejectingTheCorpus() {
    CausalLm broken = new CausalLm() {
      public int vocabSize() { return 10; }
      public int entries() { return 1; }
      public int capacity() { return 8; }
      public <T> T forward(int first, int[][] tokens, int[] positions, boolean every, LogitsUse<T> use) {
        throw new IllegalStateException("broken weights");
      }
      public <T> T forwardRows(int first, int[][] tokens, int[] positions, int[] logitRows, LogitsUse<T> use) {
        throw new IllegalStateException("broken weights");
      }
      public String deviceDescription() { return "java"; }
      public void close() {}
    };
    TextTokenizer tok = new TextTokenizer() {
      public int[] encode(String text) { return new int[] {1, 2, 3}; }
      public String decode(int[] ids) { return ""; }
      public String fingerprint() { return "x"; }
      public int vocabSize() { return 10; }
    };
    int n = TeacherLabelTask.MAX_CONSECUTIVE_FAILURES + 5;
    try (DeviceRuntime rt = DeviceRuntime.own(DeviceChoice.JAVA, EngineConfig.defaults());
         RootAllocator alloc = new RootAllocator();
         VectorSchemaRoot in = VectorSchemaRoot.create(CorpusTable.arrowSchema(), alloc);
         VectorSchemaRoot out = VectorSchemaRoot.create(TeacherLabelsTable.arrowSchema(), alloc)) {
      TeacherLabelTask task = new TeacherLabelTask(new DecoderCache.Teacher(broken, tok, rt, "broken"),
          new TeacherConfig("x", null, 2, 1f, 8, 4, TeacherLabelsTable.LogprobEncoding.FLOAT16, 1, 1000));
      VarCharVector ids = (VarCharVector) in.getVector(CorpusTable.ID), texts = (VarCharVector) in.getVector(CorpusTable.TEXT);
      for (int i = 0; i < n; i++) {
        ids.setSafe(i, ("r" + i).getBytes(StandardCharsets.UTF_8));
        texts.setSafe(i, "some text".getBytes(StandardCharsets.UTF_8));
      }
      in.setRowCount(n);
      List<String> rejected = new ArrayList<>();
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> task.run(in, out, (row, stage, reason, detail) -> rejected.add(stage)));
      assertTrue(e.getMessage().contains("broken model"), e.getMessage());
      assertEquals(TeacherLabelTask.MAX_CONSECUTIVE_FAILURES, rejected.size(), "rows rejected before the task gave up");
      assertEquals("label", rejected.get(0));
    }
  }
}
