"""CPU tier: the ONNX schema registered for MYSELU validates nodes (onnx.checker) and infers shapes/dtypes.

Models are built by hand so every case is exactly the node under test."""

from __future__ import annotations

from typing import Any, Optional

import onnx
import pytest
from onnx import TensorProto, helper

pytest.importorskip("torch")
import trtkit.ops  # noqa: E402,F401 - registers the schemas
from trtkit.spec import all_specs  # noqa: E402

GOOD = {
    "axes": [1],
    "gain": 2.0,
    "info": '{"layer": "a"}',
    "plugin_version": "2",
    "plugin_namespace": "trtkit",
}


def model(
    attrs: dict[str, Any],
    x_shape: Optional[list[Any]] = ("batch", 3, 4),  # type: ignore[assignment]
    p_shape: tuple[int, ...] = (3,),
    x_type: int = TensorProto.FLOAT,
    p_type: int = TensorProto.FLOAT,
) -> onnx.ModelProto:
    # y feeds an Identity so that its type comes from shape inference alone (graph outputs must be declared).
    node = helper.make_node("MYSELU", ["x", "p"], ["y"], domain="trtkit", **attrs)
    identity = helper.make_node("Identity", ["y"], ["z"])
    count = 1
    for d in p_shape:
        count *= d
    p = helper.make_tensor("p", p_type, list(p_shape), [0.5] * count)
    graph = helper.make_graph(
        [node, identity],
        "g",
        [helper.make_tensor_value_info("x", x_type, None if x_shape is None else list(x_shape))],
        [helper.make_tensor_value_info("z", x_type, ["z0", "z1", "z2"])],
        initializer=[p],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("trtkit", 1)]
    )


def infer(m: onnx.ModelProto) -> onnx.TypeProto:
    inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    return {v.name: v for v in inferred.graph.value_info}["y"].type


def dims(t: onnx.TypeProto) -> list[Any]:
    return [d.dim_param or d.dim_value for d in t.tensor_type.shape.dim]


def test_schema_registered_for_every_spec() -> None:
    for spec in all_specs():
        schema = onnx.defs.get_schema(spec.name, 1, "trtkit")
        assert [i.name for i in schema.inputs] == [t.name for t in spec.inputs]
        assert [o.name for o in schema.outputs] == list(spec.outputs)
        assert set(schema.attributes) == {*spec.attr_names, "plugin_version", "plugin_namespace"}


def test_good_node_passes_full_check_and_infers() -> None:
    m = model(GOOD)
    onnx.checker.check_model(m, full_check=True)
    t = infer(m)
    assert t.tensor_type.elem_type == TensorProto.FLOAT
    assert dims(t) == ["batch", 3, 4]


def test_defaults_may_be_omitted() -> None:
    m = model({"plugin_version": "1", "plugin_namespace": "trtkit"})
    onnx.checker.check_model(m, full_check=True)
    assert dims(infer(m)) == ["batch", 3, 4]


@pytest.mark.parametrize(
    ("x_type", "p_type", "y_type"),
    [
        (TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.FLOAT),
        (TensorProto.FLOAT16, TensorProto.FLOAT, TensorProto.FLOAT16),
        (TensorProto.FLOAT16, TensorProto.FLOAT16, TensorProto.FLOAT16),
    ],
)
def test_output_dtype_follows_the_type_table(x_type: int, p_type: int, y_type: int) -> None:
    t = infer(model(GOOD, x_type=x_type, p_type=p_type))
    assert t.tensor_type.elem_type == y_type


def test_unknown_rank_gives_type_without_shape() -> None:
    t = infer(model(GOOD, x_shape=None))
    assert t.tensor_type.elem_type == TensorProto.FLOAT
    assert not t.tensor_type.HasField("shape")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bogus": 1}, "Unrecognized attribute: bogus"),
        ({"gain": "loud"}, "Mismatched attribute type"),
        ({"axes": 1}, "Mismatched attribute type"),
        ({"axes": [1.0]}, "Mismatched attribute type"),
        ({"info": 3}, "Mismatched attribute type"),
        ({"plugin_version": 2}, "Mismatched attribute type"),
    ],
)
def test_checker_rejects_wrong_or_unknown_attributes(change: dict[str, Any], message: str) -> None:
    with pytest.raises(onnx.checker.ValidationError, match=message):
        onnx.checker.check_model(model({**GOOD, **change}), full_check=True)


@pytest.mark.parametrize("missing", ["plugin_version", "plugin_namespace"])
def test_checker_requires_plugin_identity(missing: str) -> None:
    attrs = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(onnx.checker.ValidationError, match=f"Required attribute '{missing}'"):
        onnx.checker.check_model(model(attrs), full_check=True)


@pytest.mark.parametrize(
    ("change", "kw", "message"),
    [
        ({"plugin_version": "3"}, {}, "plugin_version"),
        ({"plugin_namespace": "other"}, {}, "plugin_namespace"),
        ({"info": "not json"}, {}, "JSON object"),
        ({"info": "[1, 2]"}, {}, "JSON object"),
        ({"axes": [0, 2]}, {}, "contiguous"),
        ({"axes": [5]}, {}, "out of range"),
        ({}, {"p_shape": (4,)}, "p has 4 elements"),
        ({}, {"x_type": TensorProto.DOUBLE}, "no plugin variant"),  # float64: no kernel, no table row
        ({}, {"x_type": TensorProto.FLOAT, "p_type": TensorProto.FLOAT16}, "no plugin variant"),
    ],
)
def test_inference_rejects_invalid_nodes(change: dict[str, Any], kw: dict[str, Any], message: str) -> None:
    m = model({**GOOD, **change}, **kw)
    with pytest.raises(onnx.shape_inference.InferenceError, match=message):
        onnx.checker.check_model(m, full_check=True)
    with pytest.raises(onnx.shape_inference.InferenceError, match=message):
        onnx.shape_inference.infer_shapes(m)


def test_symbolic_p_count_is_not_rejected() -> None:
    """With the channel axis symbolic, the p count cannot be checked statically; inference still succeeds."""
    assert dims(infer(model(GOOD, x_shape=["batch", "c", 4]))) == ["batch", "c", 4]
