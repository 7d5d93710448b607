"""Experiment: where the time of one deform_conv2d call goes between its kernels (H100; fp16 unless --dtype).

For each shim and shape: the layer's chosen tactic (as bench_deform_conv2d.py chooses it), its time as the
benchmark takes it (triton do_bench, L2 flushed before each call; three medians), and a CUPTI timeline of
ITERS calls, each after the same L2 flush, launched without synchronization so that the host runs ahead: each
kernel's start and end in microseconds after the flush kernel's end (medians over the calls). "lead" is the
first kernel's start after the flush: large values would mean that host-side launch time is in the measure.

    python bench/experiments/dcn_timeline.py --shim kit=build/libdcn_shim.so [--shim ...] [--shapes N4,N1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import bench_deform_conv2d as bd  # noqa: E402
import dcn_shim  # noqa: E402

ITERS = 8
FLUSH_BYTES = 256 << 20


def timeline(run) -> list[tuple[str, float, float]]:
    """(kernel, start, end) in us after the flush, medians over ITERS flushed calls."""
    cache = torch.empty(FLUSH_BYTES, dtype=torch.int8, device="cuda")
    run()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(ITERS):
            cache.zero_()
            run()
        torch.cuda.synchronize()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "trace.json"
        prof.export_chrome_trace(str(path))
        events = json.loads(path.read_text())["traceEvents"]
    kernels = sorted(
        (e for e in events if e.get("cat") in ("kernel", "gpu_memset") and "dur" in e), key=lambda e: e["ts"]
    )
    calls: list[list[tuple[str, float, float]]] = []
    for e in kernels:
        name = e["name"]
        if ("FillFunctor" in name or e.get("cat") == "gpu_memset") and e["dur"] > 30:  # the L2 flush
            calls.append([])
            flush_end = e["ts"] + e["dur"]
            continue
        if calls:
            calls[-1].append((name, e["ts"] - flush_end, e["ts"] + e["dur"] - flush_end))
    calls = [c for c in calls if c]
    width = min(len(c) for c in calls)
    out = []
    for i in range(width):
        out.append(
            (
                calls[0][i][0],
                statistics.median(c[i][1] for c in calls),
                statistics.median(c[i][2] for c in calls),
            )
        )
    return out


def short(name: str) -> str:
    for key in ("prepareChunk", "sampleColumns", "relayoutWeight", "pipelinedDeformConv", "nvjet", "Memset"):
        if key in name:
            i = name.find(key)
            return name[i : i + 34]
    return name[:34]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shim", action="append", default=[])
    ap.add_argument("--shapes", default="N4,N1,N8")
    ap.add_argument("--offset-groups", default="1")
    ap.add_argument(
        "--weight-layout", type=int, default=1, help="1 GEMM rows (trtkit.export), 0 torchvision's"
    )
    ap.add_argument("--dtype", default="fp16", choices=("fp16", "fp32", "tf32"))
    args = ap.parse_args()
    shims = {}
    for spec in args.shim:
        name, path = spec.split("=", 1)
        shims[name] = dcn_shim.Shim(Path(path))
    prefixes = args.shapes.split(",")
    for name, n, cin, h, w, cout, k in bd.SHAPES:
        if not any(name.startswith(p) for p in prefixes):
            continue
        for og in (int(v) for v in args.offset_groups.split(",")):
            dtype = torch.float16 if args.dtype == "fp16" else torch.float32
            tensors = bd.make_inputs(n, cin, h, w, cout, k, og, dtype)
            for label, shim in shims.items():
                tactic, _ = bd.choose_tactic(shim, tensors, og, args.dtype, args.weight_layout)
                (x, w, offset, mask, bias), kernel = bd.given(tensors, args.weight_layout, args.dtype)
                one = (1, 1)
                run = shim.prepare(
                    x, w, offset, mask, bias, one, one, one, 1, og, args.dtype, tactic=tactic, kernel=kernel
                )
                medians = [bd.bench_ms(run) * 1000 for _ in range(3)]
                times = " ".join(f"{m:.1f}" for m in medians)
                print(f"## {name} og{og} {label} tactic {tactic:#x}: do_bench us {times}")
                rows = timeline(run)
                print(f"   lead {rows[0][1]:.1f} us, last end {rows[-1][2]:.1f} us")
                for kname, start, end in rows:
                    print(f"   {short(kname):36s} {start:7.1f} {end:7.1f} ({end - start:5.1f})")


if __name__ == "__main__":
    main()
