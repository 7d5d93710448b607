"""trt + gpu tier: IPluginV3 tactics of DeformConv2d as TensorRT's builder and runtime drive them, through the
C++ harness: configurePlugin with a dynamic batch (min/opt/max), getNbTactics/getValidTactics, then for every
tactic setTactic, attachToContext and onShapeChange (in both orders TensorRT may use) and enqueue on PyTorch's
stream, against the float64 reference, at the optimum batch and at another batch of the profile."""

from __future__ import annotations

from typing import Any

import pytest
from trt_helpers import V3, create_from_node, deform_node

pytestmark = [pytest.mark.trt, pytest.mark.gpu]

torch = pytest.importorskip("torch")
pytest.importorskip("trtkit")

# fp16 runs the pipelined kernel too (64 channels per group, 64 outputs); two offset groups of 32 channels.
CIN, COUT, H, W, OG = 64, 64, 12, 10, 2


def shapes(n: int) -> list[list[int]]:
    return [[n, CIN, H, W], [COUT, CIN, 3, 3], [n, 2 * OG * 9, H, W], [n, OG * 9, H, W], [COUT]]


def inputs(n: int, dtype: Any, seed: int) -> list[Any]:
    g = torch.Generator().manual_seed(seed)
    x, w, off, mask, bias = (torch.randn(s, generator=g, dtype=torch.float64) for s in shapes(n))
    return [x, w * 0.1, off * 3, torch.sigmoid(mask), bias]


def reference(ts: list[Any]) -> Any:
    from trtkit.ops._deform_reference import deform_conv2d_reference

    x, w, off, mask, bias = ts
    return deform_conv2d_reference(x, w, off, mask, bias, (1, 1), (1, 1), (1, 1), 1, OG)


def desc(dtype: str, dims: list[int]) -> tuple[str, list[int]]:
    return (dtype, dims)


def enqueue(runner: Any, ts: list[Any], out: Any) -> None:
    dtype = str(out.dtype).replace("torch.", "")
    ins = [desc(dtype, list(t.shape)) for t in ts]
    assert runner.on_shape_change(ins, [desc(dtype, list(out.shape))]) == 0
    ws = runner.get_workspace_size(ins, [desc(dtype, list(out.shape))])
    workspace = torch.empty(max(ws, 1), dtype=torch.uint8, device="cuda")
    args = [(t.data_ptr(), dtype, list(t.shape)) for t in ts]
    stream = torch.cuda.current_stream().cuda_stream
    assert runner.enqueue(args, [(out.data_ptr(), dtype, list(out.shape))], workspace.data_ptr(), stream) == 0
    torch.cuda.synchronize()


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_every_tactic_runs_through_the_v3_interface(
    trt: Any, registry: Any, harness: Any, log: Any, dtype: str
) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    plugin = harness.PluginV3(
        create_from_node(trt, registry, deform_node(V3, "dcn_tactics", padding=[1, 1], offset_groups=OG))
    )
    lo, opt, hi = shapes(1), shapes(4), shapes(6)
    dyn = [
        (dtype, [-1, *o[1:]] if i in (0, 2, 3) else o, a, o, b)
        for i, (a, o, b) in enumerate(zip(lo, opt, hi))
    ]
    out_dyn = (dtype, [-1, COUT, H, W], [1, COUT, H, W], [4, COUT, H, W], [6, COUT, H, W])
    assert plugin.configure_plugin(dyn, [out_dyn]) == 0
    n = plugin.get_nb_tactics()
    status, tactics = plugin.get_valid_tactics(n)
    assert status == 0 and n >= 2, (status, tactics)
    assert {t // 16 for t in tactics} == {2, 3}, tactics  # sampled GEMM variants, pipelined (fp16 and FFMA)
    cuda_dtype = getattr(torch, dtype)
    tol = {"float32": 2e-5, "float16": 4e-3}[dtype]
    for batch, seed in ((4, 1), (3, 2)):  # the optimum, then another batch of the profile
        ts = inputs(batch, cuda_dtype, seed)
        want = reference(ts)
        dev = [t.to("cuda", cuda_dtype) for t in ts]
        for i, tactic in enumerate(tactics):
            if i % 2 == 0:  # setTactic after attachToContext
                runner = plugin.attach_to_context()
                assert runner.set_tactic(tactic) == 0
            else:  # before: the attached clone keeps it
                assert plugin.set_tactic(tactic) == 0
                runner = plugin.attach_to_context()
            out = torch.full(want.shape, float("nan"), device="cuda", dtype=cuda_dtype)
            enqueue(runner, dev, out)
            got = out.double().cpu()
            err = ((got - want).norm() / want.norm()).item()
            assert torch.isfinite(got).all() and err < tol, (hex(tactic), batch, err)
    assert log() == []
