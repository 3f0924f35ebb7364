#!/usr/bin/env bash
# deploy/gpu-discovery.sh: Spark's GPU discovery script (spark.worker.resource.gpu.discoveryScript,
# spark.executor.resource.gpu.discoveryScript): prints this machine's GPUs as Spark's resource JSON,
#   {"name":"gpu","addresses":["0","1"]}
# Address N is the N-th GPU; a task given address N runs its OpenCL engine on the N-th OpenCL GPU
# (sparkinfer.opencl.device=#N, see README "Running on a cluster"). Where the addresses come from, first found:
#   SPARKINFER_GPU_ADDRESSES=0,1   (a fixed list, e.g. to keep GPUs out of Spark's hands)
#   nvidia-smi                     (its indices)
#   clinfo --raw                   (the ordinals of OpenCL GPU and accelerator devices, platform order)
# No GPU: an empty list.
set -euo pipefail

addresses=()
if [[ -n "${SPARKINFER_GPU_ADDRESSES:-}" ]]; then
  IFS=, read -r -a addresses <<<"$SPARKINFER_GPU_ADDRESSES"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  mapfile -t addresses < <(nvidia-smi --query-gpu=index --format=csv,noheader | tr -d ' ')
elif command -v clinfo >/dev/null 2>&1; then
  n=0
  while read -r type; do
    addresses+=("$n")
    n=$((n + 1))
  done < <(clinfo --raw 2>/dev/null | awk '$2 == "CL_DEVICE_TYPE" && ($3 ~ /GPU|ACCELERATOR/) {print $3}')
fi

list=""
for a in "${addresses[@]}"; do [[ -n "$a" ]] && list="$list${list:+,}\"$a\""; done
printf '{"name":"gpu","addresses":[%s]}\n' "$list"
