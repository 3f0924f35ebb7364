package dev.sparkinfer.kernels;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.aparapi.device.Device;
import com.aparapi.device.OpenCLDevice;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code #N} pins (what Spark's GPU address N becomes on an executor): the N-th GPU or accelerator; an address with no
 * such GPU fails the task with the devices there are, never runs elsewhere. Machines without a GPU check the failure;
 * with GPUs, each address opens its own GPU.
 */
class GpuPinTest {
  private static EngineConfig pinned(String pin) {
    EngineConfig d = EngineConfig.defaults();
    return new EngineConfig(d.matmulKernel(), d.attentionKernel(), d.normKernel(), d.softmaxKernel(), d.linearLayout(),
        d.elementRun(), d.budgetBytes(), pin, d.strict(), 1);
  }

  @Test
  void anAddressBeyondTheGpusFailsWithTheDevicesThereAre() {
    List<OpenCLDevice> all = Devices.openclDevices();
    long gpus = all.stream().filter(d -> d.getType() == Device.TYPE.GPU || d.getType() == Device.TYPE.ACC).count();
    String pin = "#" + gpus;
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Devices.open(DeviceChoice.AUTO, pinned(pin)));
    assertTrue(e.getMessage().contains(all.isEmpty() ? "no OpenCL device found" : "no OpenCL GPU " + pin), e.getMessage());
  }

  @Test
  void eachAddressOpensItsOwnGpu() {
    List<OpenCLDevice> gpus = Devices.openclDevices().stream()
        .filter(d -> d.getType() == Device.TYPE.GPU || d.getType() == Device.TYPE.ACC).toList();
    for (int n = 0; n < gpus.size(); n++) {
      try (Ops ops = Devices.open(DeviceChoice.AUTO, pinned("#" + n))) {
        assertTrue(ops.device().toString().contains(gpus.get(n).getName().trim()), "#" + n + " ran on " + ops.device());
      }
    }
  }
}
