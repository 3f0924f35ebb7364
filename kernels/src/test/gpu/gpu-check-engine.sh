#!/usr/bin/env bash
# The engine-runtime issue's GPU check, for a session with an NVIDIA machine: is there an NVIDIA OpenCL platform, do the
# kernels compute right there, and do real-size weights load (bytes held).
#
# Here (with Maven), pack:                        ../shared/device/gpu-kit --module kernels
# There, from the project root (.gpu/ beside):  bash kernels/src/test/gpu/gpu-check-engine.sh
#
# Prints, in this order: the GPU, its driver and OpenCL devices (probe); the kernel parity tests on the GPU (every op
# against the Java reference at awkward sizes, 16-bit and quantized weights, float banks, the decoder stack at LLaMA-1B
# widths with the full vocabulary); a LLaMA-3.2-1B-shaped bf16 decoder (random weights made there) loaded with the
# bytes it holds, prefill of 128 tokens and 16 cached decode steps; a CLIP ViT-L/14 vision tower in float32 (1.22 GB,
# float banks) loaded with its bytes and one layer checked against the Java reference. If NVIDIA OpenCL is missing or
# Aparapi fails, what it printed is the finding: keep it for the closing note.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
cd "$root"
[ -f .gpu/run ] || { echo "gpu-check-engine: no .gpu/ here: pack it first with ../shared/device/gpu-kit --module kernels" >&2; exit 2; }
run() { bash .gpu/run "$@"; }
status=0
echo "== device"
run probe
# libjsig keeps the JVM's signal handlers first when the OpenCL driver installs its own (kernels' SignalChaining); the
# runtime .gpu/run unpacks (at probe) has it
[ -f /tmp/jre/lib/libjsig.so ] && export LD_PRELOAD=/tmp/jre/lib/libjsig.so
echo "== kernel parity on the GPU"
run java dev.sparkinfer.kernels.bench.RunTests dev.sparkinfer.kernels.OpsParityTest dev.sparkinfer.kernels.QuantizedLinearParityTest \
  dev.sparkinfer.kernels.FloatArenaLimitTest dev.sparkinfer.kernels.DecoderStackParityTest dev.sparkinfer.kernels.DeviceRuntimeTest || status=1
echo "== LLaMA-3.2-1B-shaped bf16 decoder: bytes held, prefill 128, 16 decode steps"
timeout 300 bash .gpu/run java -Xmx12g dev.sparkinfer.kernels.bench.DecoderBenchmark --layers 16 --prompt 128 --steps 16 opencl || status=1
echo "== ViT-L/14 vision tower in float32: bytes held, one layer vs the Java reference"
timeout 300 bash .gpu/run java -Xmx8g dev.sparkinfer.kernels.bench.VitL14Float32Load opencl || status=1
exit $status
