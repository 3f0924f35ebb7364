#!/usr/bin/env bash
# deploy/stop-cluster.sh: stops what deploy/start-cluster.sh started (workers first, their executors with them, then
# the master), by the pid files of its work folder; a pid that no longer runs a Spark daemon is left alone.
#
#   deploy/stop-cluster.sh [--work-dir DIR]      (default: deploy/work)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/deploy/work"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work-dir) [[ $# -ge 2 ]] || { echo "deploy/stop-cluster.sh: --work-dir needs a folder" >&2; exit 2; }; work="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "deploy/stop-cluster.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -d "$work/pids" ]] || { echo "deploy/stop-cluster.sh: no cluster was started with --work-dir $work" >&2; exit 0; }

# is this pid still the daemon its file names (not a reused pid)?
ours() { [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "org.apache.spark.deploy.$2"; }

stop() { # pid-file class
  local f="$1" class="$2" pid
  pid="$(cat "$f")"
  if ours "$pid" "$class"; then
    kill "$pid" 2>/dev/null || true   # TERM: a worker's shutdown hook stops its executors
    for ((i = 0; i < 40; i++)); do ours "$pid" "$class" || break; sleep 0.25; done
    if ours "$pid" "$class"; then
      echo "deploy/stop-cluster.sh: $(basename "$f" .pid) (pid $pid) did not stop in 10 s; killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
    echo "stopped $(basename "$f" .pid) (pid $pid)"
  fi
  rm -f "$f"
}

shopt -s nullglob
for f in "$work"/pids/worker-*.pid; do stop "$f" worker.Worker; done
if [[ -f "$work/pids/master.pid" ]]; then stop "$work/pids/master.pid" master.Master; fi
