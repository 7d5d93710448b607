#!/usr/bin/env bash
# Nsight Compute at the GPU's own clocks on one DeformConv2d kernel per case (GPU machine): duration, SM clock,
# issue-slot and FMA-pipe use, instruction counts (and stall reasons), to compare an FFMA kernel with cuBLAS's SGEMM.
# CASES: "algorithm:kernel-regex:precision N C H W Cout og" entries separated by ';'. Each case is one run of
# tools/dev_ncu_stalls.sh. Expects the shim built (build/libdcn_shim.so).
set -uo pipefail
IFS=';' read -ra cases <<<"${CASES:-pipelined:pipelined:fp32 8 256 64 64 256 1;sampled:gemm:fp32 8 256 64 64 256 1}"
for c in "${cases[@]}"; do
  algorithm=${c%%:*} rest=${c#*:} regex=${rest%%:*} args=${rest#*:}
  echo "== $algorithm ($regex): $args"
  ALGORITHM=$algorithm KERNEL=$regex PRECISION=${args%% *} SHAPES=${args#* } bash "$(dirname "$0")/dev_ncu_stalls.sh"
done
