package dev.sparkinfer.models.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.models.Embedders;
import dev.sparkinfer.models.ModelRef;
import dev.sparkinfer.models.TestTexts;
import dev.sparkinfer.models.tokenizer.Encoding;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link BertModel} runs every op but attention on the rows that count only (real tokens and each sequence's first
 * row): its embeddings must be the padded batch's, bit for bit, on every engine, for mean and [CLS] pooling. The batch
 * is texts in any order (much padding), plus a sequence of padding only; a text run alone must give its embedding in
 * the batch, bit for bit too.
 */
class BertUnpaddingTest {
  @Test
  void javaReferenceUnpaddedIsThePaddedRun() { compare(DeviceChoice.JAVA); }

  @Test
  void cpuEngineUnpaddedIsThePaddedRun() { compare(DeviceChoice.CPU); }

  @Test
  void openclUnpaddedIsThePaddedRun() {
    assumeTrue(Devices.openclRuns() || Boolean.getBoolean("sparkinfer.requireOpenCL"),
        "no OpenCL device: install pocl-opencl-icd; skipping the OpenCL half of the unpadding test");
    compare(DeviceChoice.OPENCL);
  }

  private static void compare(DeviceChoice device) {
    List<String> texts = TestTexts.generate(23, 5);
    try (BertEmbedder e = Embedders.load(ModelRef.resolve("default"), device, 32)) {
      String kind = device.name().toLowerCase(java.util.Locale.ROOT);
      assertTrue(e.deviceDescription().startsWith(kind), "asked for " + kind + ", ran on " + e.deviceDescription());
      int batch = texts.size() + 1, seq = 0;
      Encoding[] enc = new Encoding[texts.size()];
      for (int i = 0; i < enc.length; i++) {
        enc[i] = e.encode(texts.get(i));
        seq = Math.max(seq, enc[i].length());
      }
      int[] ids = new int[batch * seq], types = new int[batch * seq], mask = new int[batch * seq];
      int real = 0;
      for (int b = 0; b < enc.length; b++) { // the last sequence stays padding only
        System.arraycopy(enc[b].ids(), 0, ids, b * seq, enc[b].length());
        for (int t = 0; t < enc[b].length(); t++) mask[b * seq + t] = 1;
        real += enc[b].length();
      }
      assertTrue(real < 0.7 * batch * seq, "the batch must be padded: " + real + " real tokens of " + batch * seq);
      for (Pooling pooling : List.of(Pooling.MINILM, new Pooling(Pooling.Mode.CLS, false, 256))) {
        BertModel model = e.model().withPooling(pooling);
        int s = seq;
        float[][] unpadded = e.runtime().admit(ops -> model.embed(ids, types, mask, batch, s, true));
        float[][] padded = e.runtime().admit(ops -> model.embed(ids, types, mask, batch, s, false));
        for (int b = 0; b < batch; b++) {
          assertArrayEquals(padded[b], unpadded[b], 0f, device + ", " + pooling.mode() + " pooling, sequence " + b + " (" + e.deviceDescription() + ")");
        }
        // and a text alone, unpadded, as in the batch: a text's embedding does not depend on its batch
        for (int b : new int[] {0, 5, enc.length - 1}) {
          int len = enc[b].length();
          int[] one = new int[len];
          java.util.Arrays.fill(one, 1);
          float[][] alone = e.runtime().admit(ops -> model.embed(enc[b].ids(), new int[len], one, 1, len, true));
          assertArrayEquals(unpadded[b], alone[0], 0f, device + ", " + pooling.mode() + " pooling, text " + b + " alone (" + e.deviceDescription() + ")");
        }
      }
    }
  }
}
