#!/usr/bin/env bash
# One entry point for the README's commands. Sets everything up on a bare machine (a virtual environment in
# .venv with PyTorch, ONNX, the TensorRT lean runtime and trtkit built from this tree), then:
#   tools/run.sh demo    export a MYSELU model under both exporters, check it, and run what this machine allows
#   tools/run.sh test    the test tiers (cpu always; trt where TensorRT headers were found; gpu where a GPU is)
# Environment: TENSORRT_INCLUDE_DIR (TensorRT headers: builds the plugin library), CMAKE_CUDA_ARCHITECTURES
# (default: Turing..Blackwell + PTX), TRTKIT_VENV (default .venv), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-test}"
shift || true
venv="${TRTKIT_VENV:-.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"
stamp="$venv/.trtkit-deps-v1"
if [ ! -f "$stamp" ]; then
  "$py" -m pip install -q --upgrade pip
  # torch 2.14.1 + torchvision 0.29.1 are the pair that imports together (deform_conv2d tests need both).
  "$py" -m pip install -q "torch==2.14.1" "torchvision==0.29.1" onnx onnxscript onnxruntime pytest ruff \
    scikit-build-core pybind11 ninja "cmake>=3.24" \
    "tensorrt-lean-cu13-bindings==11.4.0.106" "tensorrt-lean-cu13-libs==11.4.0.106" \
    2>&1 | grep -v "^WARNING: Location" || true
  "$py" -c "import torch, onnx, onnxscript" || { echo "dependencies did not install" >&2; exit 1; }
  touch "$stamp"
fi

build_args=()
if [ -n "${CMAKE_CUDA_ARCHITECTURES:-}" ]; then
  build_args+=("-Ccmake.define.CMAKE_CUDA_ARCHITECTURES=${CMAKE_CUDA_ARCHITECTURES}")
fi
if [ -n "${TENSORRT_INCLUDE_DIR:-}" ]; then
  build_args+=("-Ccmake.define.TENSORRT_INCLUDE_DIR=${TENSORRT_INCLUDE_DIR}")
fi
echo "== building trtkit (pip install .); log: build/pip-install.log =="
mkdir -p build
if ! "$py" -m pip install -v --no-build-isolation --no-deps ${build_args[@]+"${build_args[@]}"} . \
    >build/pip-install.log 2>&1; then
  tail -60 build/pip-install.log
  echo "trtkit did not build (full log: build/pip-install.log)" >&2
  exit 1
fi
"$py" - <<'PY'
import trtkit
info = trtkit.build_info()
if info.get("tensorrt_major"):
    print(f"TensorRT adapter: built for TensorRT {info.get('tensorrt_version')} ({trtkit.library_path()})")
else:
    print(f"TensorRT adapter: NOT built ({info.get('adapter_missing_reason')}); set TENSORRT_INCLUDE_DIR to build it")
PY

case "$what" in
  demo) exec "$venv/bin/trtkit" demo "$@" ;;
  test)
    # Run from a folder outside the tree so tests import the installed package, not python/trtkit.
    exec "$py" -m pytest "$PWD/tests" -ra -q -p no:cacheprovider --rootdir "$PWD" "$@" ;;
  *) echo "usage: tools/run.sh demo|test [args]" >&2; exit 2 ;;
esac
