package dev.sparkinfer.jobs;

import dev.sparkinfer.jobs.cli.EmbedCommand;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The command line: {@code bin/pipeline <job> [options]} (or {@code spark-submit --class dev.sparkinfer.jobs.Main
 * <assembly jar> <job> ...}). Exit status 0 done, 1 the job failed, 2 bad arguments, paths or model.
 */
@Command(name = "pipeline", mixinStandardHelpOptions = true, version = "sparkinfer 0.1.0",
    customSynopsis = "bin/pipeline <job> --input PATH --output DIR [options]   (bin/pipeline <job> --help for a job's options)",
    description = "Batch inference on Spark: jobs read a corpus, run a model over it in Arrow batches and write the results.",
    subcommands = {EmbedCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  public static final int EXIT_FAILED = 1;
  public static final int EXIT_USAGE = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "name a job, e.g. 'embed'");
  }

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs the command line and returns the exit status (tests call this). */
  public static int execute(String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setCaseInsensitiveEnumValuesAllowed(true);
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      PrintWriter err = cmd.getErr();
      if (e instanceof UsageException || e instanceof IllegalArgumentException) {
        err.println("error: " + e.getMessage());
        err.println("usage: " + cmd.getCommandSpec().usageMessage().customSynopsis()[0]);
        err.println("(" + cmd.getCommandSpec().qualifiedName() + " --help for all options)");
        return EXIT_USAGE;
      }
      err.println(cmd.getCommandName() + " failed: " + e);
      e.printStackTrace(err);
      return EXIT_FAILED;
    });
    return cli.execute(args);
  }
}
