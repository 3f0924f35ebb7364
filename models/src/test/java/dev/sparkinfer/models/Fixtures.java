package dev.sparkinfer.models;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds ../shared/fixtures through one setting (system property sparkinfer.fixtures); tests skip when absent. */
public final class Fixtures {
  private Fixtures() {}

  public static Path dir() {
    String p = System.getProperty("sparkinfer.fixtures", "../shared/fixtures");
    return Path.of(p);
  }

  /** A path under the fixtures; skips the calling test, with a message saying so, when the fixtures are absent. */
  public static Path require(String relative) {
    Path p = dir().resolve(relative);
    assumeTrue(Files.exists(p), "golden fixtures not found at " + p.toAbsolutePath()
        + " (set -Dsparkinfer.fixtures=...); skipping this reference test");
    return p;
  }
}
