"""Experiment: is torchvision's deform_conv2d time at N1 C256 64x64 bimodal (0.09 vs 0.24 ms in different
runs of bench_deform_conv2d.py)? Times it repeatedly in one process, the way the benchmark does (triton
do_bench, L2 flushed before each call), in fp16 and fp32, with N8 between."""

from __future__ import annotations

import torch
import triton.testing
from torchvision.ops import deform_conv2d


def inputs(n, c, h, w, cout, dtype):
    x = torch.randn(n, c, h, w, device="cuda", dtype=dtype)
    wt = torch.randn(cout, c, 3, 3, device="cuda", dtype=dtype) * 0.05
    off = torch.randn(n, 18, h, w, device="cuda", dtype=dtype)
    mask = torch.rand(n, 9, h, w, device="cuda", dtype=dtype)
    return x, wt, off, mask


def main() -> None:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for dtype in (torch.float16, torch.float32):
        for shape in ((1, 256, 64, 64, 256), (8, 256, 64, 64, 256), (1, 256, 64, 64, 256)):
            x, wt, off, mask = inputs(*shape, dtype)
            times = []

            def fn(x=x, off=off, wt=wt, mask=mask):
                return deform_conv2d(x, off, wt, padding=1, mask=mask)

            for _ in range(6):
                times.append(triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median"))
            print(dtype, shape, " ".join(f"{t:.3f}" for t in times), flush=True)


if __name__ == "__main__":
    main()
