package dev.sparkinfer.udf.model;

import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.kernels.Devices;
import dev.sparkinfer.kernels.EngineConfig;
import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * The GPU Spark assigned the running task ({@code spark.executor.resource.gpu.amount}, {@code spark.task.resource.gpu.amount},
 * addresses from the discovery script): the OpenCL engines (device auto and opencl) are pinned to it, {@code #N} for
 * address N ({@link Devices}: the N-th OpenCL GPU). Models are cached per engine config, so an executor given two GPUs
 * gets one engine ({@code DeviceRuntime}) and one model copy per GPU, and tasks sharing a GPU
 * ({@code spark.task.resource.gpu.amount} below 1) share its engine and take turns on it.
 */
public final class TaskGpu {
  public static final String RESOURCE = "gpu";

  private TaskGpu() {}

  /**
   * The config pinned to the running task's first GPU address; unchanged outside a task, for a task without GPUs, for
   * the cpu and java engines, and where the user pinned a device ({@code sparkinfer.opencl.device}).
   */
  public static EngineConfig apply(DeviceChoice device, EngineConfig engine) {
    if (device != DeviceChoice.AUTO && device != DeviceChoice.OPENCL) return engine;
    if (!engine.openclDevice().isBlank()) return engine;
    TaskContext ctx = TaskContext.get();
    if (ctx == null) return engine;
    return pin(engine, ctx.resourcesJMap());
  }

  static EngineConfig pin(EngineConfig engine, Map<String, ResourceInformation> resources) {
    ResourceInformation gpu = resources == null ? null : resources.get(RESOURCE);
    if (gpu == null || gpu.addresses().length == 0) return engine;
    String address = gpu.addresses()[0].trim();
    if (!address.matches("\\d+")) {
      throw new IllegalStateException("Spark gave this task GPU address '" + address + "', not a GPU number: the discovery "
          + "script must print addresses 0, 1, ... (deploy/gpu-discovery.sh does), the N-th OpenCL GPU being address N");
    }
    return engine.withOpenclDevice("#" + address); // every other setting (quantize, prune ...) kept
  }
}
