#!/usr/bin/env bash
# Nsight Compute on one DeformConv2d kernel (GPU machine): stall-reason sampling metrics, then the 50 SASS lines
# with the most stall samples. KERNEL (a regex, default pipelined) picks the kernel, PROF_ARGS="fp16 N C H W Cout og"
# the shape.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
python3 -c "import sys; sys.path.insert(0,'bench'); import dcn_shim; dcn_shim.build()" > /dev/null 2>&1
args=${PROF_ARGS:-"fp16 8 256 64 64 256 1"}
ncu -k "regex:${KERNEL:-pipelined}" -c 1 --metrics regex:smsp__pcsamp_warps_issue_stalled_.*,smsp__inst_executed.sum,sm__cycles_active.avg,l1tex__t_sector_hit_rate.pct python3 bench/profile_deform_conv2d.py $args 2>&1 | grep -vE "^==PROF==|^ *$|----" | awk '$NF != 0' | tail -40
ncu -k "regex:${KERNEL:-pipelined}" -c 1 --section SourceCounters --page source --print-source sass --csv python3 bench/profile_deform_conv2d.py $args > /tmp/src.csv 2>/dev/null
[ -n "${OUT:-}" ] && cp /tmp/src.csv "$OUT/ncu_source.csv"
python3 - <<'PY'
import csv
lines = open('/tmp/src.csv').read().splitlines()
# The table's header is the first CSV row with an Address and a Source column (a kernel-name row may come first).
start = next((i for i, l in enumerate(lines)
              if l.startswith('"') and any(c.strip().lower() in ("address", "# address") for c in next(csv.reader([l])))),
             None)
if start is None:
    raise SystemExit("no SASS table in ncu's CSV; its first lines:\n" + "\n".join(l[:160] for l in lines[:8]))
rows = list(csv.reader(lines[start:]))
hdr = rows[0]
print([h for h in hdr][:30])
def col(*names):
    for n in names:
        for i, h in enumerate(hdr):
            if n.lower() in h.lower(): return i
si = col("Warp Stall Sampling (All", "stall sampling (all"); src = col("Source"); addr = col("Address")
data = [r for r in rows[1:] if len(r) == len(hdr)]
def f(x):
    try: return float(x)
    except: return 0.0
tot = sum(f(r[si]) for r in data) or 1
top = sorted(data, key=lambda r: -f(r[si]))[:50]
for r in sorted(top, key=lambda r: int(r[addr], 16) if r[addr].startswith('0x') else 0):
    print(f"{f(r[si])/tot*100:5.1f}% {r[addr]} {r[src][:80]}")
PY
