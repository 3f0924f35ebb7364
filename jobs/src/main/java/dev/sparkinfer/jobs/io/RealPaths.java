package dev.sparkinfer.jobs.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Paths as they really are: symlinks resolved, so that two names for one folder compare equal. Local paths go through
 * {@code java.nio} (every component resolved, also when the tail does not exist yet); other file systems through
 * {@link FileSystem#resolvePath} where the path exists.
 */
public final class RealPaths {
  private RealPaths() {}

  /** The real path of a qualified path; for a path that does not exist, its nearest existing ancestor's real path plus the rest. */
  public static Path resolve(FileSystem fs, Path qualified) throws IOException {
    if ("file".equals(qualified.toUri().getScheme())) {
      java.nio.file.Path p = java.nio.file.Path.of(qualified.toUri().getPath()).toAbsolutePath().normalize();
      java.nio.file.Path tail = null;
      while (p != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
        tail = tail == null ? p.getFileName() : p.getFileName().resolve(tail);
        p = p.getParent();
      }
      if (p == null) return qualified;
      java.nio.file.Path real = p.toRealPath();
      if (tail != null) real = real.resolve(tail);
      return fs.makeQualified(new Path(real.toString()));
    }
    try {
      return fs.resolvePath(qualified);
    } catch (java.io.FileNotFoundException e) {
      return qualified;
    }
  }

  /** True when {@code p} is {@code dir} or lies below it (both qualified and resolved). */
  public static boolean isUnder(Path p, Path dir) {
    for (Path q = p; q != null; q = q.getParent()) {
      if (q.equals(dir)) return true;
    }
    return false;
  }
}
