"""Experiment: can one stream's deform_conv2d prepare + sampler run beside another stream's strict-fp32 SGEMM?

Times, on the H100, a cuBLAS SGEMM of the sampled algorithm's shape (torch.matmul, TF32 off) alone, the kit's
whole sampled fp32 call alone, both one after the other, and both on two streams at once. Overlap = serial -
two streams: how much of the call's non-GEMM part (prepare + sampler) hid behind the other stream's SGEMM.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import triton.testing

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import bench_deform_conv2d as bd  # noqa: E402
import dcn_shim  # noqa: E402

CASES = [  # N, Cin, H, W, Cout, the sampled algorithm's K per group (kgPad, strict fp32)
    (4, 256, 64, 64, 256, 2312),
    (2, 256, 64, 64, 256, 2312),
    (2, 512, 32, 32, 512, 4616),
    (1, 512, 32, 32, 512, 4616),
]


def ms(fn) -> float:
    return min(triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median") for _ in range(3))


def main() -> None:
    torch.backends.cuda.matmul.allow_tf32 = False
    shim = dcn_shim.Shim(dcn_shim.build())
    one = (1, 1)
    for n, cin, h, w, cout, kgpad in CASES:
        x, wt, off, mask, bias = bd.make_inputs(n, cin, h, w, cout, 3, 1, torch.float32)
        dcn = shim.prepare(x, wt, off, mask, bias, one, one, one, 1, 1, "fp32", "sampled")
        a = torch.randn(n, h * w, kgpad, device="cuda")
        b = torch.randn(kgpad, cout, device="cuda")
        c = torch.empty(n, h * w, cout, device="cuda")
        side_a, side_b = torch.cuda.Stream(), torch.cuda.Stream()

        def gemm(a=a, b=b, c=c):
            return torch.matmul(a, b, out=c)

        def serial(gemm=gemm, dcn=dcn):
            gemm()
            dcn()

        def both(gemm=gemm, dcn=dcn, side_a=side_a, side_b=side_b):
            cur = torch.cuda.current_stream()
            side_a.wait_stream(cur)
            side_b.wait_stream(cur)
            with torch.cuda.stream(side_a):
                gemm()
            with torch.cuda.stream(side_b):
                dcn()
            cur.wait_stream(side_a)
            cur.wait_stream(side_b)

        tg, td, ts, tb = (ms(f) * 1e3 for f in (gemm, dcn, serial, both))
        print(
            f"N{n} C{cin} {h}x{w}: gemm {tg:.0f} us, dcn(sampled fp32) {td:.0f}, serial {ts:.0f}, "
            f"two streams {tb:.0f}: overlap {ts - tb:.0f} us"
        )


if __name__ == "__main__":
    main()
