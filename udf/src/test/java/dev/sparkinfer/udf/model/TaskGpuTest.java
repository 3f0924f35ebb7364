package dev.sparkinfer.udf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.EngineConfig;
import java.util.Map;
import org.apache.spark.resource.ResourceInformation;
import org.junit.jupiter.api.Test;

/** A task's GPU address pins the OpenCL engine to that GPU (#N); nothing changes without one or outside a task. */
class TaskGpuTest {
  @Test
  void theTasksFirstAddressBecomesThePin() {
    EngineConfig e = EngineConfig.defaults();
    assertEquals("#1", TaskGpu.pin(e, Map.of("gpu", new ResourceInformation("gpu", new String[] {"1", "3"}))).openclDevice());
    assertSame(e, TaskGpu.pin(e, Map.of()));
    assertSame(e, TaskGpu.pin(e, Map.of("gpu", new ResourceInformation("gpu", new String[0]))));
    assertThrows(IllegalStateException.class, () -> TaskGpu.pin(e, Map.of("gpu", new ResourceInformation("gpu", new String[] {"GPU-5b2c"}))));
    // the pin keeps every other setting, the weights' --quantize and --prune among them
    EngineConfig q = e.withQuantize(dev.sparkinfer.kernels.Quantization.INT4).withPrune(dev.sparkinfer.kernels.Pruning.TWO_FOUR);
    assertEquals(q.withOpenclDevice("#2"), TaskGpu.pin(q, Map.of("gpu", new ResourceInformation("gpu", new String[] {"2"}))));
  }

  @Test
  void outsideATaskAndForTheCpuEnginesNothingChanges() {
    EngineConfig e = EngineConfig.defaults();
    assertSame(e, TaskGpu.apply(DeviceChoice.AUTO, e)); // no TaskContext here
    assertSame(e, TaskGpu.apply(DeviceChoice.CPU, e));
    assertSame(e, TaskGpu.apply(DeviceChoice.JAVA, e));
  }
}
