#!/usr/bin/env bash
# Kernel-boundary study on the GPU machine: builds the test shim and VARIANTS (as tools/dev_dcn_compare.sh),
# runs the sampled kernel tests on each variant (TESTK, NCFG; 0 skips), then bench/experiments/dcn_timeline.py and
# the benchmark's tactic rows for SHAPES (fp16) with every shim in one process. Results in $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
# shellcheck source=tools/dcn_build_shims.sh
. "$(dirname "$0")/dcn_build_shims.sh"
if [ "${TESTK:-sampled}" != 0 ]; then
  for v in ${VARIANTS:-}; do n=${v%%=*}
    echo "tests of $n:"
    DCN_SHIM="build/$n.so" DCN_NUM_CONFIGS=${NCFG:-60} DCN_NUM_TACTIC_CONFIGS=12 timeout 200 python3 -m pytest \
      tests/gpu/test_deform_conv2d_kernels.py -q -x -p no:cacheprovider -k "${TESTK:-sampled}" 2>&1 | tail -3
  done
fi
# shellcheck disable=SC2086
timeout 150 python3 bench/experiments/dcn_timeline.py $shims --shapes "${TSHAPES:-${SHAPES:-N4,N1,N8}}" 2>&1 | tee "$OUT/timeline.txt"
# shellcheck disable=SC2086
timeout 300 python3 bench/bench_deform_conv2d.py $shims --algorithms tactic --shapes "${SHAPES:-N4,N1,N8}" \
  --dtypes fp16 --offset-groups "${OG:-1,4}" --out "$OUT" 2>&1 | grep -E "^\| "
