"""trt tier: the kit's own exporters (trtkit.export, both PyTorch exporters, both plugin versions) write
MYSELU nodes that the real registry turns into working plugins through the parser's field conversion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import pytest
from trt_helpers import V2, V3, create_from_node, v2_config_bytes, v3_config_bytes

pytestmark = pytest.mark.trt

torch = pytest.importorskip("torch")
INFO = '{"layer": "stage2.act"}'


@pytest.mark.parametrize("plugin", ["v2", "v3"])
@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
def test_exported_node_becomes_a_plugin(
    tmp_path: Path, trt: Any, registry: Any, harness: Any, plugin: str, dynamo: bool
) -> None:
    trtkit = pytest.importorskip("trtkit")
    try:
        from trtkit.ops import MySelu
    except ImportError as e:
        pytest.skip(f"trtkit.ops is not importable: {e}")
    from trtkit import _C

    model = MySelu(3, axes=(1,), gain=0.75, info=INFO).eval()
    x = torch.randn(2, 3, 4, 5)
    proto = trtkit.export(model, (x,), tmp_path / "m.onnx", dynamo=dynamo, plugin=plugin)
    if proto is None:
        proto = onnx.load(tmp_path / "m.onnx")
    nodes = [n for n in proto.graph.node if n.op_type == "MYSELU"]
    assert len(nodes) == 1, [n.op_type for n in proto.graph.node]
    node = nodes[0]
    made = create_from_node(trt, registry, node)
    assert made is not None
    if plugin == "v2":
        config = v2_config_bytes(made)
        shapes = harness.PluginV2(made).get_output_dimensions(0, [[2, 3, 4, 5], [3]])[0]
        assert shapes == [2, 3, 4, 5]
    else:
        config = v3_config_bytes(harness, made)
        status, shapes, _ = harness.PluginV3(made).get_output_shapes([[2, 3, 4, 5], [3]], symbolic=True)
        assert (status, shapes) == (0, [[2, 3, 4, 5]])
    attrs = _C._testing.config_from_bytes(config)["attrs"]
    assert attrs["axes"] == [1] and attrs["gain"] == pytest.approx(0.75) and attrs["info"] == INFO
    assert {V2: "v2", V3: "v3"}[
        next(a.s.decode() for a in node.attribute if a.name == "plugin_version")
    ] == plugin
