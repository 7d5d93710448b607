"""CPU tier: the MYSELU torch op in eager mode (the PyTorch reference on CPU), its autograd (gradcheck in
float64 for x and p, double backward), its fake kernel (torch.export / torch.compile) and its input checks."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from trtkit.ops import MySelu, MySeluFunction, myselu, myselu_reference  # noqa: E402

# (x shape, axes, p shape)
CASES = [
    ((2, 3, 4), (1,), (3,)),
    ((2, 3, 4, 5), (1, 2), (3, 4)),
    ((2, 3, 4, 5), (1, 2), (12,)),
    ((5,), (), (1,)),
    ((3, 4), (-1,), (4,)),
    ((4, 1, 3), (1,), (1,)),
    ((3, 2), (0,), (3,)),
    ((2, 3), (0, 1), (6,)),
]


def naive(x: torch.Tensor, p: torch.Tensor, axes: tuple[int, ...], gain: float) -> torch.Tensor:
    """Independent formulation: loop-free but via explicit index arithmetic, in float64."""
    rank = x.dim()
    norm = [a % rank for a in axes]
    shape = [x.shape[i] if i in norm else 1 for i in range(rank)]
    beta = p.double().reshape(shape).expand(x.shape)
    xd = x.double()
    return gain * xd / (1 + torch.exp(-beta * xd))


@pytest.mark.parametrize(("shape", "axes", "pshape"), CASES)
def test_eager_matches_independent_formula(shape: tuple, axes: tuple, pshape: tuple) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g) * 4
    p = torch.rand(pshape, generator=g) * 2 - 0.5
    y = myselu(x, p, axes=axes, gain=1.7)
    assert y.dtype == x.dtype and y.shape == x.shape
    torch.testing.assert_close(y.double(), naive(x, p, axes, 1.7), rtol=1e-5, atol=1e-6)


def test_float16_input_computes_in_float32() -> None:
    x = torch.randn(4, 8, 16) * 3
    p = torch.rand(8)
    for pd in (torch.float32, torch.float16):
        y = myselu(x.half(), p.to(pd))
        assert y.dtype == torch.float16
        ref = naive(x.half().float(), p.to(pd).float(), (1,), 1.0)
        torch.testing.assert_close(y.double(), ref, rtol=1e-3, atol=1e-3)


def test_defaults_and_torch_schema() -> None:
    x, p = torch.randn(2, 3), torch.rand(3)
    torch.testing.assert_close(myselu(x, p), torch.ops.trtkit.myselu(x, p))
    schema = str(torch.ops.trtkit.myselu.default._schema)
    assert "int[] axes=[1]" in schema and "float gain=1." in schema and "str info=" in schema


@pytest.mark.parametrize(
    ("kwargs", "pshape", "error", "message"),
    [
        ({"axes": (0, 2)}, (3,), ValueError, "contiguous increasing run"),
        ({"axes": (5,)}, (3,), ValueError, "out of range"),
        ({}, (4,), ValueError, "p has 4 elements"),
        ({"info": "nope"}, (3,), ValueError, "JSON object"),
        ({"info": "[]"}, (3,), ValueError, "JSON object"),
        ({"info": '{"a": NaN}'}, (3,), ValueError, "JSON object"),
        ({"gain": "x"}, (3,), TypeError, "attribute 'gain' must be a float"),
        ({"axes": 1}, (3,), TypeError, "attribute 'axes' must be a sequence"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs: dict, pshape: tuple, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        myselu(torch.randn(2, 3, 4), torch.rand(pshape), **kwargs)


@pytest.mark.parametrize(("shape", "axes", "pshape"), CASES)
def test_gradcheck_float64(shape: tuple, axes: tuple, pshape: tuple) -> None:
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * 2).requires_grad_()
    p = (torch.rand(pshape, generator=g, dtype=torch.float64) + 0.2).requires_grad_()

    def f(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return myselu(a, b, axes=axes, gain=1.3)

    assert torch.autograd.gradcheck(f, (x, p))
    assert torch.autograd.gradgradcheck(f, (x, p))


@pytest.mark.parametrize(("shape", "axes", "pshape"), CASES[:4])
def test_gradients_equal_reference_autograd(shape: tuple, axes: tuple, pshape: tuple) -> None:
    """The registered backward equals PyTorch's autograd through the reference."""
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    p = torch.rand(pshape, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(shape, dtype=torch.float64)
    got = torch.autograd.grad(myselu(x, p, axes=axes, gain=0.9), (x, p), gy)
    want = torch.autograd.grad(myselu_reference(x, p, axes=axes, gain=0.9), (x, p), gy)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


def test_autograd_function_matches_custom_op() -> None:
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    p = torch.rand(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: MySeluFunction.apply(a, b, [1], 1.1, "{}"), (x, p))
    y1 = MySeluFunction.apply(x, p, [1], 1.1, "{}")
    y2 = myselu(x, p, axes=[1], gain=1.1)
    torch.testing.assert_close(y1, y2)


def test_only_requested_gradients_and_mixed_dtypes() -> None:
    x = torch.randn(2, 3, 4).half()
    p = torch.rand(3, requires_grad=True)  # float32 beta, float16 activations
    myselu(x, p).float().sum().backward()
    assert p.grad is not None and p.grad.dtype == torch.float32 and p.grad.shape == (3,)


def test_training_step_changes_beta() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), MySelu(4))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = net[1].p.detach().clone()
    loss = net(torch.randn(2, 3, 8, 8)).square().mean()
    loss.backward()
    opt.step()
    assert not torch.equal(before, net[1].p.detach())


def test_opcheck() -> None:
    """torch.library's own consistency checks (schema, fake kernel, autograd registration)."""
    x = torch.randn(2, 3, 4, requires_grad=True)
    p = torch.rand(3, requires_grad=True)
    torch.library.opcheck(torch.ops.trtkit.myselu.default, (x, p), {"axes": [1], "gain": 2.0, "info": "{}"})


def test_fake_kernel_with_torch_export_dynamic_batch() -> None:
    net = MySelu(3).eval()
    batch = torch.export.Dim("batch", min=1)
    ep = torch.export.export(net, (torch.randn(2, 3, 5),), dynamic_shapes=({0: batch},))
    targets = [n.target for n in ep.graph.nodes if n.op == "call_function"]
    assert torch.ops.trtkit.myselu.default in targets
    out = ep.module()(torch.randn(7, 3, 5))
    assert out.shape == (7, 3, 5)


def test_torch_compile_aot_eager() -> None:
    """torch.compile traces the op with fake tensors (fake kernel + autograd), then runs the real kernel."""
    net = MySelu(3)
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    x = torch.randn(4, 3, 6, requires_grad=True)
    y = compiled(x)
    torch.testing.assert_close(y, net(x))
    y.sum().backward()
    assert x.grad is not None and net.p.grad is not None
