#!/usr/bin/env bash
# Kernel variants on the GPU machine: builds the test shim and one shim per VARIANTS entry (tools/dcn_build_shims.sh),
# runs the GPU kernel tests selected by TESTK against every shim (DCN_SHIM), then the benchmark with every shim in
# one process. Environment: VARIANTS, TESTK (pytest -k, default pipelined), NCFG (random configs per test), ALGOS,
# BENCH_ARGS. Results land in $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
# shellcheck source=tools/dcn_build_shims.sh
. "$(dirname "$0")/dcn_build_shims.sh"
for s in $shims; do
  [ "$s" = --shim ] && continue
  name=${s%%=*} so=${s#*=}
  DCN_SHIM=$so DCN_NUM_CONFIGS=${NCFG:-40} DCN_NUM_PIPELINED_CONFIGS=${NCFG:-40} DCN_NUM_GEMM_ROWS_CONFIGS=${NCFG:-40} \
    timeout 200 python3 -m pytest tests/gpu/test_deform_conv2d_kernels.py -q -x -p no:cacheprovider \
    -k "${TESTK:-pipelined}" 2>&1 | tail -2 | sed "s/^/$name: /" | tee -a "$OUT/tests.txt"
done
# shellcheck disable=SC2086
timeout 360 python3 bench/bench_deform_conv2d.py $shims --algorithms "${ALGOS:-pipelined}" ${BENCH_ARGS:-} --out "$OUT" \
  2>&1 | grep -v "^{" | grep -E "^\| |measured|versions" | cut -c1-120 | tail -90
