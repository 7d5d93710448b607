"""CPU tier: MYSELU exports to the same TensorRT plugin node under both PyTorch exporters.

For each plugin flavour (v3 = IPluginV3, v2 = IPluginV2DynamicExt), front end (the torch.library op and the
autograd.Function with a symbolic) and attribute set, the legacy and the dynamo exporter must give nodes with
equal op_type, domain, inputs and attributes (names, ONNX types and values), a dynamic batch dimension, a
model that passes onnx.checker's full check, and shape inference that gives the output's shape and dtype.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")

import trtkit  # noqa: E402
from trtkit.onnx_schema import describe_node, kit_nodes  # noqa: E402
from trtkit.ops import MySelu  # noqa: E402

CASES = {
    # name: (x shape, MySelu kwargs, channels)
    "channel": ((2, 3, 4, 5), {"axes": (1,), "gain": 2.5, "info": '{"layer": "act1"}'}, 3),
    "scalar": ((2, 7), {"axes": (), "gain": 1.0, "info": "{}"}, 1),
    "two_axes": ((2, 3, 4, 5), {"axes": (1, 2), "gain": -0.5, "info": '{"a": [1, 2]}'}, 12),
    "last_negative": ((2, 3, 6), {"axes": (-1,), "gain": 1.0, "info": ""}, 6),
}
PLUGIN_VERSION = {"v3": "2", "v2": "1"}


class Net(torch.nn.Module):
    def __init__(self, channels: int, use_function: bool, **kw: object) -> None:
        super().__init__()
        self.act = MySelu(channels, use_function=use_function, init=0.7, **kw)  # type: ignore[arg-type]
        with torch.no_grad():
            self.act.p.copy_(torch.linspace(0.2, 1.5, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x)


def export_both(
    tmp_path: Path, net: torch.nn.Module, x: torch.Tensor, plugin: str
) -> dict[str, onnx.ModelProto]:
    out = {}
    for dynamo in (False, True):
        path = tmp_path / f"{'dynamo' if dynamo else 'legacy'}_{plugin}.onnx"
        out["dynamo" if dynamo else "legacy"] = trtkit.export(net, (x,), path, dynamo=dynamo, plugin=plugin)
        assert path.exists()
    return out


def dims(value_info: onnx.ValueInfoProto) -> list[object]:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("plugin", ["v3", "v2"])
@pytest.mark.parametrize("use_function", [False, True], ids=["custom_op", "autograd_function"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_both_exporters_give_the_same_node(
    tmp_path: Path, case: str, use_function: bool, plugin: str
) -> None:
    shape, kw, channels = CASES[case]
    net = Net(channels, use_function, **kw).eval()
    models = export_both(tmp_path, net, torch.randn(shape), plugin)
    described = {}
    for name, model in models.items():
        nodes = kit_nodes(model)
        assert len(nodes) == 1 and len(model.graph.node) == 1, f"{name}: expected exactly the MYSELU node"
        described[name] = describe_node(nodes[0])
        assert not [f for f in model.functions if f.domain == "trtkit"], (
            "no model-local function may shadow the op"
        )
        assert any(o.domain == "trtkit" and o.version == 1 for o in model.opset_import)
    legacy, dynamo = described["legacy"], described["dynamo"]
    assert legacy == dynamo

    node = legacy
    assert node["op_type"] == "MYSELU" and node["domain"] == "trtkit"
    attrs = node["attributes"]
    assert list(attrs) == ["axes", "gain", "info", "plugin_version", "plugin_namespace"]  # canonical order
    assert attrs["axes"] == ("INTS", list(kw["axes"]))
    assert attrs["gain"][0] == "FLOAT" and attrs["gain"][1] == pytest.approx(kw["gain"])
    assert attrs["info"] == ("STRING", kw["info"])
    assert attrs["plugin_version"] == ("STRING", PLUGIN_VERSION[plugin])
    assert attrs["plugin_namespace"] == ("STRING", "trtkit")

    for name, model in models.items():
        # x is the graph input, p an initializer (not a graph input), both feed the node in that order.
        assert [i.name for i in model.graph.input] == ["x"], name
        init = {i.name: i for i in model.graph.initializer}
        assert node["inputs"][0] == "x" and node["inputs"][1] in init, name
        assert list(init[node["inputs"][1]].dims) == [channels], name
        p_values = onnx.numpy_helper.to_array(init[node["inputs"][1]])
        assert p_values.tolist() == pytest.approx(net.act.p.detach().tolist())
        # dynamic batch on the input and the output
        assert dims(model.graph.input[0]) == ["batch", *shape[1:]], name
        assert dims(model.graph.output[0]) == ["batch", *shape[1:]], name


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
@pytest.mark.parametrize("plugin", ["v3", "v2"])
def test_checker_and_shape_inference(tmp_path: Path, dynamo: bool, plugin: str) -> None:
    net = Net(3, False, axes=(1,), gain=1.0, info="{}").eval()
    model = trtkit.export(net, (torch.randn(2, 3, 8),), tmp_path / "m.onnx", dynamo=dynamo, plugin=plugin)
    onnx.checker.check_model(model, full_check=True)
    # Drop the exporter's own output types, so shape inference has to produce them from the schema.
    del model.graph.value_info[:]
    out = model.graph.output[0]
    out.type.tensor_type.elem_type = onnx.TensorProto.UNDEFINED
    out.type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    node_out = kit_nodes(inferred)[0].output[0]
    vi = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}[node_out]
    assert vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert dims(vi) == ["batch", 3, 8]


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_mixed_precision_types(tmp_path: Path, dynamo: bool) -> None:
    """(x float16, p float32) -> y float16, a row of the plugin's dtype table."""
    net = Net(3, False).eval()
    model = trtkit.export(
        net, (torch.randn(2, 3, 4, dtype=torch.float16),), tmp_path / "h.onnx", dynamo=dynamo
    )
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert model.graph.initializer[0].data_type == onnx.TensorProto.FLOAT
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    assert inferred.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_batch_one_example_stays_dynamic(tmp_path: Path, dynamo: bool) -> None:
    model = trtkit.export(Net(3, False).eval(), (torch.randn(1, 3, 4),), tmp_path / "b1.onnx", dynamo=dynamo)
    assert dims(model.graph.input[0]) == ["batch", 3, 4]
    assert dims(model.graph.output[0]) == ["batch", 3, 4]


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_static_batch_on_request(tmp_path: Path, dynamo: bool) -> None:
    model = trtkit.export(
        Net(3, False).eval(), (torch.randn(2, 3, 4),), tmp_path / "s.onnx", dynamo=dynamo, dynamic_batch=False
    )
    assert dims(model.graph.input[0]) == [2, 3, 4]


def test_legacy_default_flavour_outside_export_is_v3(tmp_path: Path) -> None:
    """A plain torch.onnx.export (the symbolic is registered globally) gives the IPluginV3 node."""
    import warnings

    path = tmp_path / "plain.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Net(3, False).eval(),
            (torch.randn(2, 3, 4),),
            str(path),
            dynamo=False,
            custom_opsets={"trtkit": 1},
            opset_version=18,
        )
    node = describe_node(kit_nodes(onnx.load(str(path)))[0])
    assert node["attributes"]["plugin_version"] == ("STRING", "2")


def test_export_rejects_unknown_plugin_flavour(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plugin must be one of"):
        trtkit.export(Net(3, False), (torch.randn(2, 3, 4),), tmp_path / "x.onnx", plugin="v4")


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_export_reports_bad_attributes(tmp_path: Path, dynamo: bool) -> None:
    class Bad(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.p = torch.nn.Parameter(torch.ones(4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return trtkit.ops.myselu(x, self.p, axes=[1])  # x has 3 channels, p 4 values

    with pytest.raises(Exception, match="p has 4 elements"):
        trtkit.export(Bad(), (torch.randn(2, 3, 4),), tmp_path / "bad.onnx", dynamo=dynamo)


class ConvNet(torch.nn.Module):
    """MYSELU between two convolutions: its inputs are an intermediate tensor and an initializer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.act = MySelu(8, gain=1.25, info='{"layer": "act"}')
        self.conv2 = torch.nn.Conv2d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act(self.conv1(x)))


@pytest.mark.parametrize("plugin", ["v3", "v2"])
def test_inside_a_network(tmp_path: Path, plugin: str) -> None:
    models = export_both(tmp_path, ConvNet().eval(), torch.randn(2, 3, 10, 12), plugin)
    nodes = {}
    for name, model in models.items():
        onnx.checker.check_model(model, full_check=True)
        assert [n.op_type for n in model.graph.node] == ["Conv", "MYSELU", "Conv"], name
        (node,) = kit_nodes(model)
        nodes[name] = describe_node(node)
        produced = {o: n.op_type for n in model.graph.node for o in n.output}
        assert produced[node.input[0]] == "Conv", "x must come from conv1"
        assert node.input[1] in {i.name for i in model.graph.initializer}, "p must be an initializer"
        assert dims(model.graph.output[0]) == ["batch", 4, 10, 12]
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        vi = {v.name: v for v in inferred.graph.value_info}[node.output[0]]
        assert dims(vi) == ["batch", 8, 10, 12] and vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert not [f.name for f in tmp_path.iterdir() if f.suffix != ".onnx"], "small models are one file"
    legacy, dynamo = nodes["legacy"], nodes["dynamo"]
    # Intermediate tensor names are the exporters' own; everything else must agree.
    assert legacy["attributes"] == dynamo["attributes"]
    assert (legacy["op_type"], legacy["domain"], legacy["inputs"][1]) == (
        dynamo["op_type"],
        dynamo["domain"],
        dynamo["inputs"][1],
    )
