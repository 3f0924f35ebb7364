package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.io.InputFormat;
import dev.sparkinfer.jobs.write.OutputFormat;
import dev.sparkinfer.kernels.DeviceChoice;
import dev.sparkinfer.udf.TaskConfig;
import picocli.CommandLine.Option;

/** The flags every job shares; defaults are {@link JobConfig}'s constants. */
public final class CommonOptions {
  @Option(names = "--input", required = true, paramLabel = "PATH",
      description = "corpus: a file, a folder or a glob; file://, hdfs://, s3a:// (JSONL, Parquet, CSV or text)")
  String input;

  @Option(names = "--output", required = true, paramLabel = "DIR",
      description = "output folder; rejects go to DIR/_rejects/, the summary to DIR/_SUMMARY.json")
  String output;

  @Option(names = "--model", paramLabel = "MODEL", defaultValue = JobConfig.DEFAULT_MODEL,
      description = "'default' (all-MiniLM-L6-v2, built in) or a model folder in the Hugging Face layout (default: ${DEFAULT-VALUE})")
  String model;

  @Option(names = "--format", paramLabel = "FMT", defaultValue = "parquet",
      description = "output format: parquet, arrow (Arrow IPC files) or jsonl (default: ${DEFAULT-VALUE})")
  String format;

  @Option(names = "--device", paramLabel = "DEV", defaultValue = "auto",
      description = "auto (an OpenCL GPU if there is one, else the CPU engine), cpu (Java Vector API engine), "
          + "opencl (best OpenCL device, strict; PoCL on a CPU) or java (plain-Java reference) (default: ${DEFAULT-VALUE})")
  String device;

  @Option(names = "--master", paramLabel = "URL",
      description = "Spark master, e.g. local[4] or spark://host:7077 (default: spark-submit's, else " + JobConfig.DEFAULT_MASTER + ")")
  String master;

  @Option(names = "--batch-size", paramLabel = "N", defaultValue = "" + JobConfig.DEFAULT_BATCH_SIZE,
      description = "rows per Arrow batch sent to the model (default: ${DEFAULT-VALUE})")
  int batchSize;

  @Option(names = "--id-col", paramLabel = "NAME", defaultValue = JobConfig.DEFAULT_ID_COL,
      description = "id column of the corpus (default: ${DEFAULT-VALUE}); plain text uses file:line")
  String idCol;

  @Option(names = "--text-col", paramLabel = "NAME", defaultValue = JobConfig.DEFAULT_TEXT_COL,
      description = "text column of the corpus (default: ${DEFAULT-VALUE})")
  String textCol;

  @Option(names = "--overwrite", description = "replace an earlier output of this job (a folder holding only _SUMMARY.json, "
      + "_SUCCESS, part files and _rejects/); a folder holding anything else is refused")
  boolean overwrite;

  @Option(names = "--overwrite-any", description = "delete the --output folder whatever it holds, then write (use with care)")
  boolean overwriteAny;

  @Option(names = "--resume", description = "continue an interrupted run into the same --output: only the shards it did not "
      + "commit are computed (same arguments needed); an absent output starts a clean run")
  boolean resume;

  @Option(names = "--input-format", paramLabel = "FMT", defaultValue = "auto",
      description = "auto (from file names), jsonl, parquet, csv or text (default: ${DEFAULT-VALUE})")
  String inputFormat;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "0",
      description = "partitions to spread the corpus over; 0 = " + JobConfig.PARTITIONS_PER_CORE + " per core (default: ${DEFAULT-VALUE})")
  int partitions;

  @Option(names = "--max-text-chars", paramLabel = "N", defaultValue = "" + TaskConfig.DEFAULT_MAX_TEXT_CHARS,
      description = "texts longer than this are cut before tokenizing and flagged truncated (default: ${DEFAULT-VALUE})")
  int maxTextChars;

  /** The job configuration these flags describe; bad values fail with a message naming the flag. */
  JobConfig toConfig() {
    if (maxTextChars < 1) throw new IllegalArgumentException("--max-text-chars must be at least 1, got " + maxTextChars);
    TaskConfig task = new TaskConfig(maxTextChars, TaskConfig.DEFAULT_MAX_CONSECUTIVE_ROW_FAILURES);
    if (resume && (overwrite || overwriteAny)) {
      throw new IllegalArgumentException("--resume continues an output, --overwrite replaces it: pass one of them");
    }
    JobConfig.Overwrite ow = resume ? JobConfig.Overwrite.RESUME
        : overwriteAny ? JobConfig.Overwrite.ANY : overwrite ? JobConfig.Overwrite.OURS : JobConfig.Overwrite.NO;
    return new JobConfig(input, output, model, OutputFormat.parse(format), InputFormat.parse(inputFormat),
        DeviceChoice.parse(device), master, batchSize, idCol, textCol, ow, partitions,
        JobConfig.DEFAULT_SORT_WINDOW_BATCHES, JobConfig.DEFAULT_PROGRESS_MILLIS, JobConfig.DEFAULT_LOG_MILLIS, task, null);
  }
}
