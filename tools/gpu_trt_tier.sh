#!/usr/bin/env bash
# The trt tier with the GPU enqueue tests, in one command on the GPU machine (no package registry there):
#   tools/gpu_trt_tier.sh [pytest args]        e.g.  tools/gpu_trt_tier.sh -m gpu
# Same carried inputs as tools/gpu_session.sh: TensorRT headers (TRTKIT_HEADERS or TENSORRT_INCLUDE_DIR, default
# .carry/trt-headers/11.1/include) and the cp312 lean runtime wheels in .whl/ (used unless tensorrt_lean_bindings
# already imports). Builds everything in build/gpu-trt (CUDA_ARCH, default 90) with TRTKIT_INPLACE=ON, then
# runs tests/trt against python/.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"
headers="${TRTKIT_HEADERS:-${TENSORRT_INCLUDE_DIR:-$PWD/.carry/trt-headers/11.1/include}}"
if [ ! -f "$headers/NvInferRuntime.h" ]; then
  echo "no TensorRT headers at $headers (set TRTKIT_HEADERS)" >&2
  exit 2
fi
site=""
if ! "$py" -c "import tensorrt_lean_bindings" 2>/dev/null; then
  shopt -s nullglob
  wheels=(.whl/tensorrt_lean_cu13_*.whl)
  if [ ${#wheels[@]} -eq 0 ]; then
    echo "tensorrt_lean_bindings does not import and .whl/ holds no tensorrt_lean_cu13_* wheels" >&2
    exit 2
  fi
  site=/tmp/trtkit-site
  "$py" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$site" "${wheels[@]}"
fi
mkdir -p build
if ! cmake -S . -B build/gpu-trt -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" \
  -DTRTKIT_INPLACE=ON -DTENSORRT_INCLUDE_DIR="$headers" -DPython_EXECUTABLE="$(command -v "$py")" \
  >build/gpu-trt.configure.log 2>&1; then
  tail -40 build/gpu-trt.configure.log
  exit 1
fi
cmake --build build/gpu-trt -j"$(nproc)"
export PYTHONPATH="$PWD/python${site:+:$site}"
exec "$py" -m pytest tests/trt -ra -q -p no:cacheprovider "$@"
