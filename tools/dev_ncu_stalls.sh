#!/usr/bin/env bash
# Nsight Compute's stall reasons for one kernel per shim and shape (GPU machine, clocks not locked, third call
# profiled): duration, SM clock, issue-slot and FMA-pipe use, instruction counts, eligible warps and, per issued
# instruction, the warps stalled for each reason; with
# SOURCE=1 also the per-SASS-instruction stall samples ($OUT/<shim>-<N>.sass.csv.gz). SHIMS: built shims; SHAPES:
# "N C H W Cout og" entries separated by ';'; PRECISION (fp32), ALGORITHM (pipelined), KERNEL (regex), EXTRA_METRICS.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
metrics=gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second,smsp__issue_active.avg.pct_of_peak_sustained_active
metrics=$metrics,smsp__inst_executed.sum,smsp__inst_executed_pipe_fma.sum
metrics=$metrics,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active,smsp__warps_eligible.avg.per_cycle_active
metrics=$metrics,regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio
metrics=$metrics,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active
metrics=$metrics${EXTRA_METRICS:+,$EXTRA_METRICS}
IFS=';' read -ra shapes <<<"${SHAPES:-8 256 64 64 256 1;4 512 32 32 512 1}"
for shape in "${shapes[@]}"; do
  for so in ${SHIMS:-build/libdcn_shim.so}; do
    echo "== $so: ${PRECISION:-fp32} $shape"
    name=$(basename "$so" .so)-${shape%% *}
    sections=()
    [ "${SOURCE:-0}" = 1 ] && sections=(--section SourceCounters --import-source no -o "/tmp/$name" -f)
    # shellcheck disable=SC2086
    DCN_PROFILE_ALGORITHM=${ALGORITHM:-pipelined} timeout 240 ncu --clock-control none \
      -k "regex:${KERNEL:-${ALGORITHM:-pipelined}}" --launch-skip 2 -c 1 --metrics "$metrics" "${sections[@]}" \
      python3 bench/profile_deform_conv2d.py "${PRECISION:-fp32}" $shape "$so" >"/tmp/$name.txt" 2>&1
    if [ "${SOURCE:-0}" = 1 ]; then
      ncu -i "/tmp/$name.ncu-rep" --page raw --metrics "$metrics" >>"/tmp/$name.txt" 2>&1
      ncu -i "/tmp/$name.ncu-rep" --page source --csv --print-source sass 2>&1 | gzip >"${OUT:-/tmp}/$name.sass.csv.gz"
    fi
    grep -E "gpu__|sm__|smsp__|dram__|lts__|l1tex__" "/tmp/$name.txt" | grep -vE " 0$| 0\.0[0-4]$" | sed -E 's/smsp__average_warps_issue_stalled_//; s/_per_issue_active.ratio//' |
      awk '{printf "  %-60s %s %s\n", $1, $2, $3}' | cut -c1-100
  done
done
