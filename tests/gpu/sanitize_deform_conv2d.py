"""Runs the DeformConv2d kernels through trtkit._C on edge cases, to be executed under compute-sanitizer
(see test_sanitizer.py): every tile shape, padding channels, offsets far outside, odd sizes, batch 1.
The layer runs the pipelined kernel where a group has 64 output channels (fp16, TF32) and, for strict fp32 on
Hopper, wherever it applies (its fp64 tensor-core consumers, 64- and 128-channel tiles), else the sampled
algorithm where cuBLAS loads; test_sanitizer.py also runs it with TRTKIT_CUBLAS_LIBRARY
pointing nowhere: then the pipelined kernel takes all of the last five cases (64-channel tiles where
128-channel ones would leave SMs idle, groups, corner tables of several offset groups) and the fused kernel
the rest. With TRTKIT_SANITIZE_TACTICS=1 every other case also runs each IPluginV3 tactic the layer offers."""

from __future__ import annotations

import os

import torch
from trtkit import _C
from trtkit.ops.deform_conv2d import weight_rows

NAMES = {torch.float32: "float32", torch.float16: "float16"}


def run(
    cfg: dict, dtype: torch.dtype, allow_tf32: int, tactic: int | None = None, gemm_rows: bool = False
) -> torch.Tensor | list:
    """Runs cfg with the layer's default, or with `tactic`; tactic -1 returns the tactics offered instead.
    gemm_rows: the weight as trtkit.export writes it (weight_layout=1); a NaN bias input, never to be read."""
    n, cin, h, w, cout, k, g, og, use_mask = (
        cfg[key] for key in ("n", "cin", "h", "w", "cout", "k", "g", "og", "mask")
    )
    attrs = {
        "padding": [1, 0],
        "stride": [1, 2],
        "dilation": [2, 1],
        "groups": g,
        "offset_groups": og,
        "use_mask": use_mask,
        "allow_tf32": allow_tf32,
        "weight_layout": int(gemm_rows),
        "kernel_shape": [k, k] if gemm_rows else [0, 0],
    }
    layer = _C.Layer("DeformConv2d", attrs)
    ho = (h + 2 - (2 * (k - 1) + 1)) // 1 + 1
    wo = (w - k) // 2 + 1
    x = torch.randn(n, cin, h, w, device="cuda", dtype=dtype)
    wt = torch.randn(cout, cin // g, k, k, device="cuda", dtype=dtype)
    off = (torch.randn(n, 2 * og * k * k, ho, wo, device="cuda") * 5).to(dtype)
    mask = (
        torch.rand(n, og * k * k, ho, wo, device="cuda", dtype=dtype)
        if use_mask
        else torch.zeros(n, 1, device="cuda", dtype=dtype)
    )
    bias = torch.randn(cout, device="cuda", dtype=dtype)
    if gemm_rows:
        wt = weight_rows(wt, bias, allow_tf32=bool(allow_tf32))
        bias = torch.full((1,), float("nan"), device="cuda", dtype=dtype)
    y = torch.full((n, cout, ho, wo), float("nan"), device="cuda", dtype=dtype)
    tensors = [x, wt, off, mask, bias]
    ins = [(t.data_ptr(), NAMES[dtype], list(t.shape)) for t in tensors]
    outs = [(y.data_ptr(), NAMES[dtype], list(y.shape))]
    if tactic == -1:
        return layer.tactics([(d, s) for _, d, s in ins], [(d, s) for _, d, s in outs])
    if tactic is not None:
        layer.set_tactic(tactic)
    layer.configure([(d, s) for _, d, s in ins], [(d, s) for _, d, s in outs])
    ws = layer.workspace_size([(d, s) for _, d, s in ins], [(d, s) for _, d, s in outs])
    workspace = torch.empty(ws, dtype=torch.uint8, device="cuda")
    layer.enqueue(ins, outs, workspace.data_ptr(), torch.cuda.current_stream().cuda_stream)
    return y


def main() -> None:
    cases = [
        dict(n=1, cin=3, h=7, w=9, cout=5, k=3, g=1, og=1, mask=1),
        dict(n=2, cin=12, h=11, w=13, cout=70, k=3, g=2, og=3, mask=0),
        dict(n=1, cin=64, h=9, w=20, cout=130, k=1, g=1, og=4, mask=1),
        dict(n=3, cin=40, h=6, w=17, cout=300, k=2, g=1, og=1, mask=1),
        dict(n=1, cin=128, h=12, w=12, cout=64, k=3, g=1, og=2, mask=1),
        dict(n=2, cin=16, h=66, w=130, cout=256, k=3, g=1, og=1, mask=1),  # 256-channel tiles, ~1 wave
        dict(n=4, cin=8, h=82, w=162, cout=200, k=3, g=1, og=1, mask=1),  # 256-channel tiles, 2 CTAs/SM
        dict(n=2, cin=64, h=13, w=21, cout=128, k=3, g=1, og=1, mask=0),  # pipelined (fp16), 128-wide tiles
        dict(n=1, cin=128, h=9, w=9, cout=128, k=2, g=2, og=2, mask=1),  # pipelined, 64-channel tiles, groups
        dict(n=3, cin=192, h=5, w=31, cout=64, k=1, g=1, og=3, mask=1),  # pipelined, odd pixel count
        dict(n=1, cin=64, h=10, w=14, cout=256, k=3, g=1, og=2, mask=1),  # pipelined: 4 x 64-channel tiles
        dict(n=2, cin=64, h=8, w=12, cout=64, k=3, g=1, og=1, mask=1),  # pipelined, 16-byte transpose
        dict(n=1, cin=384, h=10, w=9, cout=8, k=5, g=1, og=1, mask=1),  # rows > 32 KB (fp32): per element
        dict(n=3, cin=32, h=40, w=40, cout=128, k=3, g=1, og=1, mask=1),  # strict fp32 (H100): 128-ch tiles
    ]
    tactics = os.environ.get("TRTKIT_SANITIZE_TACTICS") == "1"
    tactics_run = 0
    for i, cfg in enumerate(cases):
        for dtype, tf32 in ((torch.float32, 0), (torch.float32, 1), (torch.float16, 0)):
            y = run(cfg, dtype, tf32)
            torch.cuda.synchronize()
            assert torch.isfinite(y).all(), (cfg, dtype, tf32)
            if i % 2 == 1:  # GEMM-row weights on every other case (each algorithm reads them)
                y = run(cfg, dtype, tf32, gemm_rows=True)
                torch.cuda.synchronize()
                assert torch.isfinite(y).all(), (cfg, dtype, tf32, "GEMM rows")
            # IPluginV3 tactics (the GEMM variants through cuBLASLt, the pipelined kernel) on every other case
            for t in run(cfg, dtype, tf32, tactic=-1) if tactics and i % 2 == 0 else []:
                y = run(cfg, dtype, tf32, tactic=t)
                torch.cuda.synchronize()
                assert torch.isfinite(y).all(), (cfg, dtype, tf32, hex(t))
                tactics_run += 1
    version, reason = _C.cublas_status()
    algorithm = f"sampled + cuBLAS {version}" if version else f"fused (cuBLAS unavailable: {reason})"
    print(f"sanitize_deform_conv2d ({algorithm}; {tactics_run} tactic runs): done")


if __name__ == "__main__":
    main()
