"""GPU tier: MYSELU's eager CUDA op (the plugin's own kernel through trtkit._C.Layer.enqueue) against a
float64 PyTorch reference over many random shapes, ranks and axes, edge cases included (element counts that
are not a multiple of the 16-byte vector width, rank 1, size-1 dims, misaligned pointers, empty tensors),
every dtype row; outputs are filled with NaN first so an element the kernel skips cannot pass. Plus autograd
on CUDA, streams, and the fake kernel under torch.compile and the dynamo exporter with CUDA tensors."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.gpu

if not torch.cuda.is_available():
    pytest.skip(
        "no CUDA GPU: the GPU tier needs one (torch.cuda.is_available() is False)", allow_module_level=True
    )
_C = pytest.importorskip("trtkit._C", reason="trtkit._C is not built")

from trtkit.ops import MYSELU, MySelu, myselu  # noqa: E402

CUDA = torch.device("cuda")
NAMES = {torch.float32: "float32", torch.float16: "float16"}
DTYPE_ROWS = [(torch.float32, torch.float32), (torch.float16, torch.float32), (torch.float16, torch.float16)]
# float32: the kernel's fast exp (__expf) is a few ulp off for large |beta * x|; float16: one ulp.
TOL = {torch.float32: (3e-5, 1e-6), torch.float16: (1e-3, 1e-3)}


def reference(x: Any, p: Any, axes: Any, gain: float) -> Any:
    """float64 ground truth; the output's dtype is x's (rounded once from float64)."""
    rank = x.dim()
    norm = [a + rank if a < 0 else a for a in axes]
    shape = [x.shape[i] if i in norm else 1 for i in range(rank)]
    xd = x.double()
    beta = p.double().reshape(shape)
    return gain * xd * torch.sigmoid(beta * xd)


def check(y: Any, x: Any, p: Any, axes: Any, gain: float) -> None:
    assert y.dtype == x.dtype and y.shape == x.shape and y.device == x.device
    assert not torch.isnan(y).any(), "some outputs were never written (NaN poison survived)"
    rtol, atol = TOL[x.dtype]
    # The kernel computes in float32, then rounds to x's dtype: compare with the float64 value rounded alike.
    want = reference(x, p, axes, gain).to(x.dtype).double()
    torch.testing.assert_close(y.double(), want, rtol=rtol, atol=atol)


def run_layer(x: Any, p: Any, axes: list[int], gain: float, y: Any) -> Any:
    """The kernel through _C.Layer directly, into a caller-provided (NaN-poisoned) output."""
    layer = _C.Layer("MYSELU", {"axes": axes, "gain": gain, "info": '{"test": "gpu"}'})
    ins = [(x.data_ptr(), NAMES[x.dtype], list(x.shape)), (p.data_ptr(), NAMES[p.dtype], list(p.shape))]
    outs = [(y.data_ptr(), NAMES[y.dtype], list(y.shape))]
    layer.configure([(d, s) for _, d, s in ins], [(d, s) for _, d, s in outs])
    layer.enqueue(ins, outs, 0, torch.cuda.current_stream().cuda_stream)
    return y


def random_case(rng: random.Random) -> tuple[list[int], list[int]]:
    while True:  # at most 2**21 elements, so 450 cases stay fast
        rank = rng.randint(1, 6)
        shape = [rng.choice([1, 1, 2, 3, 5, 7, 8, 16, 17, 31, 64, 33]) for _ in range(rank)]
        if math.prod(shape) <= 2**21:
            break
    n = rng.randint(0, rank)  # length of the axes run (0 = one beta)
    first = rng.randint(0, rank - n)
    axes = list(range(first, first + n))
    if axes and rng.random() < 0.3:
        axes = [a - rank for a in axes]  # negative spelling
    return shape, axes


def pshape_for(shape: list[int], axes: list[int]) -> list[int]:
    rank = len(shape)
    return [shape[a + rank if a < 0 else a] for a in axes] or [1]


EDGE_CASES = [
    ([1], []),
    ([1], [0]),
    ([3], [0]),  # rank 1, fewer elements than one vector
    ([5], []),
    ([4097], [0]),  # not a multiple of the vector width
    ([2, 3, 5], [1]),
    ([1, 1, 1, 1], [1]),
    ([7, 1, 13], [1]),
    ([2, 64, 1, 1], [1]),
    ([3, 9, 1031], [-1]),
    ([2, 3, 4, 5], [0, 1, 2, 3]),
    ([6, 5, 4], [0]),
    ([2, 16, 8, 8], [1, 2]),
    ([1, 3, 224, 224], [1]),
    ([4, 256, 57], [1]),
]


@pytest.mark.parametrize(("xdt", "pdt"), DTYPE_ROWS, ids=lambda d: NAMES[d])
@pytest.mark.parametrize(("shape", "axes"), EDGE_CASES, ids=[f"{s}-{a}" for s, a in EDGE_CASES])
def test_edge_cases(shape: list[int], axes: list[int], xdt: Any, pdt: Any) -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=g) * 4).to(CUDA, xdt)
    p = (torch.rand(pshape_for(shape, axes), generator=g) * 2 - 0.5).to(CUDA, pdt)
    y = run_layer(x, p, axes, 1.25, torch.full_like(x, float("nan")))
    torch.cuda.synchronize()
    check(y, x, p, axes, 1.25)
    check(myselu(x, p, axes=axes, gain=1.25), x, p, axes, 1.25)


@pytest.mark.parametrize(("xdt", "pdt"), DTYPE_ROWS, ids=lambda d: NAMES[d])
def test_random_shapes(xdt: Any, pdt: Any) -> None:
    rng = random.Random(42)
    for _ in range(150):
        shape, axes = random_case(rng)
        gain = rng.choice([1.0, -0.5, 2.75])
        x = (torch.randn(shape) * 5).to(CUDA, xdt)
        p = (torch.rand(pshape_for(shape, axes)) * 3 - 1).to(CUDA, pdt)
        y = run_layer(x, p, axes, gain, torch.full_like(x, float("nan")))
        check(y, x, p, axes, gain)
        check(myselu(x, p, axes=axes, gain=gain), x, p, axes, gain)


@pytest.mark.parametrize(("xdt", "pdt"), DTYPE_ROWS, ids=lambda d: NAMES[d])
@pytest.mark.parametrize("offset", [1, 2, 3])
def test_misaligned_pointers(xdt: Any, pdt: Any, offset: int) -> None:
    """Views that start off a 16-byte boundary take the scalar path; results must not change."""
    shape, axes = [3, 7, 129], [1]
    base = torch.randn(3 * 7 * 129 + offset, device=CUDA).to(xdt)
    x = base[offset:].view(shape)
    p = torch.rand(7, device=CUDA).to(pdt)
    ybase = torch.full((x.numel() + offset,), float("nan"), device=CUDA, dtype=xdt)
    y = run_layer(x, p, axes, 1.0, ybase[offset:].view(shape))
    check(y, x, p, axes, 1.0)
    assert torch.isnan(ybase[:offset]).all(), "the kernel wrote before the output"
    check(myselu(x, p, axes=axes), x, p, axes, 1.0)


def test_eager_op_output_is_fully_written_over_poisoned_memory() -> None:
    """The op allocates its output with torch.empty; fill the caching allocator's block with NaN first so a
    skipped element shows up (same size, so the allocator hands the block back)."""
    shape = [8, 33, 65]
    x = torch.randn(shape, device=CUDA)
    p = torch.rand(33, device=CUDA)
    for _ in range(3):
        poison = torch.full_like(x, float("nan"))
        del poison
        check(myselu(x, p), x, p, [1], 1.0)


def test_empty_tensor() -> None:
    x = torch.randn(0, 3, 4, device=CUDA)
    y = myselu(x, torch.rand(3, device=CUDA))
    assert y.shape == (0, 3, 4) and y.device.type == "cuda"


def test_non_contiguous_input_is_made_contiguous() -> None:
    x = torch.randn(4, 6, 5, device=CUDA).transpose(0, 2)  # shape (5, 6, 4), not contiguous
    p = torch.rand(6, device=CUDA)
    check(myselu(x, p), x, p, [1], 1.0)


def test_side_stream() -> None:
    s = torch.cuda.Stream()
    x = torch.randn(16, 64, 128, device=CUDA)
    p = torch.rand(64, device=CUDA)
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        y = myselu(x, p)
    torch.cuda.current_stream().wait_stream(s)
    check(y, x, p, [1], 1.0)


def test_unsupported_dtypes_and_devices_are_clear_errors() -> None:
    x = torch.randn(2, 3, device=CUDA)
    with pytest.raises(TypeError, match="no variant for input dtypes \\(float32, float16\\)"):
        myselu(x, torch.rand(3, device=CUDA).half())
    with pytest.raises(TypeError, match="no variant for input dtypes \\(bfloat16, float32\\)"):
        myselu(x.bfloat16(), torch.rand(3, device=CUDA))
    with pytest.raises(ValueError, match="p has 4 elements"):
        myselu(x, torch.rand(4, device=CUDA))
    with pytest.raises((ValueError, RuntimeError)):
        myselu(x, torch.rand(3))  # p on the CPU


@pytest.mark.parametrize(("xdt", "pdt"), DTYPE_ROWS, ids=lambda d: NAMES[d])
def test_gradients_on_cuda_match_float64_cpu(xdt: Any, pdt: Any) -> None:
    x64 = torch.randn(4, 8, 9, dtype=torch.float64)
    p64 = torch.rand(8, dtype=torch.float64) + 0.1
    gy = torch.randn(4, 8, 9, dtype=torch.float64)
    x = x64.to(CUDA, xdt).requires_grad_()
    p = p64.to(CUDA, pdt).requires_grad_()
    myselu(x, p, gain=1.5).backward(gy.to(CUDA, xdt))
    xr = x.detach().double().cpu().requires_grad_()
    pr = p.detach().double().cpu().requires_grad_()
    reference(xr, pr, [1], 1.5).backward(gy.to(xdt).double())
    rtol, atol = (1e-4, 1e-5) if xdt == torch.float32 else (2e-2, 2e-2)
    torch.testing.assert_close(x.grad.double().cpu(), xr.grad, rtol=rtol, atol=atol)
    torch.testing.assert_close(p.grad.double().cpu(), pr.grad, rtol=rtol, atol=atol * 10)


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_torch_compile_on_cuda(backend: str) -> None:
    net = MySelu(16).to(CUDA)
    compiled = torch.compile(net, backend=backend, fullgraph=True, dynamic=True)
    for batch in (2, 5):
        x = torch.randn(batch, 16, 7, 9, device=CUDA, requires_grad=True)
        y = compiled(x)
        torch.testing.assert_close(y, net(x))
        y.sum().backward()
        assert x.grad is not None


def test_dynamo_export_with_cuda_tensors(tmp_path: Any) -> None:
    """The fake kernel serves torch.export on CUDA tensors; the node equals the CPU export's."""
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript (pip install onnxscript)")
    import trtkit
    from trtkit.onnx_schema import describe_node, kit_nodes

    net = MySelu(16, gain=0.5, info='{"layer": "gpu"}').eval()
    cpu = trtkit.export(net, (torch.randn(2, 16, 4, 4),), tmp_path / "cpu.onnx")
    gpu = trtkit.export(net.to(CUDA), (torch.randn(2, 16, 4, 4, device=CUDA),), tmp_path / "gpu.onnx")
    assert describe_node(kit_nodes(cpu)[0]) == describe_node(kit_nodes(gpu)[0])
    assert [d.dim_param or d.dim_value for d in gpu.graph.input[0].type.tensor_type.shape.dim] == [
        "batch",
        16,
        4,
        4,
    ]


def test_spec_table_is_what_the_kernel_accepts() -> None:
    """Every row of the spec's dtype table runs; the layer refuses anything else."""
    layer = _C.Layer("MYSELU", {})
    for row in MYSELU.type_combinations:
        assert layer.output_types(list(row[:2])) == list(row[2:])


def test_more_than_two_to_the_32_elements() -> None:
    """Tensors of 2**32 elements or more take the 64-bit index path."""
    free, _ = torch.cuda.mem_get_info()
    n = 2**32 + 24
    if free < 3 * n * 2 + (1 << 30):
        pytest.skip(
            f"needs about {3 * n * 2 / 2**30:.0f} GiB of free GPU memory, {free / 2**30:.0f} GiB free"
        )
    x = torch.empty(n, device=CUDA, dtype=torch.float16)
    x.uniform_(-4, 4)
    p = torch.tensor([0.75], device=CUDA, dtype=torch.float32)
    y = torch.full_like(x, float("nan"))
    run_layer(x, p, [], 1.0, y)
    for start in (0, 2**31 - 8, 2**32 - 8, n - 64):  # spots around every 32-bit boundary, and the tail
        start = min(start, n - 64)
        xs, ys = x[start : start + 64].view(64), y[start : start + 64].view(64)
        check(ys, xs, p, [], 1.0)
    assert not torch.isnan(y).any()
