package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.UsageException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;

/**
 * What a driver needs to set for a master that is not local (standalone, YARN, Kubernetes), where executors are other
 * JVMs that have Spark but not this project:
 * <ul>
 *   <li>{@code spark.jars}: the project's code. bin/pipeline runs the driver from the thin jar of {@code jobs/target/};
 *       executors get the assembly beside it and the model jars of {@code lib/} beside that (the default model's jar
 *       is kept out of the assembly). Under spark-submit the assembly is the application jar, which Spark already
 *       ships; the {@code lib/} jars beside it are added. A driver running from a classes folder (tests, an IDE) adds
 *       nothing: its caller sets {@code spark.jars}.</li>
 *   <li>{@code spark.executor.extraJavaOptions}: the JVM flags the project needs on Java 17 (the parent pom's
 *       {@code spark.jvm.opens}, copied into this jar as {@code jvm.options}), put before the user's own; above all
 *       {@code --add-modules=jdk.incubator.vector}, without which executors cannot run the CPU engine.</li>
 *   <li>{@code spark.authenticate}: on, with the secret read from the file named by {@code -Dsparkinfer.auth.secretFile}
 *       or {@code SPARKINFER_AUTH_SECRET_FILE} (what {@code deploy/start-cluster.sh --secret FILE} wrote), so the
 *       secret is on no command line.</li>
 * </ul>
 * Engine settings ({@code sparkinfer.*}) need nothing here: they travel inside the task factories ({@code EngineConfig}).
 */
public final class ClusterSettings {
  public static final String SECRET_FILE_PROPERTY = "sparkinfer.auth.secretFile";
  public static final String SECRET_FILE_ENV = "SPARKINFER_AUTH_SECRET_FILE";
  static final String VECTOR_FLAG = "--add-modules=jdk.incubator.vector";

  private ClusterSettings() {}

  /** Sets what executors on other JVMs need, keeping what the user set. */
  public static void apply(SparkConf conf) {
    shipJars(conf, codeSource());
    executorFlags(conf);
    authentication(conf, System.getProperty(SECRET_FILE_PROPERTY, System.getenv(SECRET_FILE_ENV)));
  }

  /** Where this class was loaded from: a jar, or a classes folder. */
  static Path codeSource() {
    try {
      return Path.of(ClusterSettings.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException | RuntimeException e) {
      return null;
    }
  }

  /** Adds the project's jars to {@code spark.jars} when the driver runs from one of the build's jars. */
  static void shipJars(SparkConf conf, Path self) {
    List<String> jars = jarsToShip(self);
    if (jars.isEmpty()) {
      if (conf.get("spark.jars", "").isBlank()) {
        System.getLogger("dev.sparkinfer.jobs").log(System.Logger.Level.WARNING, "the driver runs from " + self
            + ", not from the project's jars: executors get this project's classes only if spark.jars names them");
      }
      return;
    }
    Set<String> all = new LinkedHashSet<>();
    for (String j : conf.get("spark.jars", "").split(",")) if (!j.isBlank()) all.add(j.trim());
    Set<String> names = new LinkedHashSet<>();
    for (String j : all) names.add(j.substring(j.lastIndexOf('/') + 1));
    for (String j : jars) if (names.add(Path.of(j).getFileName().toString())) all.add(j);
    conf.set("spark.jars", String.join(",", all));
  }

  /**
   * The jars executors need, for a driver loaded from {@code self}: from the thin jar, the assembly beside it; from the
   * assembly, nothing more than itself; either way the jars of {@code lib/} beside it (the default model). Empty when
   * {@code self} is not one of the build's jars.
   */
  static List<String> jarsToShip(Path self) {
    if (self == null || !Files.isRegularFile(self) || !self.toString().endsWith(".jar")) return List.of();
    Path dir = self.toAbsolutePath().getParent();
    String name = self.getFileName().toString();
    List<String> jars = new ArrayList<>();
    if (name.endsWith("-assembly.jar")) {
      jars.add(self.toAbsolutePath().toString());
    } else if (name.startsWith("sparkinfer-jobs-")) {
      Path assembly = dir.resolve(name.substring(0, name.length() - ".jar".length()) + "-assembly.jar");
      if (!Files.isRegularFile(assembly)) {
        throw new UsageException("the driver runs from " + self + " but the assembly jar the executors need, " + assembly
            + ", is missing: build it with 'mvn -q -DskipTests package' (bin/pipeline does)");
      }
      jars.add(assembly.toString());
    } else {
      return List.of(); // a jar of another module: not a driver layout we know
    }
    Path lib = dir.resolve("lib");
    if (Files.isDirectory(lib)) {
      try (Stream<Path> s = Files.list(lib)) {
        s.filter(p -> p.toString().endsWith(".jar")).sorted().forEach(p -> jars.add(p.toAbsolutePath().toString()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return jars;
  }

  /** Puts the project's JVM flags before the user's {@code spark.executor.extraJavaOptions}, unless already there. */
  static void executorFlags(SparkConf conf) {
    String user = conf.get("spark.executor.extraJavaOptions", "").trim();
    if (Arrays.asList(user.split("\\s+")).contains(VECTOR_FLAG)) return;
    String ours = jvmFlags();
    conf.set("spark.executor.extraJavaOptions", user.isEmpty() ? ours : ours + " " + user);
  }

  /** The parent pom's {@code spark.jvm.opens}, as the build wrote it into this jar; the vector flag alone if absent. */
  static String jvmFlags() {
    try (InputStream in = ClusterSettings.class.getResourceAsStream("jvm.options")) {
      if (in == null) return VECTOR_FLAG;
      String flags = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim().replaceAll("\\s+", " ");
      return flags.isEmpty() || flags.contains("${") ? VECTOR_FLAG : flags;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** spark.authenticate with the secret of {@code secretFile}, when one is named and the user set no secret. */
  static void authentication(SparkConf conf, String secretFile) {
    if (secretFile == null || secretFile.isBlank() || conf.contains("spark.authenticate.secret")) return;
    Path f = Path.of(secretFile);
    String secret;
    try {
      secret = Files.readString(f, StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      throw new UsageException("cannot read the cluster's secret from " + f + " (" + SECRET_FILE_ENV + " / -D"
          + SECRET_FILE_PROPERTY + "): " + e.getMessage() + "; it is the file deploy/start-cluster.sh --secret wrote");
    }
    if (secret.isEmpty()) throw new UsageException("the cluster's secret file " + f + " is empty");
    conf.set("spark.authenticate", "true");
    conf.set("spark.authenticate.secret", secret);
  }
}
