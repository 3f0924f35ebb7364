package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.JobConfig;
import dev.sparkinfer.jobs.JobSummary;
import dev.sparkinfer.jobs.clip.ClipJob;
import dev.sparkinfer.kernels.EngineConfig;
import dev.sparkinfer.schemas.ClipScoresTable.EmbeddingDtype;
import dev.sparkinfer.udf.clip.ClipTaskConfig;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pipeline clip-score} and {@code pipeline clip-filter}: CLIP cosine of every image–caption pair (and the best kept). */
@Command(name = "clip-score", mixinStandardHelpOptions = true, sortOptions = false,
    customSynopsis = "bin/pipeline clip-score --model DIR --input PATH --output DIR [--image-col image] [--caption-col caption] "
        + "[--image-root DIR] [--keep-cols a,b] [--emit-embeddings [--embedding-dtype float16|float32]] [--device auto|cpu|opencl|java] ...",
    description = {"Scores every image-caption pair with a CLIP model (Hugging Face or OpenCLIP layout) on Spark.",
        "Output rows: id, cosine, clip_score (100 * max(cosine, 0)), caption_truncated, image_width, image_height, "
            + "[image_embedding, text_embedding], model, then --keep-cols. Bad images and captions go to DIR/_rejects/ with a reason; "
            + "DIR/_SUMMARY.json has the counts (by reason) and DIR/_cosine_histogram.png the distribution of cosines.",
        "Input: JSONL, CSV or Parquet with an id, an image (path or bytes) and a caption; or img2dataset's WebDataset .tar shards."},
    footer = {"", "Examples:",
        "  bin/pipeline clip-score --model /models/clip-vit-base-patch32 --input pairs.parquet --output scores/ --keep-cols url",
        "  bin/pipeline clip-score --model /models/clip-vit-base-patch32 --input 'shards/*.tar' --output scores/ --emit-embeddings",
        "", "Exit status: 0 done, 1 the job failed, 2 bad arguments, paths or model (nothing was run)."})
public class ClipScoreCommand implements Callable<Integer> {
  @Mixin CommonOptions options;
  @Mixin ImageOptions images;
  @Mixin ClipOptions clip;
  @Mixin WeightOptions weights;
  @Spec CommandSpec spec;

  @Option(names = "--emit-embeddings", description = "also write image_embedding and text_embedding (L2-normalised)")
  boolean emitEmbeddings;

  @Option(names = "--embedding-dtype", paramLabel = "DTYPE", defaultValue = "float16",
      description = "float16 (binary, little-endian halves, as clip-retrieval stores them) or float32 (array<float>) (default: ${DEFAULT-VALUE})")
  String embeddingDtype;

  /** clip-filter's rule; null here. */
  ClipJob.Filter filter() { return null; }

  @Override
  public Integer call() {
    JobConfig cfg = images.apply(options.toConfig(), clip.captionCol);
    String dir = ClipOptions.modelDir(cfg);
    EmbeddingDtype dtype = EmbeddingDtype.parse(embeddingDtype);
    ClipTaskConfig tc = ClipTaskConfig.score(dir, clip.tokenizerDir(dir), images.maxPixels, emitEmbeddings ? dtype : null);
    ClipJob.Filter f = filter();
    EngineConfig engine = weights.engine();
    ClipJob job = f == null ? ClipJob.score(tc, cfg.device(), engine) : ClipJob.filter(tc, cfg.device(), engine, f);
    return run(cfg, job, spec);
  }

  static int run(JobConfig cfg, ClipJob job, CommandSpec spec) {
    job.checkModel(); // before Spark starts
    JobSummary summary = Sessions.runJob(cfg, job);
    spec.commandLine().getOut().println(summary.oneLine());
    Object own = summary.toMap().get(job.name());
    if (own instanceof java.util.Map<?, ?> m && m.containsKey("threshold")) {
      spec.commandLine().getOut().printf(java.util.Locale.ROOT, "threshold %.6f: %s kept, %s dropped (%s)%n", m.get("threshold"),
          m.get("kept"), m.get("dropped"), m.get("rule"));
    }
    return 0;
  }
}
