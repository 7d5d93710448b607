#!/usr/bin/env bash
# Builds and runs cublaslt_algos.cu (or, with the argument row_bias, cublaslt_row_bias.cu) against the cuBLAS of
# the installed nvidia-cublas wheel (torch's).
set -euo pipefail
cd "$(dirname "$0")"
case "${1:-algos}" in layouts) src=cublas_layouts ;; *) src=cublaslt_${1:-algos} ;; esac
nv=$(python3 -c "import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], 'cu13'))")
nvcc -O2 -arch=sm_90 -I"$nv/include" "$src.cu" -L"$nv/lib" -l:libcublasLt.so.13 -l:libcublas.so.13 -o "/tmp/$src"
LD_LIBRARY_PATH="$nv/lib:${LD_LIBRARY_PATH:-}" "/tmp/$src"
