"""GPU tier: the kit op on CUDA tensors (trtkit._C.Layer.enqueue -> the plugin's kernels) against the
float64 reference, TF32 opt-in, autograd on CUDA, and the module; see test_deform_conv2d_kernels.py for the
200+ random configurations run straight on the kernels."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.gpu

from trtkit.ops import deform_conv2d, deform_conv2d_op  # noqa: E402
from trtkit.ops._deform_reference import deform_conv2d_reference, output_size  # noqa: E402

TOLERANCE = {"fp32": 2e-5, "tf32": 4e-3, "fp16": 4e-3}


@pytest.fixture(autouse=True)
def need_cuda_and_module():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    try:
        from trtkit import _C  # noqa: F401
    except ImportError as e:
        pytest.skip(f"trtkit._C is not built: {e}")


def case(rng: random.Random, dtype: torch.dtype):
    while True:
        k = (rng.randint(1, 5), rng.randint(1, 5))
        s, p, d = (
            (rng.randint(1, 2), rng.randint(1, 2)),
            (rng.randint(0, 2), rng.randint(0, 2)),
            (1, rng.randint(1, 2)),
        )
        g, og = rng.choice([1, 2]), rng.choice([1, 2, 4])
        cin, cout = g * og * rng.randint(1, 12), g * rng.choice([3, 32, 80])
        n, h, w = rng.choice([1, 2, 4]), rng.randint(3, 30), rng.randint(3, 30)
        ho, wo = output_size(h, k[0], s[0], p[0], d[0]), output_size(w, k[1], s[1], p[1], d[1])
        if ho > 0 and wo > 0:
            break
    t = lambda *shape, scale=1.0: (torch.randn(*shape, device="cuda", dtype=torch.float64) * scale).to(dtype)  # noqa: E731
    x, wt = t(n, cin, h, w), t(cout, cin // g, *k, scale=0.2)
    off = t(n, 2 * og * k[0] * k[1], ho, wo, scale=rng.choice([0.7, 4.0, 100.0]))
    mask = torch.rand(n, og * k[0] * k[1], ho, wo, device="cuda").to(dtype) if rng.random() < 0.5 else None
    bias = t(cout) if rng.random() < 0.5 else None
    return x, off, wt, bias, s, p, d, mask, g, og


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    return ((out.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


@pytest.mark.parametrize("mode", ["fp32", "tf32", "fp16"])
def test_eager_cuda_op_matches_reference(mode: str) -> None:
    rng = random.Random({"fp32": 1, "tf32": 2, "fp16": 3}[mode])
    dtype = torch.float16 if mode == "fp16" else torch.float32
    for _ in range(40):
        x, off, wt, bias, s, p, d, mask, g, og = case(rng, dtype)
        out = deform_conv2d_op(x, off, wt, bias, s, p, d, mask, allow_tf32=mode == "tf32")
        assert out.is_cuda and out.dtype == dtype and torch.isfinite(out).all()
        dd = lambda v: None if v is None else v.double()  # noqa: E731
        ref = deform_conv2d_reference(dd(x), dd(wt), dd(off), dd(mask), dd(bias), s, p, d, g, og)
        assert rel_err(out, ref) < TOLERANCE[mode], (mode, x.shape, wt.shape, s, p, d, g, og)


@pytest.mark.parametrize("mode", ["fp32", "tf32", "fp16"])
def test_eager_cuda_op_with_gemm_row_weights(mode: str) -> None:
    """The op given GEMM rows (weight_layout=1, as trtkit.export writes a node's weight) through the layer on
    CUDA equals the float64 reference on the original weight and bias; the bias input (NaN) is not read."""
    from trtkit.ops.deform_conv2d import weight_rows

    rng = random.Random({"fp32": 4, "tf32": 5, "fp16": 6}[mode])
    dtype = torch.float16 if mode == "fp16" else torch.float32
    for _ in range(20):
        x, off, wt, bias, s, p, d, mask, g, og = case(rng, dtype)
        rows = weight_rows(wt, bias, allow_tf32=mode == "tf32")
        out = torch.ops.trtkit.deform_conv2d(
            x,
            rows,
            off,
            mask if mask is not None else x.new_zeros((1, 1)),
            torch.full((1,), float("nan"), device="cuda", dtype=dtype),
            stride=list(s),
            padding=list(p),
            dilation=list(d),
            groups=g,
            offset_groups=og,
            use_mask=int(mask is not None),
            allow_tf32=int(mode == "tf32"),
            weight_layout=1,
            kernel_shape=list(wt.shape[2:]),
        )
        assert out.is_cuda and out.dtype == dtype and torch.isfinite(out).all()
        dd = lambda v: None if v is None else v.double()  # noqa: E731
        ref = deform_conv2d_reference(dd(x), dd(wt), dd(off), dd(mask), dd(bias), s, p, d, g, og)
        assert rel_err(out, ref) < TOLERANCE[mode], (mode, x.shape, wt.shape, s, p, d, g, og)


def test_strict_fp32_is_not_tf32() -> None:
    """Strict fp32 is never silently TF32: where TF32 rounding shows, its error stays at fp32 level."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True  # the kit must not follow torch's global switches
    torch.backends.cudnn.allow_tf32 = True
    try:
        x = torch.randn(2, 64, 16, 16, device="cuda")
        wt = torch.randn(64, 64, 3, 3, device="cuda") * 0.1
        off = torch.randn(2, 18, 16, 16, device="cuda")
        ref = deform_conv2d_reference(
            x.double(), wt.double(), off.double(), None, None, (1, 1), (1, 1), (1, 1), 1, 1
        )
        strict = rel_err(deform_conv2d(x, off, wt, padding=(1, 1)), ref)
        tf32 = rel_err(deform_conv2d_op(x, off, wt, None, 1, 1, 1, None, allow_tf32=True), ref)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    assert strict < 1e-5 and tf32 > 10 * strict, (strict, tf32)


def test_cuda_autograd_and_module() -> None:
    import trtkit.nn

    m = trtkit.nn.DeformConv2d(8, 16, 3, padding=1).cuda()
    x = torch.randn(2, 8, 10, 10, device="cuda", requires_grad=True)
    off = torch.randn(2, 18, 10, 10, device="cuda", requires_grad=True)
    mask = torch.rand(2, 9, 10, 10, device="cuda", requires_grad=True)
    out = m(x, off, mask)
    out.square().mean().backward()
    for t in (x, off, mask, m.weight, m.bias):
        assert t.grad is not None and torch.isfinite(t.grad).all()
    cpu = trtkit.nn.DeformConv2d(8, 16, 3, padding=1)
    cpu.load_state_dict({k: v.cpu() for k, v in m.state_dict().items()})
    ref = cpu(x.detach().cpu(), off.detach().cpu(), mask.detach().cpu())
    torch.testing.assert_close(out.detach().cpu(), ref, rtol=1e-4, atol=1e-4)


def test_matches_torchvision_cuda() -> None:
    torchvision = pytest.importorskip("torchvision")
    x = torch.randn(4, 32, 20, 24, device="cuda")
    wt = torch.randn(48, 32, 3, 3, device="cuda") * 0.1
    off = torch.randn(4, 2 * 4 * 9, 20, 24, device="cuda") * 2
    mask = torch.rand(4, 4 * 9, 20, 24, device="cuda")
    b = torch.randn(48, device="cuda")
    ours = deform_conv2d(x, off, wt, b, padding=(1, 1), mask=mask)
    theirs = torchvision.ops.deform_conv2d(x, off, wt, b, padding=(1, 1), mask=mask)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
