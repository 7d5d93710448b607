"""Runs one deform_conv2d kernel configuration a few times (for ncu): python bench/profile_deform_conv2d.py
[fp16|fp32|tf32] [N C H W Cout og [shim]]; DCN_PROFILE_ALGORITHM picks the algorithm (default auto)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dcn_shim  # noqa: E402


def main() -> None:
    prec = sys.argv[1] if len(sys.argv) > 1 else "fp16"
    n, c, h, w, cout, og = (
        int(v) for v in (sys.argv[2:8] if len(sys.argv) >= 8 else (8, 256, 64, 64, 256, 1))
    )
    dtype = torch.float16 if prec == "fp16" else torch.float32
    x = torch.randn(n, c, h, w, device="cuda").to(dtype)
    wt = (torch.randn(cout, c, 3, 3, device="cuda") * 0.05).to(dtype)
    off = torch.randn(n, 2 * og * 9, h, w, device="cuda").to(dtype)
    mask = torch.rand(n, og * 9, h, w, device="cuda").to(dtype)
    bias = torch.randn(cout, device="cuda").to(dtype)
    shim = dcn_shim.Shim(
        Path(sys.argv[8]) if len(sys.argv) > 8 else dcn_shim.ROOT / "build" / "libdcn_shim.so"
    )
    algorithm = os.environ.get("DCN_PROFILE_ALGORITHM", "auto")
    run = shim.prepare(x, wt, off, mask, bias, (1, 1), (1, 1), (1, 1), 1, og, prec, algorithm)
    for _ in range(3):
        run()
    torch.cuda.synchronize()
    print("profile run done")


if __name__ == "__main__":
    main()
