#!/usr/bin/env bash
# Nsight Compute summary (GPU machine) of the kernels matching KERNELS (regex, default prepare and sampler) for each
# "precision N C H W Cout og" in SHAPES (;-separated): duration, throughputs, occupancy and launch shape of the
# second call's kernels (the first call's are skipped: one-time setup). ncu flushes caches before each kernel.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
[ -f build/libdcn_shim.so ] || python3 -c "import sys; sys.path.insert(0,'bench'); import dcn_shim; dcn_shim.build()" > /dev/null 2>&1
IFS=';' read -ra shapes <<< "${SHAPES:-fp16 4 512 32 32 512 1;fp16 1 256 64 64 256 1;fp16 8 256 64 64 256 1}"
for s in "${shapes[@]}"; do
  echo "== $s"
  ncu -k "regex:${KERNELS:-prepareChunk|sampleColumns}" --launch-skip "${SKIP:-2}" -c "${COUNT:-2}" \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
    python3 bench/profile_deform_conv2d.py $s 2>&1 \
    | grep -E "^  [a-zA-Z].*\(|Duration|DRAM Throughput|Memory Throughput|L1/TEX Hit|L2 Hit|Compute \(SM\) Thr|Achieved Occupancy|Theoretical Occupancy|Registers Per|Grid Size|Block Size|Waves Per SM|Dynamic Shared|Block Limit (Reg|Sha|Warps)" \
    | sed -E 's/ +/ /g'
done
