#!/usr/bin/env bash
# One GPU-machine command for the im2col + cuBLAS deform_conv2d experiment: builds the .so (nvcc sm_90, cuBLAS
# from the torch venv's nvidia-cublas package or the CUDA toolkit), checks it against torchvision in float64,
# benchmarks the four issue shapes, prints the markdown table last. JSON + markdown + log under $OUT (or
# bench/experiments/results/). Usage: bash bench/experiments/run_gpu.sh [--quick] [--cap-mib 256] [--skip-check]
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
py="${PY:-python3}"
out="${OUT:-bench/experiments/results}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
nvcc --version | tail -1
timeout 225 "$py" bench/experiments/dcn_im2col_cublas.py "$@" >"$out/dcn_im2col_cublas.log" 2>&1
rc=$?
grep -E "^(build|check FAIL|checks:|peaks:|bench |Traceback|RuntimeError|  File|[A-Za-z]*Error)" \
  "$out/dcn_im2col_cublas.log" | cut -c1-200 | head -60
sed -n '/^# deform_conv2d: im2col/,$p' "$out/dcn_im2col_cublas.log"
grep -q "^# deform_conv2d: im2col" "$out/dcn_im2col_cublas.log" || tail -25 "$out/dcn_im2col_cublas.log"
echo "run_gpu.sh: python rc $rc (0 = checks passed and the benchmark ran; 124 = timeout)"
exit $rc
