package dev.sparkinfer.kernels.bench;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintWriter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.engine.TestExecutionResult;

/**
 * Runs JUnit test classes from a plain {@code java} command, for machines without Maven (the GPU machines:
 * {@code bash .gpu/run java dev.sparkinfer.kernels.bench.RunTests dev.sparkinfer.kernels.OpsParityTest}). Prints each
 * failure and a closing line "N passed, N failed, N skipped"; exit status 1 when anything failed.
 */
public final class RunTests {
  public static void main(String[] args) {
    LauncherDiscoveryRequestBuilder b = LauncherDiscoveryRequestBuilder.request();
    for (String c : args) b.selectors(selectClass(c));
    LauncherDiscoveryRequest request = b.build();
    Launcher launcher = LauncherFactory.create();
    SummaryGeneratingListener summary = new SummaryGeneratingListener();
    boolean verbose = Boolean.getBoolean("runtests.verbose");
    TestExecutionListener failures = new TestExecutionListener() {
      @Override
      public void executionStarted(TestIdentifier id) {
        if (verbose && id.isTest()) System.out.println("START " + id.getDisplayName());
      }

      @Override
      public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        if (id.isTest() && result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
          System.out.println(result.getStatus() + ": " + id.getDisplayName() + " -- "
              + result.getThrowable().map(Throwable::getMessage).orElse(""));
        }
      }

      @Override
      public void executionSkipped(TestIdentifier id, String reason) {
        System.out.println("SKIPPED: " + id.getDisplayName() + " -- " + reason);
      }
    };
    launcher.execute(request, summary, failures);
    var s = summary.getSummary();
    s.printTo(new PrintWriter(System.out));
    long failed = s.getTotalFailureCount();
    System.out.println(s.getTestsSucceededCount() + " passed, " + failed + " failed, " + s.getTestsSkippedCount() + " skipped");
    System.exit(failed == 0 ? 0 : 1);
  }
}
