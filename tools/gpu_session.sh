#!/usr/bin/env bash
# One call on the GPU machine (see README "Development"): build with TensorRT headers, run every tier, benchmark.
# Expects (carried, git-ignored): .whl/ with the cp312 TensorRT lean wheels, .carry/trt-headers/<ver>/include.
# Usage: tools/gpu_session.sh [pytest args...]; TRTKIT_TESTS="paths" narrows the tests (0: none); TRTKIT_BENCH=0 skips
# benchmarks, TRTKIT_BENCH="a.py b.py" picks, TRTKIT_BENCH_ARGS are passed to each, TRTKIT_BENCH_FIRST=1 runs them
# before the tests. Logs and results go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
OUT="${OUT:-/tmp/trtkit-out}"
mkdir -p "$OUT"
headers="${TRTKIT_HEADERS:-$PWD/.carry/trt-headers/11.1/include}"

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || { echo "lean runtime wheels did not install"; exit 1; }
export PYTHONPATH="$PWD/python:/tmp/site"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/device.txt"
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)" \
  | tee -a "$OUT/device.txt"

t0=$(date +%s)
cmake -S . -B build/gpu -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90a-real -DTRTKIT_INPLACE=ON \
  -DPython_EXECUTABLE="$(command -v python3)" -DTENSORRT_INCLUDE_DIR="$headers" >"$OUT/cmake.log" 2>&1 \
  && cmake --build build/gpu -j16 >"$OUT/build.log" 2>&1 \
  || { tail -40 "$OUT/cmake.log" "$OUT/build.log"; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"

run_tests() {
  [ "${TRTKIT_TESTS:-tests}" = 0 ] && return 0
  python3 -m pytest ${TRTKIT_TESTS:-tests} -q -ra -p no:cacheprovider --junitxml="$OUT/junit.xml" "$@" 2>&1 \
    | tee "$OUT/pytest.log" | tail -40
  return "${PIPESTATUS[0]}"
}
run_benches() {
  [ "${TRTKIT_BENCH:-all}" = 0 ] && return 0
  benches="${TRTKIT_BENCH:-all}"
  [ "$benches" = all ] && benches=$(ls bench/bench_*.py)
  for b in $benches; do
    echo "== $b"
    timeout 400 python3 "$b" ${TRTKIT_BENCH_ARGS:-} 2>&1 | tee -a "$OUT/bench.log" | tail -45
  done
}
status=0
if [ "${TRTKIT_BENCH_FIRST:-0}" = 1 ]; then
  run_benches
  run_tests "$@" || status=$?
else
  run_tests "$@" || status=$?
  run_benches
fi
# At most 8 files come back from the device machine: bundle the rest.
tar czf "$OUT/results.tgz" bench/results "$OUT"/*.txt "$OUT"/*.log "$OUT"/*.xml 2>/dev/null
exit "$status"
