"""trt tier: DeformConv2d nodes written by trtkit.export (kit module and re-routed torchvision model, both
PyTorch exporters, both plugin versions) become plugins in the real TensorRT registry through the parser's
field conversion, with the exported attributes and the right output shape; bad fields fail cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from trt_helpers import V2, V3, create_from_node, deform_node, v2_config_bytes, v3_config_bytes

pytestmark = pytest.mark.trt

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

SHAPES = [[2, 8, 10, 12], [6, 4, 3, 3], [2, 36, 10, 6], [2, 18, 10, 6], [6]]  # stride (1, 2), groups 2, og 2
# trtkit.export's GEMM rows of that weight and bias (weight_layout=1): 3*3*4 weights + bias -> 40 (32 B)
ROW_SHAPES = [SHAPES[0], [6, 40], *SHAPES[2:]]


class Net(torch.nn.Module):
    def __init__(self, dcn: torch.nn.Module) -> None:
        super().__init__()
        self.offset = torch.nn.Conv2d(8, 36, 3, padding=1, stride=(1, 2))
        self.mask = torch.nn.Conv2d(8, 18, 3, padding=1, stride=(1, 2))
        self.dcn = dcn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dcn(x, self.offset(x), torch.sigmoid(self.mask(x)))


@pytest.mark.parametrize("prearrange", [True, False], ids=["gemm-rows", "torchvision-layout"])
@pytest.mark.parametrize("plugin", ["v2", "v3"])
@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
@pytest.mark.parametrize("source", ["kit", "torchvision"])
def test_exported_node_becomes_a_plugin(
    tmp_path: Path,
    trt: Any,
    registry: Any,
    harness: Any,
    plugin: str,
    dynamo: bool,
    source: str,
    prearrange: bool,
) -> None:
    import trtkit
    import trtkit.nn
    from trtkit import _C

    kw = dict(stride=(1, 2), padding=1, groups=2)
    dcn = (
        trtkit.nn.DeformConv2d(8, 6, 3, **kw)
        if source == "kit"
        else torchvision.ops.DeformConv2d(8, 6, 3, **kw)
    )
    x = torch.randn(2, 8, 10, 12)
    proto = trtkit.export(
        Net(dcn).eval(),
        (x,),
        tmp_path / "m.onnx",
        dynamo=dynamo,
        plugin=plugin,
        reroute_torchvision=source == "torchvision",
        prearrange_weights=prearrange,
    )
    nodes = [n for n in proto.graph.node if n.op_type == "DeformConv2d"]
    assert len(nodes) == 1, [n.op_type for n in proto.graph.node]
    weight = next(t for t in proto.graph.initializer if t.name == nodes[0].input[1])
    shapes = ROW_SHAPES if prearrange else SHAPES
    assert list(weight.dims) == shapes[1]
    made = create_from_node(trt, registry, nodes[0])
    assert made is not None
    if plugin == "v2":
        config = v2_config_bytes(made)
        dims = harness.PluginV2(made).get_output_dimensions(0, shapes)[0]
        assert dims == [2, 6, 10, 6]
    else:
        config = v3_config_bytes(harness, made)
        status, out, _ = harness.PluginV3(made).get_output_shapes(shapes, symbolic=True)
        assert (status, out) == (0, [[2, 6, 10, 6]])
    attrs = _C._testing.config_from_bytes(config)["attrs"]
    assert attrs == {
        "stride": [1, 2],
        "padding": [1, 1],
        "dilation": [1, 1],
        "groups": 2,
        "offset_groups": 2,
        "use_mask": 1,
        "allow_tf32": 0,
        "weight_layout": int(prearrange),
        "kernel_shape": [3, 3] if prearrange else [0, 0],
    }


@pytest.mark.parametrize("version", [V2, V3])
def test_invalid_fields_fail_cleanly(trt: Any, registry: Any, harness: Any, log: Any, version: str) -> None:
    for bad in (
        {"stride": [0, 1]},
        {"dilation": [1, 2, 3]},
        {"groups": 0},
        {"use_mask": 5},
        {"weight_layout": 1},  # GEMM rows without kernel_shape
        {"kernel_shape": [3, 3, 3]},
    ):
        try:
            made = create_from_node(trt, registry, deform_node(version, **bad))
        except Exception:  # noqa: BLE001 - the bindings may raise instead of returning None
            made = None
        assert made is None, bad
        assert any(next(iter(bad)) in m for m in log()), bad


def test_v3_tactics_are_validated(trt: Any, registry: Any, harness: Any, log: Any) -> None:
    """setTactic takes 0 and well-formed codes (16 * algorithm + GEMM variant; the sampled algorithm with
    variants 0-4, the pipelined one) and refuses anything else with a message, never a crash. Without a GPU
    nothing is offered (tests/trt/test_tactics_gpu.py runs the offered ones)."""
    plugin = harness.PluginV3(
        create_from_node(
            trt, registry, deform_node(V3, stride=[1, 2], padding=[1, 1], groups=2, offset_groups=2)
        )
    )
    descs = [("float32", s) for s in SHAPES]
    assert plugin.configure_plugin(descs, [("float32", [2, 6, 10, 6])]) == 0
    n = plugin.get_nb_tactics()
    status, tactics = plugin.get_valid_tactics(n)
    assert status == 0 and len(set(tactics)) == n and 0 not in tactics
    if not torch.cuda.is_available():
        assert n == 0
    for good in (0, 0x20, 0x24, 0x30):
        assert plugin.set_tactic(good) == 0, good
    assert log() == []
    bad = (1, 0x10, 0x25, 0x31, 0x40, -32)
    for code in bad:
        assert plugin.set_tactic(code) != 0, code
    messages = log()
    assert len(messages) == len(bad) and all("unknown tactic" in m for m in messages), messages
    clone = plugin.clone()  # the last good tactic travels with clones; the plugin still works
    assert clone is not None and clone.set_tactic(0x21) == 0
