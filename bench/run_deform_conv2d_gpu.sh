#!/usr/bin/env bash
# One GPU-machine call for DeformConv2d: builds the kit (_C) and kernel shims (variants), runs the GPU tests
# (kernels, eager CUDA op, compute-sanitizer memcheck + racecheck) and the benchmark. Logs under $OUT (or build/).
# Usage: bench/run_deform_conv2d_gpu.sh [variant flags...]   e.g. "s3=-DTRTKIT_DCN_STAGES=3"
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-build/gpu-logs}"
mkdir -p "$out" build
export PYTHONUNBUFFERED=1 PYTHONPATH=python
py=python3
inc="-Iplugins/deform_conv2d -Icsrc/core"
src="bench/dcn_shim.cu plugins/deform_conv2d/deform_conv2d.cu"
flags="-O3 -std=c++17 -arch=sm_90 -shared -Xcompiler -fPIC -lineinfo $inc $src"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$out/device.txt"
nvcc --version | tail -2 >>"$out/device.txt"
shims=(--shim "kit=build/libdcn_shim.so")
(nvcc $flags -Xptxas -v -o build/libdcn_shim.so >"$out/ptxas.txt" 2>&1) &
for v in "$@"; do
  name="${v%%=*}"; vflags="${v#*=}"
  (nvcc $flags $vflags -o "build/$name.so" >"build/nvcc_$name.txt" 2>&1) &
  shims+=(--shim "$name=build/$name.so")
done
(cmake -S . -B build/gpu -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 -DTRTKIT_INPLACE=ON \
   -Dpybind11_DIR="$($py -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v $py)" >build/cmake.txt 2>&1 &&
 cmake --build build/gpu -j16 >build/build.txt 2>&1; echo "kit build rc $?") &
wait
grep -E "spill|Used" "$out/ptxas.txt" | sort | uniq -c | sort -rn | head -5
DCN_SHIM=build/libdcn_shim.so timeout 240 $py -m pytest tests/gpu -q -p no:cacheprovider -k "deform and not sanitizer" \
  2>&1 | tee "$out/tests.txt" | tail -4
for v in "$@"; do  # the kernel tests on every variant too
  name="${v%%=*}"
  echo "variant $name: $(DCN_SHIM=build/$name.so timeout 120 $py -m pytest tests/gpu/test_deform_conv2d_kernels.py -q \
    -p no:cacheprovider 2>&1 | tail -1)"
done
for tool in memcheck racecheck; do
  timeout 240 compute-sanitizer --tool $tool --error-exitcode 99 $py tests/gpu/sanitize_deform_conv2d.py >build/san.txt 2>&1
  echo "$tool rc $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' build/san.txt | head -1) $(grep -c 'done' build/san.txt) done" |
    tee -a "$out/tests.txt"
  grep -m3 -A12 -iE "hazard|invalid" build/san.txt | grep -v "0 hazards" | head -40
done
timeout 300 $py bench/bench_deform_conv2d.py "${shims[@]}" --out "$out" >build/bench.txt 2>&1
echo "bench rc $?"
grep "^|" build/bench.txt | tail -60
