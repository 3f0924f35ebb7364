package dev.sparkinfer.kernels;

/**
 * The engine's memory budget or a device buffer's limit cannot hold what an op or a model needs: a setting or a model
 * to change, never a bad row (jobs fail the task instead of rejecting rows).
 */
public class DeviceMemoryException extends IllegalStateException {
  public DeviceMemoryException(String message) { super(message); }
}
