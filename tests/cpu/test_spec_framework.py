"""CPU tier: the spec framework on an op other than MYSELU — two outputs, int/ints/floats/string attributes,
no hand-written backward (autograd through the reference) — through eager, autograd, torch.export and both
ONNX exporters. The op is test-only (no compiled layer; its module is a stand-in) and is registered inside
the tests, so the schema-agreement tests never see it."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import onnx
import pytest

torch = pytest.importorskip("torch")

import trtkit  # noqa: E402
from trtkit.onnx_schema import describe_node, kit_nodes  # noqa: E402
from trtkit.spec import Attr, OpSpec, TensorArg  # noqa: E402


def _reference(x: Any, w: Any, *, scale: float, shift: tuple, repeat: int, tag: str) -> tuple[Any, Any]:
    del tag
    y = scale * x * w + torch.tensor(list(shift), dtype=x.dtype).sum()
    return y * repeat, torch.tanh(x).sum(dim=-1)


def _shapes(shapes: Any, attrs: dict[str, Any]) -> list[list[Any]]:
    x = shapes[0]
    return [list(x), list(x[:-1])]


def _validate(attrs: dict[str, Any], shapes: Any) -> None:
    if attrs["repeat"] < 1:
        raise ValueError(f"TKTEST_TWO: repeat must be >= 1, got {attrs['repeat']}")


_SPEC: list[OpSpec] = []


def spec() -> OpSpec:
    if not _SPEC:
        _SPEC.append(
            OpSpec(
                name="TKTEST_TWO",
                op="tktest_two",
                doc="test op with two outputs",
                inputs=[TensorArg("x"), TensorArg("w", weight=True)],
                outputs=["y", "z"],
                attrs=[
                    Attr("scale", "float", 0.5),
                    Attr("shift", "floats", (1.0, -0.25)),
                    Attr("repeat", "int", 2),
                    Attr("tag", "string", "t"),
                ],
                type_combinations=[("float32",) * 4],
                reference=_reference,
                output_shapes=_shapes,
                validate=_validate,
                module=types.SimpleNamespace(),  # no compiled layer: CPU, fake and export only
            ).register()
        )
    return _SPEC[0]


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.linspace(0.5, 1.5, 5))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return spec()(x, self.w, scale=1.5, repeat=3, tag="net")


def test_schema_string_and_eager() -> None:
    s = spec()
    assert s.torch_schema() == (
        "tktest_two(Tensor x, Tensor w, *, float scale=0.5, float[] shift=[1.0, -0.25], int repeat=2, "
        'str tag="t") -> (Tensor, Tensor)'
    )
    x = torch.randn(3, 5)
    y, z = s(x, torch.ones(5))
    torch.testing.assert_close(y, (0.5 * x + 0.75) * 2)
    torch.testing.assert_close(z, torch.tanh(x).sum(-1))
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        s(x, torch.ones(5), repeat=0)
    with pytest.raises(TypeError, match="'shift' must be a float"):
        s(x, torch.ones(5), shift=["a"])


def test_default_backward_is_autograd_through_the_reference() -> None:
    s = spec()
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: s(a, b, scale=0.7), (x, w))
    assert torch.autograd.gradgradcheck(lambda a, b: s(a, b, scale=0.7), (x, w))
    y, _ = s(x.detach(), w)  # only w needs a gradient
    y.sum().backward()
    assert w.grad is not None


def test_cuda_needs_a_compiled_layer() -> None:
    from trtkit.spec import compiled_module

    assert compiled_module(spec()) is spec().module


@pytest.mark.parametrize("plugin", ["v3", "v2"])
def test_two_outputs_export_identically(tmp_path: Path, plugin: str) -> None:
    pytest.importorskip("onnxscript")
    spec()
    models = {}
    for dynamo in (False, True):
        models[dynamo] = trtkit.export(
            Net().eval(), (torch.randn(2, 4, 5),), tmp_path / f"{dynamo}.onnx", dynamo=dynamo, plugin=plugin
        )
    nodes = [describe_node(kit_nodes(m)[0]) for m in models.values()]
    assert nodes[0] == nodes[1]
    attrs = nodes[0]["attributes"]
    assert (
        attrs["scale"] == ("FLOAT", 1.5)
        and attrs["repeat"] == ("INT", 3)
        and attrs["tag"] == ("STRING", "net")
    )
    assert attrs["shift"] == ("FLOATS", [1.0, -0.25])
    for m in models.values():
        onnx.checker.check_model(m, full_check=True)
        assert [o.name for o in m.graph.output] == ["output_0", "output_1"]
        out = [[d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in m.graph.output]
        assert out == [["batch", 4, 5], ["batch", 4]]


def test_torch_export_fake_kernel() -> None:
    spec()
    ep = torch.export.export(Net().eval(), (torch.randn(2, 4, 5),))
    y, z = ep.module()(torch.randn(2, 4, 5))
    assert y.shape == (2, 4, 5) and z.shape == (2, 4)
