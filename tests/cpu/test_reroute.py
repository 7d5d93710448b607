"""CPU tier: the spec framework's re-routing of a third-party op (what deform_conv2d does with torchvision's
op) exports that op as the kit's node under both exporters, only when asked, with the same node as the kit op.

A test-only op `trtkit_test::scaled_selu(x, beta, scale, flag)` plays the third-party op; it is re-routed to
MYSELU (axes [1], gain = scale) for the duration of each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

import trtkit  # noqa: E402
from trtkit.onnx_schema import describe_node, kit_nodes  # noqa: E402
from trtkit.ops import MYSELU, myselu  # noqa: E402
from trtkit.spec import Reroute  # noqa: E402

_lib = torch.library.Library("trtkit_test", "DEF")
_lib.define("scaled_selu(Tensor x, Tensor beta, float scale=1.0, int flag=0) -> Tensor")


def _scaled_selu(x: Any, beta: Any, scale: float = 1.0, flag: int = 0) -> Any:
    return scale * x * torch.sigmoid(beta.reshape(1, -1, *([1] * (x.dim() - 2))) * x)


_lib.impl("scaled_selu", _scaled_selu, "CPU")
torch.library.register_fake(
    "trtkit_test::scaled_selu", lambda x, beta, scale=1.0, flag=0: torch.empty_like(x), lib=_lib
)


def adapt(args: list[Any], const: Any) -> tuple[list[Any], dict[str, Any]]:
    x, beta, scale, flag = args
    assert const(flag, "i") == 0
    return [x, beta], {"axes": [1], "gain": const(scale, "f"), "info": '{"from": "trtkit_test::scaled_selu"}'}


ROUTE = Reroute("trtkit_test::scaled_selu", lambda: torch.ops.trtkit_test.scaled_selu.default, adapt)


@pytest.fixture
def rerouted() -> Iterator[None]:
    saved = MYSELU.reroutes
    MYSELU.reroutes = (ROUTE,)
    try:
        yield
    finally:
        MYSELU.reroutes = saved


class ThirdParty(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.beta = torch.nn.Parameter(torch.linspace(0.5, 1.5, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.trtkit_test.scaled_selu(x, self.beta, 2.0)  # flag left at its default


class Kit(ThirdParty):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return myselu(x, self.beta, axes=[1], gain=2.0, info='{"from": "trtkit_test::scaled_selu"}')


@pytest.mark.parametrize("plugin", ["v3", "v2"])
@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_reroute_gives_the_kit_node(tmp_path: Path, rerouted: None, dynamo: bool, plugin: str) -> None:
    x = torch.randn(2, 4, 5)
    torch.testing.assert_close(ThirdParty()(x), Kit()(x))
    got = trtkit.export(
        ThirdParty().eval(), (x,), tmp_path / "r.onnx", dynamo=dynamo, plugin=plugin, reroute_torchvision=True
    )
    want = trtkit.export(Kit().eval(), (x,), tmp_path / "k.onnx", dynamo=dynamo, plugin=plugin)
    assert len(got.graph.node) == 1
    assert describe_node(kit_nodes(got)[0]) == describe_node(kit_nodes(want)[0])
    import onnx

    onnx.checker.check_model(got, full_check=True)


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_no_reroute_unless_asked(tmp_path: Path, rerouted: None, dynamo: bool) -> None:
    """Without reroute_torchvision the third-party op is not turned into the kit's node (the legacy exporter
    has no symbolic for it and fails; the re-routing symbolic of an earlier export must not linger)."""
    x = torch.randn(2, 4, 5)
    trtkit.export(ThirdParty().eval(), (x,), tmp_path / "first.onnx", dynamo=dynamo, reroute_torchvision=True)
    try:
        model = trtkit.export(ThirdParty().eval(), (x,), tmp_path / "plain.onnx", dynamo=dynamo)
    except Exception:  # noqa: BLE001 - no way to export the op is the expected outcome too
        return
    assert not kit_nodes(model), "the op was re-routed although reroute_torchvision=False"
