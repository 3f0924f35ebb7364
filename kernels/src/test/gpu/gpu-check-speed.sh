#!/usr/bin/env bash
# The GPU check of the matmul kernels and launch overhead, for a session with an NVIDIA machine.
#
# Here (with Maven), pack the kernels module:   ../shared/device/gpu-kit --module kernels
#   (--module models packs the kernels too, and adds MiniLM end to end with the old and the new kernels)
# There, from the project root (.gpu/ beside):  bash kernels/src/test/gpu/gpu-check-speed.sh [--quick]
#   (or: bash .gpu/run bash kernels/src/test/gpu/gpu-check-speed.sh)
#
# Prints, in this order: the GPU and its OpenCL device; the blocked matmul's and the fused attention's parity tests on
# the GPU (and OpsParityTest, old kernels included); what one Aparapi launch costs on each OpenCL
# device; Linear GFLOP/s with the old (tiled: one output per work-item) and the new (blocked: 4 x 4 per work-item)
# kernel on MiniLM at 4096 tokens (4096x384x384, 4096x1536x384, 4096x384x1536), ViT-B/32 at 1600 (1600x768x768,
# 1600x3072x768) and LLaMA-1B at 256 (256x2048x2048, 256x8192x2048), shapes as M x N(out) x K(in); attention with
# the split and the fused kernel (MiniLM and ViT-B/32 shapes, a LLaMA-1B causal prefill of 1,024 tokens, decode steps of
# 16 sequences over LLaMA-1B's and LLaVA-7B's KV caches in GB/s); then PyTorch on the matmul shapes, fp32 with TF32 off
# (the fair reference), TF32 and fp16. --quick: parity and launches only.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
cd "$root"
[ -f .gpu/run ] || { echo "gpu-check-speed: no .gpu/ here: pack it first with ../shared/device/gpu-kit --module kernels" >&2; exit 2; }
run() { bash .gpu/run "$@"; }
status=0

echo "== device"
run probe
# libjsig keeps the JVM's signal handlers first when the OpenCL driver installs its own (kernels' SignalChaining); the
# runtime .gpu/run unpacks (at probe) has it
[ -f /tmp/jre/lib/libjsig.so ] && export LD_PRELOAD=/tmp/jre/lib/libjsig.so
echo "== parity on the GPU: BlockedMatmulParityTest, FusedAttentionParityTest, OpsParityTest"
run java dev.sparkinfer.kernels.bench.RunTests dev.sparkinfer.kernels.BlockedMatmulParityTest dev.sparkinfer.kernels.FusedAttentionParityTest \
  dev.sparkinfer.kernels.OpsParityTest || status=1
echo "== launch overhead"
run java dev.sparkinfer.kernels.bench.LaunchOverheadBenchmark --launches 2000 || status=1
[ "${1:-}" = "--quick" ] && exit $status
echo "== Linear GFLOP/s, old (tiled) and new (blocked) kernel"
run java dev.sparkinfer.kernels.bench.MatmulBenchmark --shapes gpu --kernels tiled,blocked opencl || status=1
echo "== attention, split (3 launches, scores in global memory) and fused (1 launch, scores in local memory)"
run java dev.sparkinfer.kernels.bench.AttentionBenchmark --kernels split,fused || status=1
torch=0
run python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null && torch=1
echo "== PyTorch on the same shapes"
if [ $torch = 1 ]; then run python3 kernels/src/test/python/torch_matmul.py gpu || status=1; else echo "no PyTorch with CUDA here: not run"; fi
# end to end, where the kit was packed with --module models (which carries the kernels' classes too)
if ls .gpu/lib/models-test-classes.jar >/dev/null 2>&1; then
  echo "== MiniLM shape end to end (random weights, batch 256 x 128): old kernels (tiled, split), then auto (blocked, fused)"
  JAVA_OPTS="-Dsparkinfer.matmul.kernel=tiled -Dsparkinfer.attention.kernel=split" \
    run java dev.sparkinfer.models.bench.MiniLmShapeBenchmark --dir /tmp/minilm-shape opencl || status=1
  run java dev.sparkinfer.models.bench.MiniLmShapeBenchmark --dir /tmp/minilm-shape opencl || status=1
  if [ $torch = 1 ]; then run python3 models/src/test/python/torch_minilm.py /tmp/minilm-shape 256 128 8 || status=1; fi
fi
exit $status
