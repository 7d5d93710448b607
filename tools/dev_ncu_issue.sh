#!/usr/bin/env bash
# Nsight Compute at the GPU's own clocks (--clock-control none) on one DeformConv2d kernel per case (GPU machine):
# duration, SM clock, issue-slot use, FMA-pipe use and instruction counts, to compare an FFMA kernel with cuBLAS's
# SGEMM. CASES: "algorithm:kernel-regex:precision N C H W Cout og" entries separated by ';'. The third call is
# profiled (two warm-ups). Expects the shim built (build/libdcn_shim.so).
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
metrics=gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second,smsp__issue_active.avg.pct_of_peak_sustained_active
metrics=$metrics,smsp__inst_executed.sum,smsp__inst_executed_pipe_fma.sum,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active
IFS=';' read -ra cases <<<"${CASES:-pipelined:pipelined:fp32 8 256 64 64 256 1;sampled:gemm:fp32 8 256 64 64 256 1}"
for c in "${cases[@]}"; do
  algorithm=${c%%:*} rest=${c#*:} regex=${rest%%:*} args=${rest#*:}
  echo "== $algorithm ($regex): $args"
  # shellcheck disable=SC2086
  DCN_PROFILE_ALGORITHM=$algorithm ncu --clock-control none -k "regex:$regex" --launch-skip 2 -c 1 --metrics "$metrics" \
    python3 bench/profile_deform_conv2d.py $args 2>&1 | grep -E "^  [a-z]|^ +(gpu__|sm__|smsp__)" | cut -c1-150
done
