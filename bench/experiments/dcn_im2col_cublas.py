"""Experiment: deform_conv2d as "sample into a column matrix + cuBLAS GEMM" (dcn_im2col_cublas.cu).

Builds the .so (nvcc -arch=sm_90 -O3, cuBLAS from the pip package nvidia-cublas or the CUDA toolkit),
checks it against torchvision.ops.deform_conv2d in float64 on the GPU (strides, padding, dilation, offset
groups, offsets far outside the image, no mask / no bias, chunked batches), then times the four issue shapes
(og 1 and 4; fp16, strict fp32, TF32) next to torchvision, dense cuDNN conv and the plugin's recorded
numbers. Writes JSON and markdown to $OUT (or bench/experiments/results/), prints the markdown table last.

    python bench/experiments/dcn_im2col_cublas.py [--skip-check] [--skip-bench] [--quick] [--cap-mib 256]
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import glob
import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MODES = {"fp32": 0, "tf32": 1, "fp16": 2}
BIAS_MODES = {"epi": 0, "beta": 1}
PHASES = {"prep": 1, "sample": 2, "gemm": 4, "bias": 8}
SHAPES = [  # name, N, Cin, H, W, Cout, k (stride 1, pad 1)
    ("N8 C256 64x64", 8, 256, 64, 64, 256, 3),
    ("N1 C256 64x64", 1, 256, 64, 64, 256, 3),
    ("N4 C512 32x32", 4, 512, 32, 32, 512, 3),
    ("N16 C64 128x128", 16, 64, 128, 128, 64, 3),
]
TOL = {"fp32": 1e-5, "tf32": 5e-3, "fp16": 5e-3}
KIT_RECORD = ROOT / "bench" / "results" / "deform_conv2d_NVIDIA_H100_80GB_HBM3.json"


# ------------------------------------------------------------------------------------------------ build ----
def _pkg_dirs(name: str) -> list[Path]:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    return [Path(p) for p in (spec.submodule_search_locations or [])]


def find_cublas() -> tuple[Path, Path, str]:
    """(include dir, lib dir, linker flag) of a cuBLAS with headers: pip nvidia.cublas (<= 12 layout),
    nvidia.cu13 (13.x layout), then the CUDA toolkit."""
    cands: list[tuple[Path, Path]] = []
    for pkg in ("nvidia.cublas", "nvidia.cu13", "nvidia.cu12"):
        for d in _pkg_dirs(pkg):
            cands.append((d / "include", d / "lib"))
    for root in (os.environ.get("CUDA_HOME", ""), "/usr/local/cuda"):
        if root:
            r = Path(root)
            t = r / "targets" / "x86_64-linux"
            cands += [(r / "include", r / "lib64"), (t / "include", t / "lib")]
    for inc, lib in cands:
        if not (inc / "cublas_v2.h").is_file():
            continue
        if (lib / "libcublas.so").exists():
            return inc, lib, "-lcublas"
        sonames = sorted(glob.glob(str(lib / "libcublas.so.*")), key=len)
        if sonames:
            return inc, lib, f"-l:{Path(sonames[0]).name}"
    raise RuntimeError(f"no cuBLAS headers + library found in {[str(c[0]) for c in cands]}")


def build(out: Path | None = None) -> Path:
    out = out or HERE / "build" / "libdcn_im2col_cublas.so"
    out.parent.mkdir(parents=True, exist_ok=True)
    inc, lib, flag = find_cublas()
    cmd = [
        "nvcc",
        "-O3",
        "-std=c++17",
        f"-arch={os.environ.get('DCN_ARCH', 'sm_90')}",
        "-shared",
        "-Xcompiler",
        "-fPIC",
        "-lineinfo",
        f"-I{inc}",
        f"-I{ROOT / 'csrc' / 'core'}",
        f"-L{lib}",
        str(HERE / "dcn_im2col_cublas.cu"),
        flag,
        f"-Xlinker=-rpath,{lib}",
        "-o",
        str(out),
    ]
    print("build:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return out


class Params(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_int)
        for n in (
            "N",
            "Cin",
            "H",
            "W",
            "Cout",
            "kh",
            "kw",
            "sh",
            "sw",
            "ph",
            "pw",
            "dh",
            "dw",
            "og",
            "Ho",
            "Wo",
        )
    ]


def out_size(h: int, k: int, s: int, p: int, d: int) -> int:
    return (h + 2 * p - (d * (k - 1) + 1)) // s + 1


def make_params(x_shape, w_shape, stride, padding, dilation, og) -> Params:
    n, cin, h, w = x_shape
    cout, _, kh, kw = w_shape
    ho = out_size(h, kh, stride[0], padding[0], dilation[0])
    wo = out_size(w, kw, stride[1], padding[1], dilation[1])
    return Params(n, cin, h, w, cout, kh, kw, *stride, *padding, *dilation, og, ho, wo)


class Lib:
    def __init__(self, path: Path):
        lib = ctypes.CDLL(str(path))
        lib.dcn_im2col_create.restype = ctypes.c_void_p
        lib.dcn_im2col_destroy.argtypes = [ctypes.c_void_p]
        lib.dcn_im2col_last_error.restype = ctypes.c_char_p
        lib.dcn_im2col_plan.restype = ctypes.c_size_t
        lib.dcn_im2col_plan.argtypes = [
            ctypes.POINTER(Params),
            ctypes.c_int,
            ctypes.c_size_t,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int),
        ]
        lib.dcn_im2col_forward.restype = ctypes.c_int
        lib.dcn_im2col_forward.argtypes = (
            [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(Params)]
            + [ctypes.c_int] * 3
            + [ctypes.c_void_p] * 7  # x, weight, offset, mask, bias, out, workspace
            + [ctypes.c_size_t]
        )
        lib.dcn_im2col_cublas_version.restype = ctypes.c_int
        self.lib = lib
        self.handle = lib.dcn_im2col_create()  # one cuBLAS handle for the process
        if not self.handle:
            raise RuntimeError("cublasCreate failed")

    def plan(self, p: Params, mode: str, cap: int, chunk_override: int = 0) -> tuple[int, int]:
        chunk = ctypes.c_int(0)
        ws = self.lib.dcn_im2col_plan(ctypes.byref(p), MODES[mode], cap, chunk_override, ctypes.byref(chunk))
        return int(ws), chunk.value

    def prepare(
        self,
        x,
        weight,
        offset,
        mask,
        bias,
        stride,
        padding,
        dilation,
        og,
        mode,
        bias_mode="epi",
        cap=256 << 20,
        chunk_override=0,
        phases=15,
    ):
        """Allocates the output and the workspace once; returns (run, info); run() uses torch's stream."""
        import torch

        p = make_params(tuple(x.shape), tuple(weight.shape), stride, padding, dilation, og)
        want = torch.float16 if mode == "fp16" else torch.float32
        for t in (x, weight, offset, mask, bias):
            assert t is None or (t.dtype == want and t.is_contiguous() and t.is_cuda), "dtype/layout"
        ws_bytes, chunk = self.plan(p, mode, cap, chunk_override)
        ws = torch.empty(ws_bytes, dtype=torch.uint8, device=x.device)
        out = torch.empty(p.N, p.Cout, p.Ho, p.Wo, dtype=x.dtype, device=x.device)
        ptr = lambda t: None if t is None else t.data_ptr()  # noqa: E731
        args = [ptr(t) for t in (x, weight, offset, mask, bias, out, ws)]
        pref = ctypes.byref(p)
        m, b = MODES[mode], BIAS_MODES[bias_mode]
        fwd = self.lib.dcn_im2col_forward

        def run():
            stream = torch.cuda.current_stream().cuda_stream
            rc = fwd(self.handle, stream, pref, m, b, phases, *args, ws_bytes)
            if rc:
                raise RuntimeError(f"dcn_im2col_forward: {self.lib.dcn_im2col_last_error().decode()}")
            return out

        run.keepalive = (p, ws, out, x, weight, offset, mask, bias)  # type: ignore[attr-defined]
        return run, {"chunk": chunk, "workspace_mib": ws_bytes / 2**20}


# ------------------------------------------------------------------------------------------------ check ----
def rel_err(out, ref) -> float:
    return ((out.double() - ref).norm() / ref.norm().clamp_min(1e-300)).item()


def reference(x, weight, offset, mask, bias, stride, padding, dilation):
    import torchvision

    d = lambda t: None if t is None else t.double()  # noqa: E731
    return torchvision.ops.deform_conv2d(
        d(x), d(offset), d(weight), d(bias), stride, padding, dilation, d(mask)
    )


def make_inputs(
    n,
    cin,
    h,
    w,
    cout,
    kh,
    kw,
    stride,
    padding,
    dilation,
    og,
    dtype,
    seed=0,
    off_scale=1.0,
    use_mask=True,
    use_bias=True,
    off_uniform=0.0,
):
    import torch

    g = torch.Generator(device="cuda").manual_seed(seed)
    ho = out_size(h, kh, stride[0], padding[0], dilation[0])
    wo = out_size(w, kw, stride[1], padding[1], dilation[1])
    x = torch.randn(n, cin, h, w, device="cuda", generator=g).to(dtype)
    weight = (torch.randn(cout, cin, kh, kw, device="cuda", generator=g) * (1.0 / (cin * kh * kw) ** 0.5)).to(
        dtype
    )
    if off_uniform:
        offset = (torch.rand(n, 2 * og * kh * kw, ho, wo, device="cuda", generator=g) * 2 - 1) * off_uniform
    else:
        offset = torch.randn(n, 2 * og * kh * kw, ho, wo, device="cuda", generator=g) * off_scale
    offset = offset.to(dtype)
    mask = torch.rand(n, og * kh * kw, ho, wo, device="cuda", generator=g).to(dtype) if use_mask else None
    bias = torch.randn(cout, device="cuda", generator=g).to(dtype) if use_bias else None
    return x, weight, offset, mask, bias


CHECKS = [  # name, (n, cin, h, w, cout, kh, kw), stride, padding, dilation, og, extra kwargs, chunk_override
    ("basic k3 og1", (2, 16, 9, 11, 8, 3, 3), (1, 1), (1, 1), (1, 1), 1, {}, 0),
    (
        "k3x2 s(2,1) p(1,0) d(1,2) og4",
        (3, 32, 12, 10, 24, 3, 2),
        (2, 1),
        (1, 0),
        (1, 2),
        4,
        {"off_scale": 2.0},
        0,
    ),
    (
        "offsets far outside x50, og2, C24 (fp16 scalar path)",
        (2, 24, 10, 9, 16, 3, 3),
        (1, 1),
        (1, 1),
        (1, 1),
        2,
        {"off_scale": 50.0},
        0,
    ),
    (
        "offsets uniform +-1.5H (border corners)",
        (2, 32, 8, 8, 16, 3, 3),
        (1, 1),
        (1, 1),
        (1, 1),
        1,
        {"off_uniform": 12.0},
        0,
    ),
    (
        "C6 og3 no mask no bias",
        (2, 6, 7, 7, 5, 3, 3),
        (1, 1),
        (2, 2),
        (2, 2),
        3,
        {"use_mask": False, "use_bias": False},
        0,
    ),
    ("chunked N5 -> chunks 2+2+1", (5, 64, 16, 16, 32, 3, 3), (1, 1), (1, 1), (1, 1), 4, {}, 2),
    ("N2 C256 32x32 og4 k3 (benchmark-like)", (2, 256, 32, 32, 256, 3, 3), (1, 1), (1, 1), (1, 1), 4, {}, 0),
    ("k1 s2 p0 (P % 8 != 0 bias path)", (2, 40, 9, 9, 24, 1, 1), (2, 2), (0, 0), (1, 1), 1, {}, 0),
]


def run_checks(lib: Lib) -> tuple[list[dict], bool]:
    import torch

    rows, ok = [], True
    for name, (n, cin, h, w, cout, kh, kw), s, p, d, og, kwargs, chunk in CHECKS:
        for mode in ("fp32", "tf32", "fp16"):
            dtype = torch.float16 if mode == "fp16" else torch.float32
            inp = make_inputs(n, cin, h, w, cout, kh, kw, s, p, d, og, dtype, seed=len(rows), **kwargs)
            ref = reference(*inp, s, p, d)
            for bm in BIAS_MODES:
                run, info = lib.prepare(*inp, s, p, d, og, mode, bm, chunk_override=chunk)
                out = run()
                torch.cuda.synchronize()
                err = rel_err(out, ref)
                good = bool(err < TOL[mode]) and bool(torch.isfinite(out).all())
                ok &= good
                rows.append(
                    {
                        "check": name,
                        "mode": mode,
                        "bias_mode": bm,
                        "chunk": info["chunk"],
                        "relerr": err,
                        "ok": good,
                    }
                )
                print(
                    f"check {'ok  ' if good else 'FAIL'} {name:55s} {mode} {bm:4s} chunk {info['chunk']} "
                    f"rel err {err:.2e} (tol {TOL[mode]:.0e})",
                    flush=True,
                )
    return rows, ok


# ------------------------------------------------------------------------------------------------ bench ----
def bench_ms(fn, rep_ms: float = 100) -> float:
    import triton.testing

    return float(triton.testing.do_bench(fn, warmup=20, rep=rep_ms, return_mode="median"))


def measure_peaks() -> dict:
    import torch

    peaks = {}
    n = 8192
    for name, dtype, tf32 in (
        ("fp32", torch.float32, False),
        ("tf32", torch.float32, True),
        ("fp16", torch.float16, False),
    ):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = torch.randn(n, n, device="cuda", dtype=dtype)
        b = torch.randn(n, n, device="cuda", dtype=dtype)
        peaks[f"gemm_{name}_tflops"] = 2 * n**3 / bench_ms(lambda: a @ b, 150) / 1e9  # noqa: B023
    torch.backends.cuda.matmul.allow_tf32 = False
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    peaks["copy_tbps"] = 2 * src.numel() / bench_ms(lambda: dst.copy_(src)) / 1e9
    return peaks


def floors(n, cin, h, w, cout, k, og, mode, peaks) -> dict:
    """Floors (ms) of this design: GEMM FLOPs at the measured rate + the bytes of the passes at copy
    bandwidth: x read + NHWC written + NHWC read once, offset/mask read, cols written + read, out written
    (+ read + written again by the bias epilogue). The fused kernel's floor (no cols, no NHWC round trip)
    is the plain max()."""
    e = 2 if mode == "fp16" else 4
    p = h * w  # stride 1, pad 1, k3
    flops = 2 * n * p * cout * cin * k * k
    cols = n * p * cin * k * k * e
    xb = n * cin * h * w * e
    offm = n * 3 * og * k * k * p * e
    outb = n * cout * p * e
    gemm_ms = flops / (peaks[f"gemm_{mode}_tflops"] * 1e9)
    bw = peaks["copy_tbps"] * 1e9
    return {
        "floor_gemm_ms": gemm_ms,
        "floor_cols_ms": 2 * cols / bw,
        "floor_im2col_ms": gemm_ms + (3 * xb + offm + 2 * cols + 3 * outb) / bw,
        "floor_fused_ms": max(gemm_ms, (xb + offm + outb) / bw),
    }


def kit_record() -> dict:
    try:
        rec = json.loads(KIT_RECORD.read_text())
    except (OSError, ValueError):
        return {}
    out = {"device": rec.get("device"), "date": rec.get("date")}
    for r in rec.get("rows", []):
        for mode in ("fp32", "tf32", "fp16"):
            if f"kit_{mode}_ms" in r:
                out[(r["shape"], r["offset_groups"], mode)] = r[f"kit_{mode}_ms"]
    return out


def run_bench(lib: Lib, cap: int, quick: bool, peaks: dict) -> list[dict]:
    import torch
    import torch.nn.functional as F
    import torchvision

    torch.backends.cudnn.benchmark = True
    rows = []
    s = p = d = (1, 1)
    for name, n, cin, h, w, cout, k in SHAPES[:1] if quick else SHAPES:
        conv = {}
        for og in (1, 4):
            for dtype_name in ("fp32", "fp16"):
                dtype = torch.float16 if dtype_name == "fp16" else torch.float32
                inp = make_inputs(n, cin, h, w, cout, k, k, s, p, d, og, dtype)
                x, weight, offset, mask, bias = inp

                def tv(x=x, offset=offset, weight=weight, bias=bias, mask=mask):
                    return torchvision.ops.deform_conv2d(x, offset, weight, bias, s, p, d, mask)

                tv_ms = bench_ms(tv)
                if dtype_name not in conv:
                    torch.backends.cudnn.allow_tf32 = False
                    conv[dtype_name] = bench_ms(lambda: F.conv2d(x, weight, bias, 1, 1))  # noqa: B023
                    if dtype_name == "fp32":
                        torch.backends.cudnn.allow_tf32 = True
                        conv["tf32"] = bench_ms(lambda: F.conv2d(x, weight, bias, 1, 1))  # noqa: B023
                        torch.backends.cudnn.allow_tf32 = False
                ref = reference(*inp, s, p, d)
                for mode in ("fp32", "tf32") if dtype_name == "fp32" else ("fp16",):
                    row = {
                        "shape": name,
                        "offset_groups": og,
                        "mode": mode,
                        "torchvision_ms": tv_ms,
                        "conv_ms": conv[mode],
                    }
                    for bm in BIAS_MODES:
                        for tag, c, override in (("cap", cap, 0), ("1img", 0, 1)):
                            run, info = lib.prepare(
                                *inp, s, p, d, og, mode, bm, cap=c, chunk_override=override
                            )
                            out = run()
                            torch.cuda.synchronize()
                            row[f"{bm}_{tag}_relerr"] = rel_err(out, ref)
                            row[f"{bm}_{tag}_ms"] = bench_ms(run)
                            row[f"{tag}_chunk"] = info["chunk"]
                            row[f"{tag}_workspace_mib"] = info["workspace_mib"]
                    for ph, bit in PHASES.items():  # parts of the epilogue variant at the cap, timed alone
                        run, _ = lib.prepare(*inp, s, p, d, og, mode, "epi", cap=cap, phases=bit)
                        row[f"phase_{ph}_ms"] = bench_ms(run)
                    row.update(floors(n, cin, h, w, cout, k, og, mode, peaks))
                    rows.append(row)
                    best = min(row["epi_cap_ms"], row["beta_cap_ms"])
                    print(
                        f"bench {name} og{og} {mode}: im2col {best:.3f} ms (chunk {row['cap_chunk']}), "
                        f"sample {row['phase_sample_ms']:.3f}, gemm {row['phase_gemm_ms']:.3f}, "
                        f"tv {tv_ms:.3f}, conv {row['conv_ms']:.3f}",
                        flush=True,
                    )
    return rows


def markdown(result: dict) -> str:
    kit = result["kit_record"]
    pk = result["peaks"]
    lines = [
        f"# deform_conv2d: im2col + cuBLAS experiment on {result['environment'].get('device')} "
        f"({result['environment']['date']})",
        "",
        f"environment: {json.dumps(result['environment'])}",
        "",
        f"measured peaks: GEMM fp32 {pk['gemm_fp32_tflops']:.0f} / tf32 {pk['gemm_tf32_tflops']:.0f} / "
        f"fp16 {pk['gemm_fp16_tflops']:.0f} TFLOP/s; copy {pk['copy_tbps']:.2f} TB/s. Workspace cap "
        f"{result['cap_mib']} MiB. kit = the fused plugin as recorded in {KIT_RECORD.name} "
        f"({kit.get('date')}).",
        "",
        "best = min(epilogue bias, beta bias) at the cap; 1img = best with one image per chunk; parts timed "
        "alone (epilogue variant at the cap): prep = weight relayout + NHWC, sample, gemm, bias; floor = "
        "GEMM at the measured rate + every pass's bytes (cols written and read) at copy bandwidth.",
        "",
        "| shape | og | mode | chunk (MiB) | epi ms | beta ms | 1img ms | prep | sample | gemm | bias | "
        "floor | kit ms | torchvision ms | conv ms | best/kit | best/tv | best/conv | rel err |",
        "|" + "---|" * 19,
    ]
    for r in result["rows"]:
        best = min(r["epi_cap_ms"], r["beta_cap_ms"])
        one = min(r["epi_1img_ms"], r["beta_1img_ms"])
        k = kit.get((r["shape"], r["offset_groups"], r["mode"]))
        err = max(r[f"{b}_{t}_relerr"] for b in BIAS_MODES for t in ("cap", "1img"))
        cells = [
            r["shape"],
            str(r["offset_groups"]),
            r["mode"],
            f"{r['cap_chunk']} ({r['cap_workspace_mib']:.0f})",
            *(f"{v:.3f}" for v in (r["epi_cap_ms"], r["beta_cap_ms"], one)),
            *(f"{r[f'phase_{ph}_ms']:.3f}" for ph in PHASES),
            f"{r['floor_im2col_ms']:.3f}",
            "-" if k is None else f"{k:.3f}",
            f"{r['torchvision_ms']:.3f}",
            f"{r['conv_ms']:.3f}",
            "-" if k is None else f"{best / k:.2f}",
            f"{best / r['torchvision_ms']:.2f}",
            f"{best / r['conv_ms']:.2f}",
            f"{err:.1e}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def environment(lib: Lib) -> dict:
    import torch

    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "cublas": lib.lib.dcn_im2col_cublas_version(),
    }
    for mod in ("torchvision", "triton"):
        try:
            env[mod] = __import__(mod).__version__
        except ImportError:
            pass
    if torch.cuda.is_available():
        env["device"] = torch.cuda.get_device_name()
        try:
            env["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        env["nvcc"] = subprocess.run(["nvcc", "--version"], capture_output=True, text=True).stdout.split(
            "\n"
        )[-2]
    except (OSError, IndexError):
        pass
    return env


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", help="a built .so (default: build it)")
    ap.add_argument("--cap-mib", type=int, default=256)
    ap.add_argument("--skip-check", action="store_true")
    ap.add_argument("--skip-bench", action="store_true")
    ap.add_argument("--quick", action="store_true", help="first shape only")
    args = ap.parse_args()
    lib = Lib(Path(args.lib) if args.lib else build())
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    checks, ok = ([], True) if args.skip_check else run_checks(lib)
    print(f"checks: {'all passed' if ok else 'FAILURES'} ({len(checks)} runs)", flush=True)
    result = {"environment": environment(lib), "cap_mib": args.cap_mib, "checks": checks, "checks_ok": ok}
    if not args.skip_bench:
        peaks = measure_peaks()
        print("peaks:", json.dumps(peaks), flush=True)
        kit = kit_record()
        if kit.get("device") != result["environment"].get("device"):
            kit = {"device": kit.get("device"), "date": None}  # recorded on another GPU: not comparable
        result.update(peaks=peaks, rows=run_bench(lib, args.cap_mib << 20, args.quick, peaks), kit_record=kit)
    out_dir = Path(os.environ["OUT"]) if os.environ.get("OUT") else HERE / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = result["environment"].get("device", "cpu").replace(" ", "_")
    serial = {k: v for k, v in result.items() if k != "kit_record"}
    if "kit_record" in result:
        serial["kit_record"] = {
            (" / ".join(map(str, k)) if isinstance(k, tuple) else k): v
            for k, v in result["kit_record"].items()
        }
    (out_dir / f"dcn_im2col_cublas_{tag}.json").write_text(json.dumps(serial, indent=1) + "\n")
    if "rows" in result:
        table = markdown(result)
        (out_dir / f"dcn_im2col_cublas_{tag}.md").write_text(table)
        print(table)
    print(f"written to {out_dir}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
