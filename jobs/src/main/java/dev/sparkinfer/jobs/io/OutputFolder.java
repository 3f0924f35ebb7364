package dev.sparkinfer.jobs.io;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.JobConfig.Overwrite;
import dev.sparkinfer.jobs.UsageException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The one place where the output path is resolved and checked, before anything is deleted or any Spark job starts:
 * real paths (symlinks resolved) on both sides, so an input can never sit inside the output; no file where a folder
 * must be; the nearest existing folder writable (a probe file is created and removed); an existing output only
 * replaced with {@code --overwrite} when it looks like an output of ours ({@link #isOurs}), or with
 * {@code --overwrite-any}. {@link #clearOldOutput} is the only delete a job makes.
 */
public final class OutputFolder {
  /** Names an output of ours holds at its top level (besides {@code part-*} files and their {@code .crc} twins). */
  static final List<String> OUR_NAMES = List.of("_SUMMARY.json", "_SUCCESS", "_rejects", "_temporary", "_manifest", "_TEACHER_CONFIG.json",
      "_cosine_histogram.png", "_LABELS.json");

  private final FileSystem fs;
  private final Path path;
  private final boolean replace;
  private final boolean holdsRun;

  private OutputFolder(FileSystem fs, Path path, boolean replace, boolean holdsRun) {
    this.fs = fs;
    this.path = path;
    this.replace = replace;
    this.holdsRun = holdsRun;
  }

  /** True when {@code --resume} found the output of an earlier run here (its {@code _manifest/job.json}) to continue. */
  public boolean holdsRun() { return holdsRun; }

  /** The output folder, resolved (symlinks followed): the job writes here. */
  public Path path() { return path; }

  public FileSystem fileSystem() { return fs; }

  /**
   * Checks the output of {@code cfg} against the input files; throws {@link UsageException} saying what is wrong and
   * what to do. Deletes nothing.
   */
  public static OutputFolder check(JobConfig cfg, List<String> inputFiles, Configuration conf) {
    String out = cfg.output();
    try {
      Path given = new Path(out);
      FileSystem fs = given.getFileSystem(conf);
      Path output = RealPaths.resolve(fs, fs.makeQualified(given));
      if (output.getName().contains(":")) {
        throw new UsageException("output '" + out + "' has ':' in its name, which Hadoop paths cannot hold: choose another --output");
      }

      // input inside the output: the job would read what it is about to replace
      for (String f : inputFiles) {
        // each input on its own file system: one on another (a local corpus, an hdfs:// output) cannot be inside the output
        Path file = new Path(f);
        FileSystem inFs = file.getFileSystem(conf);
        Path qualified = inFs.makeQualified(file);
        if (!sameFileSystem(qualified, output)) continue;
        Path in = RealPaths.resolve(inFs, qualified);
        if (RealPaths.isUnder(in, output)) {
          throw new UsageException("input file " + f + (in.toString().equals(qualified.toString()) ? "" : " (really " + in.toUri().getPath() + ")")
              + " is inside --output '" + out + "', which the job writes" + (cfg.overwrite() != Overwrite.NO ? " and --overwrite would delete" : "")
              + ": choose another --output");
        }
      }

      // the nearest existing ancestor must be a folder (not a file) and writable
      Path existing = output;
      FileStatus st = status(fs, existing);
      while (st == null && existing.getParent() != null) {
        existing = existing.getParent();
        st = status(fs, existing);
      }
      if (st != null && !st.isDirectory()) {
        throw new UsageException(existing.equals(output)
            ? "output '" + out + "' is a file: give a folder for --output"
            : "output '" + out + "' cannot be made: " + existing.toUri().getPath() + " is a file, not a folder: choose another --output");
      }
      boolean replace = false;
      boolean holdsRun = false;
      if (existing.equals(output)) {
        FileStatus[] inside = fs.listStatus(output);
        if (inside.length > 0) {
          switch (cfg.overwrite()) {
            case NO -> throw new UsageException("output '" + out + "' already exists (" + inside.length + " entries): pass "
                + "--overwrite to replace an earlier output of this job, or choose another --output");
            case OURS -> {
              List<String> foreign = foreign(fs, inside);
              if (!foreign.isEmpty()) {
                throw new UsageException("output '" + out + "' holds " + foreign.size() + " entr" + (foreign.size() == 1 ? "y" : "ies")
                    + " this job did not write (" + String.join(", ", foreign.subList(0, Math.min(5, foreign.size())))
                    + (foreign.size() > 5 ? ", ..." : "") + "): --overwrite only replaces an earlier output (_SUMMARY.json, "
                    + "_SUCCESS, part-* files, _rejects/); choose another --output, or pass --overwrite-any to delete the "
                    + "folder with everything in it");
              }
            }
            case ANY -> { }
            case RESUME -> {
              if (!fs.exists(new Path(output, "_manifest/job.json"))) {
                throw new UsageException("--resume: output '" + out + "' exists but holds no _manifest/job.json, so it is not the "
                    + "output of an interrupted run of ours (or was written before runs could resume): pass --overwrite to start again, "
                    + "or choose another --output");
              }
              List<String> foreign = foreign(fs, inside);
              if (!foreign.isEmpty()) {
                throw new UsageException("--resume: output '" + out + "' holds entries this job did not write (" + String.join(", ",
                    foreign.subList(0, Math.min(5, foreign.size()))) + "): move them away, or choose another --output");
              }
              holdsRun = true;
            }
          }
          replace = !holdsRun;
        }
        probe(fs, output, out);
        if (replace && output.getParent() != null) probe(fs, output.getParent(), out);
      } else {
        probe(fs, existing, out);
      }
      // an empty folder is removed too; a folder holding a run to resume is kept
      return new OutputFolder(fs, output, existing.equals(output) && !holdsRun, holdsRun);
    } catch (IOException e) {
      throw new UsageException("cannot check output '" + out + "': " + e.getMessage() + " (check the path and its file system)", e);
    } catch (IllegalArgumentException e) {
      throw new UsageException("output '" + out + "' is not a usable path: " + e.getMessage(), e);
    }
  }

  /** True when both qualified paths are on one file system (same scheme and authority). */
  private static boolean sameFileSystem(Path a, Path b) {
    return java.util.Objects.equals(a.toUri().getScheme(), b.toUri().getScheme())
        && java.util.Objects.equals(a.toUri().getAuthority(), b.toUri().getAuthority());
  }

  /** True when every entry looks like something a job of ours wrote. */
  static boolean isOurs(FileSystem fs, Path dir) throws IOException {
    return foreign(fs, fs.listStatus(dir)).isEmpty();
  }

  /** The entries (names) of an output folder that a job of ours would not have written. */
  private static List<String> foreign(FileSystem fs, FileStatus[] inside) throws IOException {
    List<String> foreign = new ArrayList<>();
    for (FileStatus s : inside) {
      String name = s.getPath().getName();
      boolean ours;
      if (name.equals("_rejects") && s.isDirectory()) {
        ours = true;
        for (FileStatus r : fs.listStatus(s.getPath())) {
          if (!isOurFile(r)) foreign.add("_rejects/" + r.getPath().getName() + (r.isDirectory() ? "/" : ""));
        }
      } else {
        ours = (name.equals("_temporary") || name.equals("_manifest")) && s.isDirectory() || isOurFile(s);
      }
      if (!ours) foreign.add(name + (s.isDirectory() ? "/" : ""));
    }
    return foreign;
  }

  private static boolean isOurFile(FileStatus s) {
    String n = s.getPath().getName();
    if (n.startsWith(".") && n.endsWith(".crc")) n = n.substring(1, n.length() - 4); // the local file system's checksums
    return s.isFile() && (n.startsWith("part-") || n.equals("_SUMMARY.json") || n.equals("_SUCCESS") || n.equals("_TEACHER_CONFIG.json")
        || n.equals("_cosine_histogram.png") || n.equals("_LABELS.json"))
        || s.isDirectory() && n.equals("_temporary");
  }

  private static FileStatus status(FileSystem fs, Path p) throws IOException {
    try {
      return fs.getFileStatus(p);
    } catch (FileNotFoundException e) {
      return null;
    } catch (IOException e) {
      // "Not a directory" and the like: a file somewhere above; the caller walks up to it
      if (String.valueOf(e.getMessage()).contains("Not a directory")) return null;
      throw e;
    }
  }

  /** Creates and removes a hidden file in {@code dir}: the only sure test that the job will be able to write there. */
  private static void probe(FileSystem fs, Path dir, String out) {
    Path p = new Path(dir, ".sparkinfer-write-check-" + UUID.randomUUID());
    try {
      fs.create(p, false).close();
      fs.delete(p, false);
    } catch (IOException | RuntimeException e) {
      throw new UsageException("output '" + out + "' is not writable: cannot create a file in " + dir.toUri().getPath() + " ("
          + e.getMessage() + "): choose an --output you can write to", e);
    }
  }

  /** Deletes the old output (once every check has passed and right before the job runs); nothing else is ever deleted. */
  public void clearOldOutput() {
    if (!replace) return;
    try {
      if (fs.exists(path) && !fs.delete(path, true)) throw new IOException("delete returned false");
    } catch (IOException e) {
      throw new UsageException("cannot remove the old output '" + path + "' for --overwrite: " + e.getMessage(), e);
    }
  }
}
