#!/usr/bin/env bash
# Kernel iteration on the GPU machine (device tool `run`): builds the DeformConv2d test shim and variants of it
# (benchmark switches of the .cu files), runs the GPU kernel tests selected by TESTK on the default shim, then the
# benchmark with every shim in one process (same peers, same GPU state). Environment: VARIANTS="name=-DFLAG[,-DFLAG2]
# ...", TESTK (pytest -k; 0 skips the tests), NCFG (random configs), ALGOS (default sampled), BENCH_ARGS. Results
# (JSON and Markdown tables) land in $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
# shellcheck source=tools/dcn_build_shims.sh
. "$(dirname "$0")/dcn_build_shims.sh"
if [ "${TESTK:-sampled}" != 0 ]; then
  DCN_NUM_CONFIGS=${NCFG:-80} DCN_NUM_TACTIC_CONFIGS=${NCFG_TACTIC:-12} timeout 240 python3 -m pytest \
    tests/gpu/test_deform_conv2d_kernels.py -q -x -p no:cacheprovider -k "${TESTK:-sampled}" 2>&1 | tail -4 | tee "$OUT/tests.txt"
fi
# shellcheck disable=SC2086
timeout 360 python3 bench/bench_deform_conv2d.py $shims --algorithms "${ALGOS:-sampled}" ${BENCH_ARGS:-} --out "$OUT" 2>&1 \
  | grep -v "^{" | grep -E "^\| |measured|versions" | cut -c1-120 | tail -90
