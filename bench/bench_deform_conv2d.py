"""Benchmark: trtkit deform_conv2d kernels vs torchvision.ops.deform_conv2d vs dense cuDNN conv (same shape).

One run on a GPU writes bench/results/deform_conv2d_<device>.json (device, versions, date, every number) and a
markdown table beside it, and prints the table. Floors: FLOPs at the measured matrix rate of the precision,
bytes (every tensor read or written once) at the measured device-to-device copy bandwidth; the larger wins.

    python bench/bench_deform_conv2d.py [--shim NAME=PATH ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "python"))
import dcn_shim  # noqa: E402
from trtkit.ops.deform_conv2d import weight_rows  # noqa: E402

SHAPES = [  # name, N, Cin, H, W, Cout, k
    ("N8 C256 64x64", 8, 256, 64, 64, 256, 3),
    ("N1 C256 64x64", 1, 256, 64, 64, 256, 3),
    ("N4 C512 32x32", 4, 512, 32, 32, 512, 3),
    ("N16 C64 128x128", 16, 64, 128, 128, 64, 3),
]


def bench_ms(fn, warmup_ms: float = 25, rep_ms: float = 200) -> float:
    try:
        import triton.testing

        return float(triton.testing.do_bench(fn, warmup=warmup_ms, rep=rep_ms, return_mode="median"))
    except ImportError:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(10):
            fn()
        times = []
        for _ in range(50):
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return sorted(times)[len(times) // 2]


PEER_ROUNDS = 5


def peer_ms(fn) -> float:
    """The peers' time: the lowest of PEER_ROUNDS medians. A peer's first medians can run slow (torchvision at
    N1 C256 fp16: 0.19, 0.13, 0.14, 0.13, then 0.093 ms; bench/experiments/results), which made single-median
    runs report 0.09 or 0.25 ms. The kit's time stays one median: this errs against the kit."""
    return min(bench_ms(fn) for _ in range(PEER_ROUNDS))


def measure_peaks() -> dict:
    peaks = {}
    n = 8192
    for name, dtype, tf32 in (
        ("fp32", torch.float32, False),
        ("tf32", torch.float32, True),
        ("fp16", torch.float16, False),
        ("fp64", torch.float64, False),  # fp64 tensor cores: the strict-fp32 pipelined kernel's products
    ):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = torch.randn(n, n, device="cuda", dtype=dtype)
        b = torch.randn(n, n, device="cuda", dtype=dtype)
        ms = bench_ms(lambda: a @ b, rep_ms=300)  # noqa: B023
        peaks[f"gemm_{name}_tflops"] = 2 * n**3 / ms / 1e9
    torch.backends.cuda.matmul.allow_tf32 = False
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = bench_ms(lambda: dst.copy_(src))
    peaks["copy_tbps"] = 2 * src.numel() / ms / 1e9
    return peaks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shim", action="append", default=[], help="NAME=PATH of a built shim (default: build)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--algorithms",
        default="pipelined,sampled,fused,tactic",
        help="comma-separated: pipelined (fp16, TF32), sampled (cuBLAS), fused, auto, tactic (the fastest of "
        "the layer's IPluginV3 tactics, chosen as TensorRT's builder does, then timed afresh)",
    )
    ap.add_argument("--profile", action="store_true", help="print each kernel's share of one run")
    ap.add_argument("--shapes", default="", help="comma-separated prefixes of shape names (default: all)")
    ap.add_argument("--offset-groups", default="1,4", help="comma-separated offset groups")
    ap.add_argument("--dtypes", default="fp32,fp16", help="comma-separated: fp32 (strict and TF32), fp16")
    ap.add_argument(
        "--weight-layouts",
        default="1,0",
        help="comma-separated: 1 the weight as trtkit.export writes it (GEMM rows, node weight_layout=1: no "
        "per-call relayout), 0 torchvision's [Cout, Cin/g, kh, kw] (re-laid on every call); the labels of "
        "layout 0 end in '-oihw' where both are measured",
    )
    args = ap.parse_args()
    prefixes = [p for p in args.shapes.split(",") if p]
    built = {}
    for spec in args.shim:
        name, path = spec.split("=", 1)
        built[name] = dcn_shim.Shim(Path(path))
    if not built:
        built["kit"] = dcn_shim.Shim(dcn_shim.build())
    algorithms = args.algorithms.split(",")
    # (label, shim, algorithm): the label is the algorithm when one shim is measured
    layouts = [int(v) for v in args.weight_layouts.split(",")]
    shims = {}
    for name, shim in built.items():
        for a in algorithms:
            for layout in layouts:
                label = a if len(built) == 1 else f"{name}-{a}"
                shims[label + ("-oihw" if layout == 0 and len(layouts) > 1 else "")] = (shim, a, layout)
    blas_version = next(iter(built.values())).blas_version()
    import torchvision

    torch.backends.cudnn.benchmark = True
    peaks = measure_peaks()
    rows = []
    for name, n, cin, h, w, cout, k in SHAPES:
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        for og in (int(v) for v in args.offset_groups.split(",")):
            for dtype_name in args.dtypes.split(","):
                dtype = torch.float32 if dtype_name == "fp32" else torch.float16
                x, weight, offset, mask, bias = make_inputs(n, cin, h, w, cout, k, og, dtype)
                row = {"shape": name, "offset_groups": og, "dtype": dtype_name}
                flops = 2 * n * h * w * cout * cin * k * k
                nbytes = (
                    x.numel()
                    + offset.numel()
                    + mask.numel()
                    + weight.numel()
                    + bias.numel()
                    + n * cout * h * w
                ) * x.element_size()
                row["gflop"] = flops / 1e9
                row["mbytes"] = nbytes / 1e6

                def tv(x=x, offset=offset, weight=weight, bias=bias, mask=mask):
                    return torchvision.ops.deform_conv2d(x, offset, weight, bias, 1, 1, 1, mask)

                row["torchvision_ms"] = peer_ms(tv)
                d = lambda t: t.double()  # noqa: E731
                ref = torchvision.ops.deform_conv2d(d(x), d(offset), d(weight), d(bias), 1, 1, 1, d(mask))
                torch.backends.cudnn.allow_tf32 = False
                row["conv_ms"] = peer_ms(lambda: F.conv2d(x, weight, bias, 1, 1))  # noqa: B023
                if dtype_name == "fp32":
                    torch.backends.cudnn.allow_tf32 = True
                    row["conv_tf32_ms"] = peer_ms(lambda: F.conv2d(x, weight, bias, 1, 1))  # noqa: B023
                    torch.backends.cudnn.allow_tf32 = False
                for key, prec, run in kit_runs(shims, dtype_name, (x, weight, offset, mask, bias), og, row):
                    out = run().double()
                    torch.cuda.synchronize()
                    err = ((out - ref).norm() / ref.norm()).item()
                    row[f"{key}_ms"] = bench_ms(run)
                    row[f"{key}_relerr_vs_fp64"] = err
                    rate = peaks[f"gemm_{prec}_tflops"]
                    if prec == "fp32":  # exact fp32 products: FFMA or fp64 MMAs (Hopper), the faster
                        rate = max(rate, peaks["gemm_fp64_tflops"])
                    floor = max(flops / rate / 1e9, nbytes / peaks["copy_tbps"] / 1e9)
                    row[f"{prec}_floor_ms"] = floor
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.quick:
                    break
    if args.profile:  # after all timing (see profile_rows)
        profile_rows(rows, shims)
    result = {
        "device": torch.cuda.get_device_name(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "python": platform.python_version(),
            "cublas (loaded by the kit)": blas_version,
        },
        "peaks": peaks,
        "notes": "median of triton do_bench (L2 flushed before each call); torchvision and dense conv: the "
        f"lowest of {PEER_ROUNDS} medians; mask on (DCNv2), bias on, stride 1, pad 1, offsets ~N(0,1); "
        "floor = max(FLOPs / measured GEMM rate of that precision, bytes / measured copy bandwidth); strict "
        "fp32: the faster of the fp32 and fp64 GEMM rates (both multiply fp32 values exactly)",
        "rows": rows,
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = torch.cuda.get_device_name().replace(" ", "_")
    (out_dir / f"deform_conv2d_{tag}.json").write_text(json.dumps(result, indent=1))
    table = markdown(result, list(shims))
    (out_dir / f"deform_conv2d_{tag}.md").write_text(table)
    print(table)
    for r in rows:
        for k, v in r.items():
            if k.endswith("_choice"):
                candidates = r[k.replace("_choice", "_candidates_ms")]
                print(r["shape"], r["offset_groups"], k, v, json.dumps(candidates))
            if k.endswith("_kernels_us"):
                print(r["shape"], r["offset_groups"], k, json.dumps(v))


def make_inputs(n: int, cin: int, h: int, w: int, cout: int, k: int, og: int, dtype) -> tuple:
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(n, cin, h, w, device="cuda", generator=g).to(dtype)
    weight = (torch.randn(cout, cin, k, k, device="cuda", generator=g) * 0.05).to(dtype)
    offset = torch.randn(n, 2 * og * k * k, h, w, device="cuda", generator=g).to(dtype)
    mask = torch.rand(n, og * k * k, h, w, device="cuda", generator=g).to(dtype)
    bias = torch.randn(cout, device="cuda", generator=g).to(dtype)
    return x, weight, offset, mask, bias


def profile_rows(rows: list, shims: dict) -> None:
    """Each kit run's kernels, in a pass after every timing. With profiling between the timings, torchvision
    measured 0.25-0.31 ms at N1 fp16 in every such run, 0.09-0.14 ms without (probably its launches, slowed on
    the host while the profiler stays attached), so no time is taken once the profiler has run."""
    shapes = {name: dims for name, *dims in SHAPES}
    for row in rows:
        n, cin, h, w, cout, k = shapes[row["shape"]]
        og, dtype_name = row["offset_groups"], row["dtype"]
        dtype = torch.float32 if dtype_name == "fp32" else torch.float16
        tensors = make_inputs(n, cin, h, w, cout, k, og, dtype)
        for key, _, run in kit_runs(shims, dtype_name, tensors, og):
            row[f"{key}_kernels_us"] = profile_kernels(run)
        print(json.dumps(row), flush=True)


# (shim label, shape, offset groups, precision) -> (tactic, candidates' ms): kept for the profile pass.
TACTIC_CHOICES: dict = {}


def given(tensors: tuple, layout: int, prec: str) -> tuple:
    """The tensors as the plugin is given them, and the kernel argument of Shim.prepare: layout 1 the
    weight as GEMM rows (trtkit.export's initializer for this precision; the bias is then not read),
    layout 0 as they are."""
    x, weight, offset, mask, bias = tensors
    if layout == 0:
        return tensors, None
    rows = weight_rows(weight, bias, allow_tf32=prec == "tf32")
    return (x, rows, offset, mask, bias), tuple(weight.shape[2:])


def choose_tactic(shim, tensors: tuple, og: int, prec: str, layout: int = 1) -> tuple[int, dict]:
    """What TensorRT's builder does with an IPluginV3 plugin's tactics: time each (one median here) and keep
    the fastest; 0 (the default, "auto") where the layer offers none. The caller times the choice again, so
    the reported time is not the minimum of several noisy medians."""
    x, weight, offset, mask, bias = tensors
    one = (1, 1)
    candidates = {}
    (x, w, offset, mask, bias), kernel = given(tensors, layout, prec)
    for t in shim.tactics(x, weight, offset, 1, og, prec):
        run = shim.prepare(x, w, offset, mask, bias, one, one, one, 1, og, prec, tactic=t, kernel=kernel)
        candidates[t] = bench_ms(run)
    return (min(candidates, key=candidates.get) if candidates else 0), candidates


def kit_runs(shims: dict, dtype_name: str, tensors: tuple, og: int, row: dict | None = None):
    """(key, precision, run) of every shim and algorithm for one row: fp32 tensors run strict fp32 and TF32,
    fp16 tensors fp16. "tactic" runs the tactic chosen the first
    time (recorded in row, if given: the tactic, its algorithm and GEMM variant, and every candidate's ms)."""
    x, weight, offset, mask, bias = tensors
    for shim_name, (shim, algorithm, layout) in shims.items():
        for prec in ["fp32", "tf32"] if dtype_name == "fp32" else ["fp16"]:
            one = (1, 1)
            (_, w, _, _, _), kernel = given(tensors, layout, prec)
            if algorithm == "tactic":
                key = (shim_name, tuple(x.shape), og, prec)
                if key not in TACTIC_CHOICES:
                    TACTIC_CHOICES[key] = choose_tactic(shim, tensors, og, prec, layout)
                tactic, candidates = TACTIC_CHOICES[key]
                if row is not None:
                    algo, variant = shim.decode_tactic(tactic)
                    row[f"{shim_name}_{prec}_choice"] = f"{tactic:#x} {algo} GEMM variant {variant}"
                    row[f"{shim_name}_{prec}_candidates_ms"] = {f"{t:#x}": ms for t, ms in candidates.items()}
                run = shim.prepare(
                    x, w, offset, mask, bias, one, one, one, 1, og, prec, tactic=tactic, kernel=kernel
                )
            else:
                run = shim.prepare(
                    x, w, offset, mask, bias, one, one, one, 1, og, prec, algorithm, kernel=kernel
                )
            yield f"{shim_name}_{prec}", prec, run


def profile_kernels(run) -> dict:
    """Microseconds per kernel name over one run (torch.profiler, after a warm-up)."""
    from torch.profiler import ProfilerActivity, profile

    run()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run()
        torch.cuda.synchronize()
    out: dict = {}
    for e in prof.key_averages():
        if e.device_type.name == "CUDA" or getattr(e, "self_device_time_total", 0) > 0:
            t = getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)
            if t > 0:  # names cut to 80 characters; kernels whose names agree that far are summed
                key = e.key[:80]
                out[key] = round(out.get(key, 0.0) + float(t), 1)
    return out


def markdown(result: dict, shim_names: list[str]) -> str:
    p = result["peaks"]
    lines = [
        f"# deform_conv2d on {result['device']} ({result['date']})",
        "",
        f"versions: {result['versions']}",
        "",
        f"measured peaks: GEMM fp32 {p['gemm_fp32_tflops']:.0f} / tf32 {p['gemm_tf32_tflops']:.0f} / "
        f"fp16 {p['gemm_fp16_tflops']:.0f} / fp64 {p.get('gemm_fp64_tflops', 0):.0f} TFLOP/s; "
        f"copy {p['copy_tbps']:.2f} TB/s (strict fp32 floor: the faster of fp32 and fp64)",
        "",
        "| shape | og | mode | kit ms | torchvision ms | kit/tv | dense conv ms | kit/conv | floor ms | "
        "kit/floor | rel err vs fp64 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        modes = ["fp32", "tf32"] if r["dtype"] == "fp32" else ["fp16"]
        for s in shim_names:
            for m in modes:
                if f"{s}_{m}_ms" not in r:
                    continue  # an algorithm without this precision
                kit = r[f"{s}_{m}_ms"]
                conv = r["conv_tf32_ms"] if m == "tf32" else r["conv_ms"]
                label = m if len(shim_names) == 1 else f"{s}:{m}"
                lines.append(
                    f"| {r['shape']} | {r['offset_groups']} | {label} | {kit:.3f} | "
                    f"{r['torchvision_ms']:.3f} | {kit / r['torchvision_ms']:.2f} | {conv:.3f} | "
                    f"{kit / conv:.2f} | {r[f'{m}_floor_ms']:.3f} | "
                    f"{kit / r[f'{m}_floor_ms']:.1f} | "
                    f"{r[f'{s}_{m}_relerr_vs_fp64']:.1e} |"
                )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
