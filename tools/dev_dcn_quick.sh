#!/usr/bin/env bash
# Kernel iteration on the GPU machine (device tool `run`): builds the DeformConv2d test shim and any variants,
# runs the pipelined kernel's GPU tests, then the benchmark. Environment: VARIANTS="name=-DFLAG[,-DFLAG2] ..."
# (benchmark switches of the .cu files), NCFG (random configs; 0 skips the tests), TESTK (pytest -k), SKIP_VARIANT_TESTS=1,
# ALGOS (default pipelined), PROFILE=--profile. Results land in $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
KIT_FLAGS="-Xptxas -v"
# shellcheck source=tools/dcn_build_shims.sh
. "$(dirname "$0")/dcn_build_shims.sh"
grep -A2 "pipelinedDeformConv" build/libdcn_shim.so.log | grep -E "Used|spill"
[ "${NCFG:-60}" = 0 ] || DCN_NUM_PIPELINED_CONFIGS=${NCFG:-60} timeout 240 python3 -m pytest tests/gpu/test_deform_conv2d_kernels.py -q -x -p no:cacheprovider -k "${TESTK:-pipelined}" 2>&1 | tail -4 | tee $OUT/tests.txt
[ -n "${SKIP_VARIANT_TESTS:-}" ] || for v in ${VARIANTS:-}; do n=${v%%=*}; echo "$n: $(DCN_SHIM=build/$n.so DCN_NUM_PIPELINED_CONFIGS=40 timeout 120 python3 -m pytest tests/gpu/test_deform_conv2d_kernels.py -q -x -p no:cacheprovider -k 'pipelined and (random or large)' 2>&1 | tail -1)"; done
timeout 300 python3 bench/bench_deform_conv2d.py $shims --algorithms ${ALGOS:-pipelined} ${PROFILE:-} --out $OUT 2>&1 | grep -v "^{" | grep -v "| fp32 |\|:fp32 |" | tail -70
