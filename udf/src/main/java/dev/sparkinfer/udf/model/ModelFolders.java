package dev.sparkinfer.udf.model;

import java.io.FileNotFoundException;
import java.net.InetAddress;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.SparkEnv;

/**
 * A model folder as the JVM that loads it sees it. The driver checks {@code --model} before the job, but every
 * executor reads the folder from its own disk: a folder that exists on the driver may be missing, or unreadable, where
 * a task runs. {@link ModelCache} checks a key's folders here before it loads, and explains a load that failed on a
 * file it could not read, so that the task fails (never row rejects) with the folder, the executor's host and the fix.
 */
public final class ModelFolders {
  private ModelFolders() {}

  /** Thrown on the executor when a model folder is not there, or not readable, on this machine. */
  public static final class NotOnThisMachineException extends IllegalStateException {
    NotOnThisMachineException(String message, Throwable cause) { super(message, cause); }
  }

  /** The fix, in one sentence (the end of every message here). */
  static final String FIX = "every executor reads the model folder from its own disk: put it at the same path on every node "
      + "(a shared mount such as NFS, or an HDFS or S3 bucket mounted there; on Kubernetes the pod template's volume), "
      + "or copy it to that path on each machine; the model folder must be a local path (hdfs:// and s3a:// model paths "
      + "are not read directly)";

  /**
   * Checks that {@code folder} is a readable folder on this JVM's machine.
   *
   * @throws NotOnThisMachineException naming the folder, the executor and its host, and the fix
   */
  public static void checkHere(String family, String folder) {
    Path dir = Path.of(folder);
    String problem;
    if (!Files.exists(dir)) problem = "does not exist";
    else if (!Files.isDirectory(dir)) problem = "is not a folder";
    else if (!Files.isReadable(dir) || !Files.isExecutable(dir)) problem = "cannot be read (permissions)";
    else return;
    throw new NotOnThisMachineException(message(family, folder, problem), null);
  }

  /**
   * A load that failed because a file of the model could not be read here (missing, or not readable) explained the
   * same way; other failures (a corrupt model, a device error) are returned as they are.
   */
  public static RuntimeException explain(String family, List<String> folders, RuntimeException e) {
    if (folders.isEmpty() || e instanceof NotOnThisMachineException) return e;
    for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof NoSuchFileException || c instanceof AccessDeniedException || c instanceof FileNotFoundException) {
        String what = c instanceof AccessDeniedException ? "is not readable" : "is missing";
        String file = c instanceof java.nio.file.FileSystemException f && f.getFile() != null ? f.getFile() : c.getMessage();
        return new NotOnThisMachineException(message(family, String.join(", ", folders), "could not be loaded: its file " + file
            + " " + what + " here (" + c + ")"), e);
      }
    }
    return e;
  }

  static String message(String family, String folder, String problem) {
    Path dir = Path.of(folder);
    String relative = dir.isAbsolute() ? "" : " (a relative path, resolved against this JVM's working directory "
        + Path.of("").toAbsolutePath() + ": give --model an absolute path)";
    return family + " model folder " + folder + relative + " " + problem + " on " + where() + ", though the driver found it: " + FIX;
  }

  /** "executor 3 on host worker-7 (10.0.0.7)" (local mode: "the local executor on host ..."). */
  static String where() {
    SparkEnv env = SparkEnv.get();
    String id = env == null ? null : env.executorId();
    String who = id == null ? "this JVM" : "driver".equals(id) ? "the local executor" : "executor " + id;
    return who + " on host " + host();
  }

  /** The machine's name and the address Spark knows the executor by (as its UI and logs show it). */
  static String host() {
    String name;
    String address;
    try {
      InetAddress a = InetAddress.getLocalHost();
      name = a.getHostName();
      address = a.getHostAddress();
    } catch (Exception e) {
      name = System.getenv("HOSTNAME") != null ? System.getenv("HOSTNAME") : "unknown (" + e + ")";
      address = null;
    }
    try {
      SparkEnv env = SparkEnv.get();
      if (env != null && env.blockManager() != null && env.blockManager().blockManagerId() != null) {
        address = env.blockManager().blockManagerId().host();
      }
    } catch (RuntimeException e) {
      // not an executor yet: the JVM's own address
    }
    return address == null || address.equals(name) ? name : name + " (" + address + ")";
  }
}
