#!/usr/bin/env bash
# deploy/spark-submit.sh: Spark's spark-submit, run from the project's own Spark jars (no Spark distribution needed),
# with the JVM flags the driver needs on JDK 17. Takes spark-submit's arguments:
#
#   deploy/spark-submit.sh --master spark://HOST:7077 --class dev.sparkinfer.jobs.Main \
#     jobs/target/sparkinfer-jobs-0.1.0-SNAPSHOT-assembly.jar embed --input ... --output ...
#
# Standalone and local masters only: YARN and Kubernetes need Spark's spark-yarn / spark-kubernetes modules, which a
# Spark distribution's own bin/spark-submit has (README "Running on a cluster").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
launcher="$root/jobs/target/launcher"
[[ -f "$launcher/spark-classpath.txt" && -f "$launcher/jvm.options" ]] \
  || { echo "deploy/spark-submit.sh: $launcher is incomplete: build first (mvn -q -DskipTests package)" >&2; exit 2; }
# libjsig keeps the JVM's signal handlers when the OpenCL driver (PoCL, its LLVM) installs its own: without it Java's
# integer division by zero stops throwing and a JVM can die of SIGSEGV with no hs_err (kernels' SignalChaining)
jsig="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")/lib/libjsig.so"
[[ -f "$jsig" && ":${LD_PRELOAD:-}:" != *":$jsig:"* ]] && export LD_PRELOAD="$jsig${LD_PRELOAD:+:$LD_PRELOAD}"
# shellcheck disable=SC2046 # the JVM flags are one word each
exec java $(cat "$launcher/jvm.options") ${JAVA_OPTS:-} -Dlog4j2.configurationFile="$launcher/log4j2.properties" \
  -cp "$(cat "$launcher/spark-classpath.txt")" org.apache.spark.deploy.SparkSubmit "$@"
