package dev.sparkinfer.udf.testing;

import org.apache.arrow.memory.RootAllocator;

/** A root allocator for tests whose close() fails, naming the bytes, when any buffer was not released. */
public final class StrictAllocator extends RootAllocator {
  public StrictAllocator() { super(Long.MAX_VALUE); }

  @Override
  public void close() {
    long leaked = getAllocatedMemory();
    if (leaked != 0) {
      throw new AssertionError("Arrow leak: " + leaked + " bytes still allocated at close\n" + toVerboseString());
    }
    super.close();
  }
}
