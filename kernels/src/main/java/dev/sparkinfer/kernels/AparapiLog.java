package dev.sparkinfer.kernels;

import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** Keeps Aparapi's last warning (it reports why a kernel fell back only through java.util.logging). */
final class AparapiLog {
  private static volatile String last = "no reason reported by Aparapi";
  private static final Logger APARAPI = Logger.getLogger("com.aparapi");

  static {
    APARAPI.addHandler(new Handler() {
      @Override
      public void publish(LogRecord r) {
        String m = r.getMessage();
        // "Device failed for K, devices={...}: <reason>" carries the reason; "Trying next device" follows it
        if (r.getLevel().intValue() >= Level.WARNING.intValue() && m != null && m.startsWith("Device failed")) last = m;
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    });
  }

  private AparapiLog() {}

  static void install() {}

  static String lastWarning() { return last; }
}
