#!/usr/bin/env bash
# Builds and runs cublaslt_algos.cu against the cuBLAS of the installed nvidia-cublas wheel (torch's).
set -euo pipefail
cd "$(dirname "$0")"
nv=$(python3 -c "import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], 'cu13'))")
nvcc -O2 -arch=sm_90 -I"$nv/include" cublaslt_algos.cu -L"$nv/lib" -l:libcublasLt.so.13 -l:libcublas.so.13 \
  -o /tmp/cublaslt_algos
LD_LIBRARY_PATH="$nv/lib:${LD_LIBRARY_PATH:-}" /tmp/cublaslt_algos
