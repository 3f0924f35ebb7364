package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Device data must survive garbage collections between launches, including when the arenas grow (which reads the
 * device buffers back through Aparapi's explicit get). Aparapi binds buffers to Java array addresses; an array the GC
 * moved would be read through a stale address (see NonMovingArrays).
 */
class DeviceArraysSurviveGcTest {

  @Test
  void contentsSurviveGcAndArenaGrowth() {
    Random r = new Random(5);
    try (AparapiOps ops = new AparapiOps(OpenCLTestSupport.device(), true); Ops.Scope s = ops.scope()) {
      int[] ids = new int[3000];
      float[] xs = new float[5000];
      for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt();
      for (int i = 0; i < xs.length; i++) xs[i] = r.nextFloat();
      IntTensor it = ops.allocInts(ids.length);
      Tensor ft = ops.alloc(xs.length);
      ops.write(it, ids);
      ops.write(ft, xs);
      List<Object> churn = new ArrayList<>();
      for (int round = 0; round < 12; round++) {
        for (int j = 0; j < 2000; j++) churn.add(new byte[512]);
        churn.clear();
        System.gc();
        // grow both arenas: the old contents are read back from the device and moved to the new arrays
        ops.allocInts(150_000 << Math.min(round, 4));
        ops.alloc(300_000 << Math.min(round, 4));
        assertArrayEquals(ids, ops.read(it), "int contents after gc and growth, round " + round);
        assertArrayEquals(xs, ops.read(ft), "float contents after gc and growth, round " + round);
      }
    }
  }
}
