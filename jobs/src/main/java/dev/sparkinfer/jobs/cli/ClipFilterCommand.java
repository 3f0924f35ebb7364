package dev.sparkinfer.jobs.cli;

import dev.sparkinfer.jobs.clip.ClipJob;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code pipeline clip-filter}: clip-score, then only the pairs at or over a threshold. */
@Command(name = "clip-filter", mixinStandardHelpOptions = true, sortOptions = false,
    customSynopsis = "bin/pipeline clip-filter --model DIR --input PATH --output DIR (--min-cosine 0.28 | --keep-top-fraction 0.3) "
        + "[--image-col image] [--caption-col caption] [--image-root DIR] [--keep-cols a,b] [--emit-embeddings] ...",
    description = {"Keeps the image-caption pairs whose CLIP cosine is at least a threshold, as LAION (cosine >= 0.28 with ViT-B/32) "
        + "and DataComp (top 30 % by cosine with ViT-L/14) filter.",
        "--keep-top-fraction F: the threshold is the exact (1 - F) quantile of all cosines (numpy's default, linear), computed on "
            + "the cluster. The threshold, the counts kept and dropped and DIR/_cosine_histogram.png (threshold marked) go with "
            + "DIR/_SUMMARY.json. Output rows as clip-score's."},
    footer = {"", "Examples:",
        "  bin/pipeline clip-filter --model /models/clip-vit-base-patch32 --input pairs.parquet --output kept/ --min-cosine 0.28",
        "  bin/pipeline clip-filter --model /models/clip-vit-large-patch14 --input 'shards/*.tar' --output kept/ --keep-top-fraction 0.3",
        "", "Exit status: 0 done, 1 the job failed, 2 bad arguments, paths or model (nothing was run)."})
public final class ClipFilterCommand extends ClipScoreCommand {
  @Option(names = "--min-cosine", paramLabel = "X", description = "keep pairs with cosine >= X")
  Double minCosine;

  @Option(names = "--keep-top-fraction", paramLabel = "F", description = "keep the top F of pairs by cosine (exact quantile)")
  Double keepTopFraction;

  @Override
  ClipJob.Filter filter() { return new ClipJob.Filter(minCosine, keepTopFraction); }
}
