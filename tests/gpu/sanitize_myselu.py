"""Runs the MYSELU kernels on edge-case shapes, under compute-sanitizer (see test_sanitizer.py)."""

from __future__ import annotations

import torch
from trtkit import _C

NAMES = {torch.float32: "float32", torch.float16: "float16"}


def run(x: torch.Tensor, p: torch.Tensor, axes: list[int]) -> torch.Tensor:
    layer = _C.Layer("MYSELU", {"axes": axes, "gain": 1.5, "info": "{}"})
    y = torch.full_like(x, float("nan"))
    ins = [(x.data_ptr(), NAMES[x.dtype], list(x.shape)), (p.data_ptr(), NAMES[p.dtype], list(p.shape))]
    outs = [(y.data_ptr(), NAMES[y.dtype], list(y.shape))]
    layer.configure([(d, s) for _, d, s in ins], [(d, s) for _, d, s in outs])
    layer.enqueue(ins, outs, 0, torch.cuda.current_stream().cuda_stream)
    return y


def main() -> None:
    cases = [
        ([1], []),
        ([7], [0]),
        ([3, 5], [1]),
        ([2, 3, 5, 7], [1]),
        ([2, 16, 8, 8], [1, 2]),
        ([4, 9, 33], [-1]),
        ([1, 1, 1, 1], [1]),
        ([65, 1031], []),
    ]
    for shape, axes in cases:
        for dt in (torch.float32, torch.float16):
            for pdt in {torch.float32, dt}:
                x = torch.randn(shape, device="cuda", dtype=dt)
                pshape = [shape[a] for a in axes] or [1]
                p = torch.rand(pshape, device="cuda", dtype=pdt)
                y = run(x, p, axes)
                # unaligned views exercise the scalar path
                xs = torch.randn(x.numel() + 1, device="cuda", dtype=dt)[1:].view(shape)
                run(xs, p, axes)
                torch.cuda.synchronize()
                assert not torch.isnan(y).any(), (shape, axes, dt)
    print("sanitize_myselu: done")


if __name__ == "__main__":
    main()
