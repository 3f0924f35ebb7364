package dev.sparkinfer.jobs;

import dev.sparkinfer.jobs.bench.EmbedJobBenchmark;
import dev.sparkinfer.jobs.cli.EmbedCommand;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The command line: {@code bin/pipeline <job> [options]} (or {@code spark-submit --class dev.sparkinfer.jobs.Main
 * <assembly jar> <job> ...}). Exit status 0 done, 1 the job failed, 2 bad arguments, paths or model.
 */
@Command(name = "pipeline", mixinStandardHelpOptions = true, version = "sparkinfer 0.1.0",
    customSynopsis = {"bin/pipeline <job> --input PATH --output DIR [options]", "bin/pipeline <job> --help"},
    description = "Batch inference on Spark: jobs read a corpus, run a model over it in Arrow batches and write the results.",
    subcommands = {EmbedCommand.class, dev.sparkinfer.jobs.cli.TeacherLabelsCommand.class, dev.sparkinfer.jobs.cli.GenerateCommand.class, dev.sparkinfer.jobs.cli.ClipScoreCommand.class, dev.sparkinfer.jobs.cli.ClipFilterCommand.class, dev.sparkinfer.jobs.cli.ClipClassifyCommand.class, dev.sparkinfer.jobs.cli.CaptionCommand.class, EmbedJobBenchmark.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  public static final int EXIT_FAILED = 1;
  public static final int EXIT_USAGE = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "name a job, e.g. 'embed'");
  }

  private static String firstLine(Throwable t) {
    String s = t.toString();
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs the command line and returns the exit status. */
  public static int execute(String... args) {
    return execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
  }

  /** Runs the command line with the given output streams (tests call this) and returns the exit status. */
  public static int execute(PrintWriter out, PrintWriter err, String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setCaseInsensitiveEnumValuesAllowed(true);
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      PrintWriter w = cmd.getErr();
      if (e instanceof UsageException || e instanceof IllegalArgumentException) {
        w.println("error: " + e.getMessage());
        w.println("usage: " + cmd.getCommandSpec().usageMessage().customSynopsis()[0]);
        w.println("(bin/" + cmd.getCommandSpec().qualifiedName() + " --help for all options)");
        return EXIT_USAGE;
      }
      // Spark wraps the cause deeply: the chain of first lines says what happened, the trace follows
      w.println(cmd.getCommandName() + " failed: " + firstLine(e));
      for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) w.println("  caused by: " + firstLine(c));
      w.println("(full trace below)");
      e.printStackTrace(w);
      return EXIT_FAILED;
    });
    return cli.execute(args);
  }
}
