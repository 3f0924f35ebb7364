#!/usr/bin/env bash
# deploy/start-cluster.sh: a Spark standalone master and N workers on this machine, from the project's own jars
# (Master and Worker ship in spark-core: no Spark distribution is needed).
#
#   deploy/start-cluster.sh --host 10.0.0.5 --port 7077 --workers 2 --cores 8 --memory 24g --secret ~/.sparkinfer-secret
#   deploy/start-cluster.sh --join spark://10.0.0.5:7077 --host 10.0.0.6 --workers 1 --gpus 2 --secret ~/.sparkinfer-secret
#   deploy/stop-cluster.sh [--work-dir DIR]
#
# Build first (mvn -q -DskipTests package, or bin/pipeline once): the daemons and their executors run on the jars of
# jobs/target/launcher/spark-classpath.txt (Spark and its libraries, what a Spark distribution holds); the jobs' own
# code reaches executors through spark.jars (bin/pipeline and spark-submit ship it), never through this classpath.
#
# Options (defaults in brackets):
#   --host H          address the daemons bind to and advertise [127.0.0.1]
#   --port P          master port [7077]; the master URL is spark://H:P
#   --webui-port P    master web UI port [8080]; workers take free ports
#   --workers N       workers to start on this machine [1]; 0 with --join makes no sense, 0 without it: a master alone
#   --cores C         cores each worker offers [all of this machine's / N]
#   --memory M        memory each worker offers to executors, e.g. 4g [1g]
#   --gpus G          GPUs each worker offers (Spark resource "gpu"); addresses from deploy/gpu-discovery.sh, split
#                     between this machine's workers (worker i gets addresses i*G .. i*G+G-1) [0]
#   --secret FILE     turn on spark.authenticate with the secret in FILE (made, random, mode 600, when missing); give
#                     the driver the same file: SPARKINFER_AUTH_SECRET_FILE=FILE bin/pipeline ... --master spark://...
#   --join URL        start workers only, for the master at URL (another machine)
#   --work-dir DIR    pid files, logs, the workers' folders and the executors' Spark home [deploy/work]
#   --classpath CP    the daemons' classpath, ':'-separated [jobs/target/launcher/spark-classpath.txt's]
#   --daemon-memory M heap of the master and worker JVMs themselves [512m]
#   --wait S          seconds to wait for the workers to register [90]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
launcher="$root/jobs/target/launcher"

host=127.0.0.1
port=7077
webui=8080
workers=1
cores=""
memory=1g
gpus=0
secret=""
join=""
work="$root/deploy/work"
classpath=""
daemon_memory=512m
wait_s=90

die() { echo "deploy/start-cluster.sh: $*" >&2; exit 2; }
need() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (deploy/start-cluster.sh --help)"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --host) need "$@"; host="$2"; shift 2 ;;
    --port) need "$@"; port="$2"; shift 2 ;;
    --webui-port) need "$@"; webui="$2"; shift 2 ;;
    --workers) need "$@"; workers="$2"; shift 2 ;;
    --cores) need "$@"; cores="$2"; shift 2 ;;
    --memory) need "$@"; memory="$2"; shift 2 ;;
    --gpus) need "$@"; gpus="$2"; shift 2 ;;
    --secret) need "$@"; secret="$2"; shift 2 ;;
    --join) need "$@"; join="$2"; shift 2 ;;
    --work-dir) need "$@"; work="$2"; shift 2 ;;
    --classpath) need "$@"; classpath="$2"; shift 2 ;;
    --daemon-memory) need "$@"; daemon_memory="$2"; shift 2 ;;
    --wait) need "$@"; wait_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (deploy/start-cluster.sh --help)" ;;
  esac
done
for n in port webui workers gpus wait_s; do
  [[ "${!n}" =~ ^[0-9]+$ ]] || die "--${n//_/-} must be a whole number, got '${!n}'"
done
[[ -z "$cores" || "$cores" =~ ^[1-9][0-9]*$ ]] || die "--cores must be a positive whole number, got '$cores'"
[[ "$memory" =~ ^[1-9][0-9]*[mMgG]$ ]] || die "--memory must be like 512m or 4g, got '$memory'"
[[ -z "$join" || "$join" =~ ^spark://[^/]+:[0-9]+$ ]] || die "--join must be a master URL spark://HOST:PORT, got '$join'"
if [[ -z "$cores" && "$workers" -gt 0 ]]; then cores=$(( $(nproc) / workers )); [[ "$cores" -ge 1 ]] || cores=1; fi

command -v java >/dev/null || die "java (JDK 17) is not on the PATH"
# libjsig keeps the JVM's signal handlers when the OpenCL driver (PoCL, its LLVM) installs its own: without it Java's
# integer division by zero stops throwing and a JVM can die of SIGSEGV with no hs_err (kernels' SignalChaining)
jsig="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")/lib/libjsig.so"
[[ -f "$jsig" && ":${LD_PRELOAD:-}:" != *":$jsig:"* ]] && export LD_PRELOAD="$jsig${LD_PRELOAD:+:$LD_PRELOAD}"
[[ -f "$launcher/jvm.options" ]] || die "$launcher/jvm.options is missing: build first (mvn -q -DskipTests package)"
if [[ -z "$classpath" ]]; then
  [[ -f "$launcher/spark-classpath.txt" ]] || die "$launcher/spark-classpath.txt is missing: build first (mvn -q -DskipTests package)"
  classpath="$(cat "$launcher/spark-classpath.txt")"
fi

mkdir -p "$work/logs" "$work/pids"
work="$(cd "$work" && pwd)"
if compgen -G "$work/pids/*.pid" >/dev/null; then
  for f in "$work"/pids/*.pid; do
    if kill -0 "$(cat "$f")" 2>/dev/null; then die "a cluster of $work is still running ($f): deploy/stop-cluster.sh --work-dir $work"; fi
  done
  rm -f "$work"/pids/*.pid
fi

# The executors' Spark home: a worker starts each executor with SPARK_HOME/jars/* as its classpath (Spark's launcher
# library), so that folder holds links to the daemons' jars; conf/ holds the executors' logging.
spark_home="$work/spark-home"
rm -rf "$spark_home/jars"
mkdir -p "$spark_home/jars" "$spark_home/conf"
IFS=: read -r -a entries <<<"$classpath"
for e in "${entries[@]}"; do
  [[ -z "$e" ]] && continue
  [[ -f "$e" && "$e" == *.jar ]] || die "classpath entry '$e' is not a jar file (executors' classpath is SPARK_HOME/jars/*)"
  link="$spark_home/jars/$(basename "$e")"
  # two jars of one name (different groups): the second gets a distinct link name
  [[ -L "$link" ]] && link="${link%.jar}-$(printf '%s' "$e" | cksum | cut -d' ' -f1).jar"
  ln -s "$e" "$link"
done
cat >"$spark_home/conf/log4j2.properties" <<'EOF'
# executors' and daemons' logging (deploy/start-cluster.sh): Spark's warnings, sparkinfer's info lines
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.sparkinfer.name = dev.sparkinfer
logger.sparkinfer.level = info
logger.master.name = org.apache.spark.deploy
logger.master.level = info
EOF

# Settings shared by the daemons, in a file only this user can read (the secret never appears on a command line)
conf="$work/spark-daemons.conf"
umask 077
: >"$conf"
if [[ -n "$secret" ]]; then
  if [[ ! -f "$secret" ]]; then
    mkdir -p "$(dirname "$secret")"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret"
    echo "deploy/start-cluster.sh: wrote a new secret to $secret (copy it to every machine of the cluster and the driver's)" >&2
  fi
  s="$(tr -d '\n' <"$secret")"
  [[ -n "$s" ]] || die "the secret file $secret is empty"
  printf 'spark.authenticate=true\nspark.authenticate.secret=%s\n' "$s" >>"$conf"
fi
umask 022

# GPUs: the addresses this machine has, split between its workers through a resources file each
addresses=()
if [[ "$gpus" -gt 0 ]]; then
  json="$("$root/deploy/gpu-discovery.sh")"
  read -r -a addresses <<<"$(sed 's/.*"addresses":\[\(.*\)\].*/\1/; s/[",]/ /g' <<<"$json")"
  (( ${#addresses[@]} >= gpus * workers )) || die "--gpus $gpus x --workers $workers needs $((gpus * workers)) GPUs; deploy/gpu-discovery.sh found ${#addresses[@]}: $json"
fi

# a failure from here on stops whatever this script started
trap 'rc=$?; if [[ $rc -ne 0 ]]; then "$root/deploy/stop-cluster.sh" --work-dir "$work" >&2 || true; fi' EXIT

export SPARK_HOME="$spark_home"
export SPARK_SCALA_VERSION=2.13   # the launcher library asks; there is no Spark build folder to tell it
# shellcheck disable=SC2207 # the JVM flags are one word each
jvm_flags=($(cat "$launcher/jvm.options"))

start_daemon() { # name class args...
  local name="$1" class="$2"
  shift 2
  nohup java "${jvm_flags[@]}" -Xmx"$daemon_memory" -cp "$classpath" \
    -Dlog4j2.configurationFile="$spark_home/conf/log4j2.properties" \
    "$class" --properties-file "$conf" "$@" >"$work/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$work/pids/$name.pid"
}

# the master's state from its web UI's JSON; without curl, from the logs
master_json() { curl -fsS --max-time 2 "http://$1/json/" 2>/dev/null; }
command -v curl >/dev/null || master_json() { grep -q "I have been elected leader" "$work/logs/master.log" && echo '{}'; }

if [[ -z "$join" ]]; then
  master="spark://$host:$port"
  start_daemon master org.apache.spark.deploy.master.Master --host "$host" --port "$port" --webui-port "$webui"
  ui="$host:$webui"
  for ((i = 0; i < wait_s * 2; i++)); do
    master_json "$ui" >/dev/null && break
    kill -0 "$(cat "$work/pids/master.pid")" 2>/dev/null || { tail -n 30 "$work/logs/master.log" >&2; die "the master exited (log: $work/logs/master.log)"; }
    sleep 0.5
  done
  master_json "$ui" >/dev/null || die "the master did not answer on http://$ui/json/ within ${wait_s}s (log: $work/logs/master.log)"
else
  master="$join"
  ui=""
fi

for ((w = 0; w < workers; w++)); do
  args=(--host "$host" --port 0 --webui-port 0 --cores "$cores" --memory "$memory" --work-dir "$work/worker-$w")
  if [[ "$gpus" -gt 0 ]]; then
    mine=("${addresses[@]:w*gpus:gpus}")
    res="$work/worker-$w-resources.json"
    printf '[{"id":{"componentName":"spark.worker","resourceName":"gpu"},"addresses":[%s]}]\n' \
      "$(printf '"%s",' "${mine[@]}" | sed 's/,$//')" >"$res"
    args+=(-Dspark.worker.resource.gpu.amount="$gpus" -Dspark.worker.resourcesFile="$res")
  fi
  mkdir -p "$work/worker-$w"
  # -D settings must precede the class: split them off
  dflags=()
  rest=()
  for a in "${args[@]}"; do if [[ "$a" == -D* ]]; then dflags+=("$a"); else rest+=("$a"); fi; done
  nohup java "${jvm_flags[@]}" -Xmx"$daemon_memory" "${dflags[@]}" -cp "$classpath" \
    -Dlog4j2.configurationFile="$spark_home/conf/log4j2.properties" \
    org.apache.spark.deploy.worker.Worker --properties-file "$conf" "${rest[@]}" "$master" \
    >"$work/logs/worker-$w.log" 2>&1 </dev/null &
  echo $! >"$work/pids/worker-$w.pid"
done

# Ready when the master lists the workers alive (with --join: when each worker's log says it registered)
registered() {
  if [[ -n "$ui" ]] && command -v curl >/dev/null; then
    local n
    n="$(master_json "$ui" | sed -n 's/.*"aliveworkers" *: *\([0-9]*\).*/\1/p')"
    [[ "${n:-0}" -ge "$workers" ]]
  else
    local w
    for ((w = 0; w < workers; w++)); do grep -q "Successfully registered with master" "$work/logs/worker-$w.log" || return 1; done
  fi
}
for ((i = 0; i < wait_s * 2; i++)); do
  registered && break
  for ((w = 0; w < workers; w++)); do
    kill -0 "$(cat "$work/pids/worker-$w.pid")" 2>/dev/null || { tail -n 30 "$work/logs/worker-$w.log" >&2; die "worker $w exited (log: $work/logs/worker-$w.log)"; }
  done
  sleep 0.5
done
registered || die "the workers did not register with $master within ${wait_s}s (logs: $work/logs/)"

echo "master: $master"
[[ -n "$ui" ]] && echo "web UI: http://$ui/"
if [[ "$workers" -gt 0 ]]; then
  echo "workers: $workers x ($cores cores, $memory$([[ "$gpus" -gt 0 ]] && echo ", $gpus GPUs")) on $host"
else
  echo "workers: none on this machine (add some elsewhere: deploy/start-cluster.sh --join $master ...)"
fi
echo "logs and pids: $work (stop with: deploy/stop-cluster.sh --work-dir $work)"
