set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
which ncu || ls /usr/local/cuda/bin | head
python3 -c "import sys; sys.path.insert(0,'bench'); import dcn_shim; dcn_shim.build()" > /dev/null 2>&1
args=${PROF_ARGS:-"fp16 8 256 64 64 256 1"}
ncu -k regex:pipelined -c 1 --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis --section Occupancy python3 bench/profile_deform_conv2d.py $args 2>&1 | grep -vE "^==PROF==|^ *$|----" | tail -80
ncu -k regex:pipelined -c 1 --section SourceCounters --page source --print-source sass --csv python3 bench/profile_deform_conv2d.py $args > /tmp/src.csv 2>/dev/null
python3 - <<'PY'
import csv, io
rows = list(csv.reader(io.StringIO(open('/tmp/src.csv').read().split('\n',1)[1] if not open('/tmp/src.csv').read().startswith('"') else open('/tmp/src.csv').read())))
hdr = rows[0]; print(hdr)
def col(name):
    for i,h in enumerate(hdr):
        if h.startswith(name): return i
    return None
si = col("Warp Stall Sampling (All"); src = col("Source"); addr = col("Address")
print("cols", si, src, addr)
data = [r for r in rows[1:] if len(r) == len(hdr)]
tot = sum(float(r[si] or 0) for r in data)
top = sorted(data, key=lambda r: -float(r[si] or 0))[:45]
for r in sorted(top, key=lambda r: int(r[addr], 16) if r[addr].startswith('0x') else 0):
    print(f"{float(r[si])/tot*100:5.1f}% {r[addr]} {r[src][:90]}")
PY
