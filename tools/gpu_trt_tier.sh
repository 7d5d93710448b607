#!/usr/bin/env bash
# The trt tier, GPU enqueue included, in one command on a machine with a GPU and no package registry:
#   tools/gpu_trt_tier.sh [pytest args]
# Needs: TensorRT headers (TENSORRT_INCLUDE_DIR, default .trt-headers/11.1/include, a git-ignored copy that
# travels with the tree) and the lean runtime wheels in .whl/ (git-ignored) unless tensorrt_lean_bindings
# already imports. Builds the plugin library + harness in build/gpu-trt (one CUDA arch: CUDA_ARCH, default 90)
# with TRTKIT_INPLACE=ON, then runs tests/trt (GPU tests included) against python/.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"
headers="${TENSORRT_INCLUDE_DIR:-$PWD/.trt-headers/11.1/include}"
if [ ! -f "$headers/NvInferRuntime.h" ]; then
  echo "no TensorRT headers at $headers (set TENSORRT_INCLUDE_DIR)" >&2
  exit 2
fi
if ! "$py" -c "import tensorrt_lean_bindings" 2>/dev/null; then
  shopt -s nullglob
  wheels=(.whl/tensorrt_lean_cu13_*.whl)
  if [ ${#wheels[@]} -eq 0 ]; then
    echo "tensorrt_lean_bindings is not importable and .whl/ holds no tensorrt_lean_cu13_* wheels" >&2
    exit 2
  fi
  "$py" -m pip install -q --no-index --no-deps "${wheels[@]}"
fi
mkdir -p build
cmake -S . -B build/gpu-trt -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" \
  -DTRTKIT_INPLACE=ON -DTENSORRT_INCLUDE_DIR="$headers" -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" \
  -DPython_EXECUTABLE="$(command -v "$py")" >build/gpu-trt.configure.log 2>&1 || {
  tail -40 build/gpu-trt.configure.log
  exit 1
}
cmake --build build/gpu-trt -j"$(nproc)"
PYTHONPATH="$PWD/python" exec "$py" -m pytest tests/trt -ra -q -p no:cacheprovider "$@"
