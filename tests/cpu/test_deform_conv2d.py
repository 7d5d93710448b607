"""CPU tier: DeformConv2d — the PyTorch reference against torchvision bit for bit, the kit op and module,
exports of the kit op and of torchvision models (re-routed) under both exporters, parser fields, and clear
errors for invalid attributes and shapes (C++ layer and Python op)."""

from __future__ import annotations

import inspect
import random
import warnings
from pathlib import Path
from typing import Any

import onnx
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision", reason="the reference is checked against torchvision")

import trtkit  # noqa: E402
import trtkit.nn  # noqa: E402
from trtkit.onnx_schema import describe_node, kit_nodes  # noqa: E402
from trtkit.ops import DEFORM_CONV2D, deform_conv2d  # noqa: E402
from trtkit.ops._deform_reference import deform_conv2d_reference, output_size  # noqa: E402

tv_deform = torchvision.ops.deform_conv2d


def _c_module() -> Any:
    try:
        from trtkit import _C
    except ImportError as e:
        pytest.skip(f"trtkit._C is not built ({e}); build the project first")
    return _C


def random_case(rng: random.Random, dtype: torch.dtype) -> dict[str, Any]:
    while True:
        kh, kw = rng.randint(1, 5), rng.randint(1, 5)
        s = (rng.randint(1, 3), rng.randint(1, 3))
        p = (rng.randint(0, 2), rng.randint(0, 2))
        d = (rng.randint(1, 2), rng.randint(1, 2))
        g, og = rng.choice([1, 2]), rng.choice([1, 2, 3])
        cin = g * og * rng.randint(1, 2)
        cout = g * rng.randint(1, 3)
        n = rng.choice([1, 2, 3, 5, 33])
        h, w = rng.randint(1, 9), rng.randint(1, 9)
        ho, wo = output_size(h, kh, s[0], p[0], d[0]), output_size(w, kw, s[1], p[1], d[1])
        if ho > 0 and wo > 0 and n * ho * wo < 400:
            break
    gen = torch.Generator().manual_seed(rng.randint(0, 2**31))
    x = torch.randn(n, cin, h, w, generator=gen, dtype=dtype)
    weight = torch.randn(cout, cin // g, kh, kw, generator=gen, dtype=dtype)
    offset = torch.randn(n, 2 * og * kh * kw, ho, wo, generator=gen, dtype=dtype) * rng.choice([0.5, 3, 40])
    mask = torch.rand(n, og * kh * kw, ho, wo, generator=gen, dtype=dtype) if rng.random() < 0.6 else None
    bias = torch.randn(cout, generator=gen, dtype=dtype) if rng.random() < 0.6 else None
    return dict(
        x=x,
        weight=weight,
        offset=offset,
        mask=mask,
        bias=bias,
        stride=s,
        padding=p,
        dilation=d,
        groups=g,
        offset_groups=og,
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_reference_equals_torchvision_bit_for_bit(dtype: torch.dtype) -> None:
    rng = random.Random(7 if dtype == torch.float32 else 8)
    for _ in range(60):
        c = random_case(rng, dtype)
        want = tv_deform(
            c["x"], c["offset"], c["weight"], c["bias"], c["stride"], c["padding"], c["dilation"], c["mask"]
        )
        got = deform_conv2d_reference(
            c["x"],
            c["weight"],
            c["offset"],
            c["mask"],
            c["bias"],
            c["stride"],
            c["padding"],
            c["dilation"],
            c["groups"],
            c["offset_groups"],
        )
        assert torch.equal(got, want), {k: v for k, v in c.items() if not isinstance(v, torch.Tensor)}


def test_far_outside_offsets_sample_zero_like_torchvision() -> None:
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    for shift in (-1.0, -0.999, -1e9, 4.0, 4.5, 5.0, 1e9, float(2**31)):
        off = torch.full((1, 18, 5, 5), shift, dtype=torch.float64)
        want = tv_deform(x, off, w, padding=(1, 1))
        got = deform_conv2d(x, off, w, padding=(1, 1))
        assert torch.equal(got, want), shift


def test_signature_is_torchvisions() -> None:
    ours = inspect.signature(deform_conv2d).parameters
    theirs = inspect.signature(tv_deform).parameters
    assert list(ours) == list(theirs)
    for name in theirs:
        assert ours[name].default == theirs[name].default, name
        assert ours[name].kind == theirs[name].kind, name


def test_op_equals_torchvision_and_infers_groups() -> None:
    rng = random.Random(3)
    for _ in range(20):
        c = random_case(rng, torch.float32)
        want = tv_deform(
            c["x"], c["offset"], c["weight"], c["bias"], c["stride"], c["padding"], c["dilation"], c["mask"]
        )
        got = deform_conv2d(
            c["x"], c["offset"], c["weight"], c["bias"], c["stride"], c["padding"], c["dilation"], c["mask"]
        )
        assert torch.equal(got, want)
    x, w, off = torch.randn(1, 4, 6, 6), torch.randn(2, 4, 3, 3), torch.randn(1, 18, 6, 6)
    assert torch.equal(
        deform_conv2d(x, off, w, stride=1, padding=1, dilation=1),
        tv_deform(x, off, w, stride=1, padding=1, dilation=1),
    )


def test_fp16_reference_is_fp32_rounded_once() -> None:
    c = random_case(random.Random(11), torch.float32)
    h = {k: (v.half() if isinstance(v, torch.Tensor) else v) for k, v in c.items()}
    got = deform_conv2d(
        h["x"], h["offset"], h["weight"], h["bias"], h["stride"], h["padding"], h["dilation"], h["mask"]
    )
    f = lambda t: None if t is None else t.float()  # noqa: E731
    want = tv_deform(
        f(h["x"]),
        f(h["offset"]),
        f(h["weight"]),
        f(h["bias"]),
        h["stride"],
        h["padding"],
        h["dilation"],
        f(h["mask"]),
    ).half()
    assert got.dtype == torch.float16 and torch.equal(got, want)


def test_gradients_match_torchvision() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 6, 7, dtype=torch.float64, generator=gen)
    w = torch.randn(6, 2, 3, 3, dtype=torch.float64, generator=gen)
    # Offsets away from integers: torchvision's offset gradient is one-sided at the kinks.
    off = (torch.rand(2, 2 * 2 * 9, 6, 7, dtype=torch.float64, generator=gen) * 0.8 + 0.1) * torch.tensor(
        [1.0, -1.0], dtype=torch.float64
    ).repeat(18).view(1, 36, 1, 1)
    m = torch.rand(2, 2 * 9, 6, 7, dtype=torch.float64, generator=gen)
    b = torch.randn(6, dtype=torch.float64, generator=gen)
    grads = []
    for fn in (tv_deform, deform_conv2d):
        leaves = [t.clone().requires_grad_() for t in (x, off, w, b, m)]
        out = fn(leaves[0], leaves[1], leaves[2], leaves[3], (1, 1), (1, 1), (1, 1), leaves[4])
        out.backward(torch.ones_like(out))
        grads.append([t.grad for t in leaves])
    for name, a, b_ in zip(("input", "offset", "weight", "bias", "mask"), *grads):
        torch.testing.assert_close(b_, a, rtol=1e-9, atol=1e-9, msg=name)


def test_fake_kernel_and_torch_export_with_dynamic_batch() -> None:
    model = trtkit.nn.DeformConv2d(4, 6, 3, padding=1).eval()
    x, off, m = torch.randn(2, 4, 8, 8), torch.randn(2, 18, 8, 8), torch.rand(2, 9, 8, 8)
    batch = torch.export.Dim("batch", min=1)
    ep = torch.export.export(model, (x, off, m), dynamic_shapes=({0: batch}, {0: batch}, {0: batch}))
    assert any("trtkit.deform_conv2d" in str(n.target) for n in ep.graph.nodes)
    assert torch.equal(ep.module()(x, off, m), model(x, off, m))


def test_module_is_torchvisions_drop_in() -> None:
    torch.manual_seed(0)
    theirs = torchvision.ops.DeformConv2d(
        6, 8, (3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1), groups=2
    )
    ours = trtkit.nn.DeformConv2d(6, 8, (3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1), groups=2)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 6, 9, 10)
    ho, wo = output_size(9, 3, 1, 1, 2), output_size(10, 2, 2, 0, 1)
    off = torch.randn(3, 2 * 6, ho, wo)
    m = torch.rand(3, 6, ho, wo)
    assert torch.equal(ours(x, off, m), theirs(x, off, m))
    assert torch.equal(ours(x, off), theirs(x, off))
    nobias = trtkit.nn.DeformConv2d(6, 8, 3, bias=False)
    assert nobias.bias is None and "bias=False" in repr(nobias)


# ---- export ------------------------------------------------------------------------------------------


class KitNet(torch.nn.Module):
    def __init__(self, use_mask: bool, og: int = 1) -> None:
        super().__init__()
        self.offset = torch.nn.Conv2d(4, 2 * og * 9, 3, padding=1)
        self.mask = torch.nn.Conv2d(4, og * 9, 3, padding=1)
        self.dcn = trtkit.nn.DeformConv2d(4, 6, 3, padding=1)
        self.use_mask = use_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.sigmoid(self.mask(x)) if self.use_mask else None
        return self.dcn(x, self.offset(x), mask)


class TorchvisionNet(KitNet):
    def __init__(self, use_mask: bool, og: int = 1) -> None:
        super().__init__(use_mask, og)
        self.dcn = torchvision.ops.DeformConv2d(4, 6, 3, padding=1)


def _dcn_node(model: onnx.ModelProto) -> onnx.NodeProto:
    nodes = [n for n in kit_nodes(model) if n.op_type == "DeformConv2d"]
    assert len(nodes) == 1, [n.op_type for n in model.graph.node]
    assert not [n for n in model.graph.node if n.op_type == "DeformConv"], (
        "the standard ONNX op must not appear"
    )
    return nodes[0]


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {k: v for k, v in describe_node(node)["attributes"].items()}


def _check(model: onnx.ModelProto, path: Path) -> None:
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    out = inferred.graph.output[0]
    dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert dims[1:] == [6, 8, 8] and isinstance(dims[0], str), dims


@pytest.mark.parametrize("plugin", ["v3", "v2"])
@pytest.mark.parametrize("use_mask", [True, False], ids=["dcnv2", "dcnv1"])
@pytest.mark.parametrize("source", ["kit", "torchvision"])
def test_both_exporters_give_the_same_node(tmp_path: Path, source: str, use_mask: bool, plugin: str) -> None:
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
    torch.manual_seed(0)
    net = (KitNet if source == "kit" else TorchvisionNet)(use_mask).eval()
    x = torch.randn(2, 4, 8, 8)
    described = {}
    for dynamo in (False, True):
        path = tmp_path / f"{source}_{dynamo}.onnx"
        model = trtkit.export(
            net,
            (x,),
            path,
            dynamo=dynamo,
            plugin=plugin,
            reroute_torchvision=source == "torchvision",
            opset=18,
        )
        node = _dcn_node(model)
        _check(model, path)
        described[dynamo] = _attrs(node)
    assert described[False] == described[True]
    a = described[True]
    assert a["use_mask"] == ("INT", int(use_mask))
    assert (
        a["stride"] == ("INTS", [1, 1])
        and a["padding"] == ("INTS", [1, 1])
        and a["dilation"] == ("INTS", [1, 1])
    )
    assert a["groups"] == ("INT", 1) and a["offset_groups"] == ("INT", 1) and a["allow_tf32"] == ("INT", 0)
    assert a["plugin_version"] == ("STRING", {"v3": "2", "v2": "1"}[plugin])
    assert a["plugin_namespace"] == ("STRING", "trtkit")


def test_legacy_export_of_the_kit_op_warns_nothing_from_the_kit(tmp_path: Path) -> None:
    """The legacy exporter traces: shapes are traced values there, and the op's groups / offset_groups (static
    attributes of the node) come from them. That is intended, so the kit's code must not flood users with the
    tracer's warnings about it (torchvision's own op still warns from torchvision's file)."""
    net = KitNet(True, og=2).eval()
    net.dcn = trtkit.nn.DeformConv2d(4, 6, 3, padding=1, groups=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = trtkit.export(net, (torch.randn(2, 4, 8, 8),), tmp_path / "legacy.onnx", dynamo=False)
    ours = [w for w in caught if "trtkit" in str(w.filename)]
    assert not ours, [f"{w.filename}:{w.lineno}: {w.message}" for w in ours]
    a = _attrs(_dcn_node(model))
    assert a["groups"] == ("INT", 2) and a["offset_groups"] == ("INT", 2)


def test_torchvision_model_without_reroute_keeps_the_standard_op(tmp_path: Path) -> None:
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
    net = TorchvisionNet(True).eval()
    model = trtkit.export(net, (torch.randn(2, 4, 8, 8),), tmp_path / "tv.onnx", dynamo=True, opset=19)
    assert not kit_nodes(model)
    assert [n for n in model.graph.node if n.op_type == "DeformConv"]


def test_parser_fields_rebuild_the_exported_config(tmp_path: Path) -> None:
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
    _C = _c_module()
    from trtkit.parser_fields import fields_from_node, plugin_identity

    net = TorchvisionNet(True, og=2).eval()
    net.dcn = torchvision.ops.DeformConv2d(4, 6, 3, padding=1, stride=1, groups=2)
    for dynamo in (False, True):
        model = trtkit.export(
            net,
            (torch.randn(2, 4, 8, 8),),
            tmp_path / f"f{dynamo}.onnx",
            dynamo=dynamo,
            reroute_torchvision=True,
        )
        node = _dcn_node(model)
        assert plugin_identity(node) == ("DeformConv2d", "2", "trtkit")
        declared = [a["name"] for a in _C.schema("DeformConv2d")["attrs"]]
        attrs = _C.config_from_fields("DeformConv2d", fields_from_node(node, declared))
        assert attrs == {
            "stride": [1, 1],
            "padding": [1, 1],
            "dilation": [1, 1],
            "groups": 2,
            "offset_groups": 2,
            "use_mask": 1,
            "allow_tf32": 0,
            "weight_layout": 1,  # trtkit.export pre-arranged the weight into GEMM rows
            "kernel_shape": [3, 3],
        }


# ---- GEMM-row weights (weight_layout=1) --------------------------------------------------------------------


def _initializer(model: onnx.ModelProto, name: str) -> Any:
    from onnx import numpy_helper

    found = [t for t in model.graph.initializer if t.name == name]
    return torch.from_numpy(numpy_helper.to_array(found[0]).copy()) if found else None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gemm_rows_compute_torchvisions_op_bit_for_bit(dtype: torch.dtype) -> None:
    """weight_rows lays weight and bias out as the plugin's GEMM operand; the op given those rows
    (weight_layout=1, kernel_shape) is torchvision's op on the original weight and bias, bit for bit."""
    from trtkit.ops.deform_conv2d import weight_from_rows, weight_rows

    rng = random.Random(11)
    for _ in range(12):
        c = random_case(rng, dtype)
        expected = tv_deform(
            c["x"], c["offset"], c["weight"], c["bias"], c["stride"], c["padding"], c["dilation"], c["mask"]
        )
        bias = c["bias"] if c["bias"] is not None else torch.zeros(c["weight"].shape[0], dtype=dtype)
        rows = weight_rows(c["weight"], bias)
        cout, cin_g, kh, kw = c["weight"].shape
        assert rows.shape[0] == cout and rows.shape[1] > kh * kw * cin_g and rows.shape[1] % 8 == 0
        assert (rows[:, kh * kw * cin_g + 1 :] == 0).all()
        w, b = weight_from_rows(rows, cin_g, (kh, kw))
        assert torch.equal(w, c["weight"]) and torch.equal(b, bias)
        mask = c["mask"] if c["mask"] is not None else c["x"].new_zeros((1, 1))
        got = torch.ops.trtkit.deform_conv2d(
            c["x"],
            rows,
            c["offset"],
            mask,
            torch.zeros(1, dtype=dtype),  # not read with GEMM rows
            stride=list(c["stride"]),
            padding=list(c["padding"]),
            dilation=list(c["dilation"]),
            groups=c["x"].shape[1] // cin_g,
            offset_groups=c["offset"].shape[1] // (2 * kh * kw),
            use_mask=int(c["mask"] is not None),
            weight_layout=1,
            kernel_shape=[kh, kw],
        )
        assert torch.equal(got, expected)


def test_gemm_row_length_is_the_plugins_row_alignment() -> None:
    """R (gemm_row_elems) follows the rule of the plugin's own relayout (deform_conv2d_kernels.hpp, and
    test_workspace_is_bounded_by_the_documented_formula): 32-byte rows for strict fp32, 128-byte rows for
    fp16/TF32 where they add at most 5 %, else 32-byte."""
    from trtkit.ops.deform_conv2d import gemm_row_elems

    assert gemm_row_elems(2304, torch.float16) == 2368  # N8/N1 C256 3x3: 2305 -> 37 x 64
    assert gemm_row_elems(4608, torch.float16) == 4672  # N4 C512
    assert gemm_row_elems(2304, torch.float32) == 2312  # strict fp32: 32-byte rows
    assert gemm_row_elems(2304, torch.float32, allow_tf32=True) == 2336  # TF32: 128-byte rows
    assert gemm_row_elems(27, torch.float16) == 32  # 3 channels: 128-byte rows would add 37 %
    for taps in range(1, 300):
        for dtype in (torch.float16, torch.float32):
            r = gemm_row_elems(taps, dtype)
            assert r > taps and r % 8 == 0, (taps, dtype, r)


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
@pytest.mark.parametrize("source", ["kit", "torchvision"])
def test_export_prearranges_the_weight_into_gemm_rows(tmp_path: Path, source: str, dynamo: bool) -> None:
    """trtkit.export writes the node's weight and bias initializers as one GEMM-row initializer
    (weight_layout=1, kernel_shape), drops the unused torchvision-layout weight, and the model still
    computes the same thing (the op on the file's initializers equals the PyTorch model);
    prearrange_weights=False keeps torchvision's layout."""
    if dynamo:
        pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
    from trtkit.ops.deform_conv2d import weight_rows

    torch.manual_seed(3)
    net = (KitNet if source == "kit" else TorchvisionNet)(True, og=2).eval()
    x = torch.randn(2, 4, 8, 8)
    kw = dict(dynamo=dynamo, reroute_torchvision=source == "torchvision")
    model = trtkit.export(net, (x,), tmp_path / "rows.onnx", **kw)
    node = _dcn_node(model)
    _check(model, tmp_path / "rows.onnx")
    a = _attrs(node)
    assert a["weight_layout"] == ("INT", 1) and a["kernel_shape"] == ("INTS", [3, 3])
    rows = _initializer(model, node.input[1])
    assert rows is not None and torch.equal(rows, weight_rows(net.dcn.weight.detach(), net.dcn.bias.detach()))
    names = [t.name for t in model.graph.initializer]
    assert not [n for n in names if rows.shape != () and n.endswith("dcn.weight")], names
    with torch.no_grad():
        offset, mask = net.offset(x), torch.sigmoid(net.mask(x))
        expected = net(x)
        got = torch.ops.trtkit.deform_conv2d(
            x,
            rows,
            offset,
            mask,
            torch.zeros(1),
            padding=[1, 1],
            offset_groups=2,
            weight_layout=1,
            kernel_shape=[3, 3],
        )
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)

    plain = trtkit.export(net, (x,), tmp_path / "plain.onnx", prearrange_weights=False, **kw)
    node = _dcn_node(plain)
    assert _attrs(node)["weight_layout"] == ("INT", 0)
    assert list(_initializer(plain, node.input[1]).shape) == [6, 4, 3, 3]
    # trtkit.prearrange does the same to a model exported before; a second pass changes nothing
    assert trtkit.prearrange(plain) and not trtkit.prearrange(plain)
    node = _dcn_node(plain)
    assert _attrs(node)["weight_layout"] == ("INT", 1) and torch.equal(
        _initializer(plain, node.input[1]), rows
    )


def test_prearrange_leaves_computed_weights_alone(tmp_path: Path) -> None:
    """A weight that is not an initializer (here a graph input) cannot be laid out at export time: the node
    keeps torchvision's layout, and the plugin re-lays it per call."""

    class WeightIn(torch.nn.Module):
        def forward(self, x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            return deform_conv2d(x, offset, weight, padding=(1, 1))

    args = (torch.randn(1, 4, 6, 6), torch.randn(1, 18, 6, 6), torch.randn(6, 4, 3, 3))
    model = trtkit.export(WeightIn(), args, tmp_path / "w.onnx", dynamo=False, dynamic_batch=False)
    assert _attrs(_dcn_node(model))["weight_layout"] == ("INT", 0)


# ---- invalid input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"stride": [0, 1]}, "stride"),
        ({"stride": [1]}, "stride"),
        ({"dilation": [1, 0]}, "dilation"),
        ({"padding": [-1, 0]}, "padding"),
        ({"groups": 0}, "groups"),
        ({"offset_groups": -2}, "offset_groups"),
        ({"use_mask": 2}, "use_mask"),
        ({"allow_tf32": -1}, "allow_tf32"),
        ({"weight_layout": 2}, "weight_layout"),
        ({"kernel_shape": [3]}, "kernel_shape"),
        ({"kernel_shape": [3, -1]}, "kernel_shape"),
        ({"weight_layout": 1}, "kernel_shape .* required with weight_layout=1"),
        ({"weight_layout": 1, "kernel_shape": [0, 3]}, "kernel_shape .* required with weight_layout=1"),
    ],
)
def test_invalid_attributes_fail_at_creation(attrs: dict[str, Any], message: str) -> None:
    _C = _c_module()
    with pytest.raises(ValueError, match=message):
        _C.Layer("DeformConv2d", attrs)
    with pytest.raises(ValueError, match=message):
        DEFORM_CONV2D.check(DEFORM_CONV2D.bind_attrs(attrs), None)


GOOD = [[2, 6, 9, 9], [4, 3, 3, 3], [2, 36, 7, 7], [2, 18, 7, 7], [4]]
GOOD_ATTRS = {"groups": 2, "offset_groups": 2}


def _with(index: int, shape: list[int]) -> list[list[int]]:
    shapes = [list(s) for s in GOOD]
    shapes[index] = shape
    return shapes


ROWS = {"weight_layout": 1, "kernel_shape": [3, 3]}
BAD_SHAPES = [
    ({"groups": 4}, GOOD, "groups \\(4\\) must divide the input channels"),
    ({"groups": 3}, GOOD, "weight.shape\\[1\\] \\(3\\) times groups \\(3\\)"),
    ({"offset_groups": 4}, GOOD, "offset_groups \\(4\\) must divide"),
    ({}, _with(1, [4, 2, 3, 3]), "weight.shape\\[1\\]"),
    ({}, _with(1, [5, 3, 3, 3]), "groups \\(2\\) must divide the output channels"),
    ({}, _with(1, [4, 3, 3]), "weight .* must have rank 4"),
    ({}, _with(2, [2, 34, 7, 7]), "offset.shape\\[1\\] is 34, expected"),
    ({}, _with(2, [2, 36, 6, 7]), "offset.shape\\[2\\] is 6, expected the output height"),
    ({}, _with(2, [3, 36, 7, 7]), "offset.shape\\[0\\] is 3, expected the batch size"),
    ({}, _with(3, [2, 9, 7, 7]), "mask.shape\\[1\\] is 9, expected"),
    ({}, _with(3, [2, 18, 7, 8]), "mask.shape\\[3\\] is 8, expected the output width"),
    ({}, _with(3, [2, 1]), "mask .* must have rank 4"),
    ({}, _with(4, [5]), "bias.shape\\[0\\] is 5, expected the output channels"),
    ({}, _with(0, [2, 6, 1, 9]), "output would be empty"),
    ({"kernel_shape": [3, 2]}, GOOD, "kernel_shape \\[3, 2\\] differs from the weight's kernel 3x3"),
    # GEMM rows: [Cout, R], R > kh*kw*Cin/groups (27 here), a multiple of 8; the bias is not read
    (ROWS, _with(1, [4, 3, 3, 3]), "weight .* must have rank 2"),
    (ROWS, _with(1, [4, 24]), "rows hold 24 elements; they need kh\\*kw\\*Cin/groups = 27"),
    (ROWS, _with(1, [4, 28]), "rows hold 28 elements; .* a multiple of 8"),
    ({**ROWS, "kernel_shape": [2, 2]}, _with(1, [4, 32]), "offset.shape\\[1\\] is 36, expected"),
]


@pytest.mark.parametrize(("extra", "shapes", "message"), BAD_SHAPES)
def test_invalid_shapes_fail_at_configure_and_in_python(
    extra: dict[str, Any], shapes: list[list[int]], message: str
) -> None:
    _C = _c_module()
    attrs = {**GOOD_ATTRS, **extra}
    layer = _C.Layer("DeformConv2d", attrs)
    out = [("float32", [2, 4, 7, 7])]
    with pytest.raises(ValueError, match=message):
        layer.configure([("float32", s) for s in shapes], out)
    with pytest.raises(ValueError, match=message):
        DEFORM_CONV2D.check(DEFORM_CONV2D.bind_attrs(attrs), shapes)
    tensors = [torch.zeros(s) for s in shapes]
    with pytest.raises(ValueError, match=message):
        torch.ops.trtkit.deform_conv2d(*tensors, **attrs)


def test_valid_shapes_configure_and_dummy_mask_is_accepted() -> None:
    _C = _c_module()
    layer = _C.Layer("DeformConv2d", GOOD_ATTRS)
    assert layer.output_shapes(GOOD) == [[2, 4, 7, 7]]
    layer.configure([("float32", s) for s in GOOD], [("float32", [2, 4, 7, 7])])
    dcnv1 = _C.Layer("DeformConv2d", {**GOOD_ATTRS, "use_mask": 0})
    for dummy in ([2, 1], [1, 1]):
        dcnv1.configure([("float32", s) for s in _with(3, dummy)], [("float32", [2, 4, 7, 7])])
    # Dynamic dims (-1) are not judged until they are known.
    layer.configure(
        [
            ("float32", [-1, 6, -1, -1]),
            ("float32", [4, 3, 3, 3]),
            ("float32", [-1, 36, -1, -1]),
            ("float32", [-1, 18, -1, -1]),
            ("float32", [4]),
        ],
        [("float32", [-1, 4, -1, -1])],
    )


def test_gemm_rows_configure_with_any_bias_and_declare_less_workspace() -> None:
    """With GEMM rows the bias input is not read (any shape), the output shape comes from kernel_shape, and
    the sampled algorithm needs no room for a re-laid weight: its documented formula with kgPad = R and no
    Cout*kgPad term (the fused one is unchanged: it re-lays any weight into its own layout)."""
    _C = _c_module()
    layer = _C.Layer("DeformConv2d", {**GOOD_ATTRS, **ROWS})
    rows = _with(1, [4, 32])
    rows[4] = [1]
    assert layer.output_shapes(rows) == [[2, 4, 7, 7]]
    layer.configure([("float16", s) for s in rows], [("float16", [2, 4, 7, 7])])
    align = lambda b: -(-b // 256) * 256  # noqa: E731
    n, cin, h, w, kk, groups, ho, wo = 2, 6, 9, 9, 9, 2, 7, 7  # Cout 4
    for dtype, elem, vec, r in (("float16", 2, 8, 32), ("float32", 4, 4, 32), ("float16", 2, 8, 64)):
        got = layer.workspace_size([(dtype, s) for s in _with(1, [4, r])], [(dtype, [2, 4, 7, 7])])
        fused = align(n * h * w * 2 * vec * elem) + align(groups * kk * (cin // groups) * vec * elem)
        per_image = h * w * cin * elem + ho * wo * groups * r * elem
        sampled = (32 << 20) + min(n * per_image, max(256 << 20, per_image)) + 512
        assert got == max(fused, sampled), (dtype, r, got, fused, sampled)


def test_workspace_is_bounded_by_the_documented_formula() -> None:
    """max(fused, sampled) bytes, each as documented in deform_conv2d_kernels.hpp and the plugin README."""
    _C = _c_module()
    layer = _C.Layer("DeformConv2d", GOOD_ATTRS)
    align = lambda b: -(-b // 256) * 256  # noqa: E731
    n, cin, h, w, cout, kk, groups, ho, wo = 2, 6, 9, 9, 4, 9, 2, 7, 7
    for dtype, elem, vec in (("float32", 4, 4), ("float16", 2, 8)):
        got = layer.workspace_size([(dtype, s) for s in GOOD], [(dtype, [2, 4, 7, 7])])
        unit = 3  # gcd(Cin/groups, Cin/offset_groups) = gcd(3, 3)
        unit_pad = -(-unit // vec) * vec
        fused = align(n * h * w * (cin // unit) * unit_pad * elem) + align(
            groups * kk * (cin // groups) * (-(-(cout // groups) // vec) * vec) * elem
        )
        k = kk * cin // groups + 1  # + the bias column
        up = lambda v, m: -(-v // m) * m  # noqa: E731
        if dtype == "float32":  # strict fp32: 32-byte rows
            kg_pad = up(k, 32 // elem)
        else:  # 128-byte rows where they add <= 5 %, else 32-byte
            kg_pad = up(k, 128 // elem) if (up(k, 128 // elem) - k) * 20 <= k else up(k, 32 // elem)
        per_image = h * w * cin * elem + ho * wo * groups * kg_pad * elem
        sampled = (
            (32 << 20) + align(cout * kg_pad * elem) + min(n * per_image, max(256 << 20, per_image)) + 512
        )
        assert got == max(fused, sampled), (dtype, got, fused, sampled)


def test_workspace_covers_the_pipelined_kernel() -> None:
    """Where only the fused and pipelined algorithms take the shapes (49 taps x 32 offset groups: too many for
    the sampled one), the declared bytes are the larger of their documented formulas: the pipelined one."""
    _C = _c_module()
    layer = _C.Layer("DeformConv2d", {"padding": [3, 3], "offset_groups": 32})
    align = lambda b: -(-b // 256) * 256  # noqa: E731
    n, cin, hw, cout, kk, og, elem = 2, 256, 12, 64, 49, 32, 2
    shapes = [[n, cin, hw, hw], [cout, cin, 7, 7], [n, 2 * og * kk, hw, hw], [n, og * kk, hw, hw], [cout]]
    got = layer.workspace_size([("float16", s) for s in shapes], [("float16", [n, cout, hw, hw])])
    unit = 8  # gcd(Cin/groups, Cin/offset_groups) = gcd(256, 8), already 16 bytes
    fused = align(n * hw * hw * (cin // unit) * unit * elem) + align(kk * cin * cout * elem)
    xs = hw * hw * cin * elem
    pipelined = align(cout * kk * cin * elem) + align(min(n * xs, max(256 << 20, xs))) + cin * elem
    assert pipelined > fused
    assert got == pipelined, (got, pipelined, fused)


def test_workspace_grows_with_every_dimension() -> None:
    """TensorRT sizes the workspace at a profile's maximum shapes; enqueue lays it out for the actual ones, so
    the formula must never shrink when a dimension grows (batch, channels, spatial size, output channels)."""
    _C = _c_module()
    layer = _C.Layer("DeformConv2d", {})

    def size(n: int, cin: int, hw: int, cout: int, dtype: str = "float16") -> int:
        shapes = [
            [n, cin, hw, hw],
            [cout, cin, 3, 3],
            [n, 18, hw - 2, hw - 2],
            [n, 9, hw - 2, hw - 2],
            [cout],
        ]
        return layer.workspace_size([(dtype, s) for s in shapes], [(dtype, [n, cout, hw - 2, hw - 2])])

    base = (8, 256, 66, 256)  # fp16: 169 MB of chunk at N=8, past the 256 MiB chunk budget from N=16 on
    for dim in range(4):
        prev = 0
        for factor in (1, 2, 3) if dim == 2 else (1, 2, 3, 5, 8):
            args = list(base)
            args[dim] = base[dim] * factor if dim != 2 else 10 + (base[dim] - 10) * factor
            got = size(*args)
            assert got >= prev > 0 or (prev == 0 and got > 0), (dim, factor, got, prev)
            prev = got


def test_layer_serializes_and_rejects_bad_bytes() -> None:
    _C = _c_module()
    layer = _C.Layer("DeformConv2d", {"stride": [2, 1], "padding": [1, 2], "allow_tf32": 1, **GOOD_ATTRS})
    data = layer.serialize()
    again = _C.Layer.deserialize(data)
    assert again.attrs == layer.attrs
    bad = bytearray(data)
    bad[-5] ^= 0xFF
    with pytest.raises(ValueError):
        _C.Layer.deserialize(bytes(bad))
