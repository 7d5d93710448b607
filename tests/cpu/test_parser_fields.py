"""cpu tier: trtkit.parser_fields reproduces onnx-tensorrt's plugin-field conversion (loadFields), attribute
type by attribute type, and what the core makes of those fields (where trtkit._C is built)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from trtkit.parser_fields import fields_from_node, plugin_identity


def node(**attrs: object) -> object:
    return helper.make_node("OP", ["x"], ["y"], name="op_0", domain="trtkit", **attrs)


def only(field_list: list) -> tuple:
    assert len(field_list) == 1
    return field_list[0]


@pytest.mark.parametrize(
    "value,want",
    [(7, 7), (-1, -1), (2**31 - 1, 2**31 - 1), (2**31, -(2**31)), (2**32 + 5, 5), (-(2**33) - 3, -3)],
)
def test_int_is_int32_truncated_like_static_cast(value: int, want: int) -> None:
    assert only(fields_from_node(node(a=value), ["a"])) == ("a", "int32", struct.pack("<i", want), 1)


def test_ints_are_int32_each_truncated() -> None:
    got = only(fields_from_node(node(a=[1, 2**32 - 1, -5]), ["a"]))
    assert got == ("a", "int32", struct.pack("<3i", 1, -1, -5), 3)


def test_floats() -> None:
    assert only(fields_from_node(node(a=0.1), ["a"])) == ("a", "float32", struct.pack("<f", 0.1), 1)
    got = only(fields_from_node(node(a=[0.5, -2.0]), ["a"]))
    assert got == ("a", "float32", struct.pack("<2f", 0.5, -2.0), 2)


def test_string_gets_a_trailing_nul_that_the_length_counts() -> None:
    assert only(fields_from_node(node(a='{"k": 1}'), ["a"])) == ("a", "char", b'{"k": 1}\0', 9)
    assert only(fields_from_node(node(a=""), ["a"])) == ("a", "char", b"\0", 1)
    utf8 = "é".encode()
    assert only(fields_from_node(node(a="é"), ["a"])) == ("a", "char", utf8 + b"\0", len(utf8) + 1)


def test_strings_are_nul_separated() -> None:
    assert only(fields_from_node(node(a=["a", "bc"]), ["a"])) == ("a", "char", b"a\0bc\0", 5)


@pytest.mark.parametrize(
    "onnx_type,dtype,np_type",
    [
        (TensorProto.FLOAT, "float32", np.float32),
        (TensorProto.FLOAT16, "float16", np.float16),
        (TensorProto.INT8, "int8", np.int8),
        (TensorProto.INT16, "int16", np.int16),
        (TensorProto.INT32, "int32", np.int32),
        (TensorProto.DOUBLE, "float64", np.float64),
    ],
)
def test_tensor_keeps_its_type_and_counts_elements(onnx_type: int, dtype: str, np_type: type) -> None:
    values = np.arange(-3, 3, dtype=np_type).reshape(2, 3)
    tensor = numpy_helper.from_array(values, "w")
    assert tensor.data_type == onnx_type
    assert only(fields_from_node(node(w=tensor), ["w"])) == (
        "w",
        dtype,
        values.astype(values.dtype.newbyteorder("<")).tobytes(),
        6,
    )


def test_bfloat16_tensor_travels_as_its_bit_pattern() -> None:
    bits = np.array([0x3F80, 0xC000], dtype=np.uint16)  # 1.0, -2.0
    tensor = helper.make_tensor("w", TensorProto.BFLOAT16, [2], bits.tobytes(), raw=True)
    assert only(fields_from_node(node(w=tensor), ["w"])) == ("w", "bfloat16", bits.tobytes(), 2)


@pytest.mark.parametrize(
    "onnx_type", [TensorProto.INT64, TensorProto.BOOL, TensorProto.UINT8, TensorProto.UINT16]
)
def test_tensor_types_the_parser_rejects(onnx_type: int) -> None:
    tensor = helper.make_tensor("w", onnx_type, [2], [1, 0])
    with pytest.raises(ValueError, match=TensorProto.DataType.Name(onnx_type)):
        fields_from_node(node(w=tensor), ["w"])


def test_attribute_kinds_the_parser_rejects() -> None:
    graph = helper.make_graph([], "g", [], [])
    with pytest.raises(ValueError, match="GRAPH"):
        fields_from_node(node(g=graph), ["g"])


def test_only_declared_attributes_in_the_creators_order() -> None:
    n = node(b=2, a=1, extra="x", plugin_version="2", plugin_namespace="trtkit")
    got = fields_from_node(n, ["a", "missing", "b"])
    assert [f[0] for f in got] == ["a", "b"]
    # A rejected kind on an undeclared attribute does not matter: the parser never reads it.
    n = node(a=1, g=helper.make_graph([], "g", [], []))
    assert [f[0] for f in fields_from_node(n, ["a"])] == ["a"]


def test_plugin_identity_defaults() -> None:
    assert plugin_identity(node()) == ("OP", "1", "")
    assert plugin_identity(node(plugin_version="2", plugin_namespace="trtkit")) == ("OP", "2", "trtkit")


def test_the_core_builds_the_same_config_from_these_fields() -> None:
    C = pytest.importorskip("trtkit._C", reason="trtkit._C is not built")
    if not hasattr(C, "config_from_fields"):
        pytest.skip("trtkit._C has no config_from_fields yet")
    n = helper.make_node(
        "MYSELU", ["x", "p"], ["y"], domain="trtkit", axes=[2**32 + 1], gain=0.5, info='{"a": 1}'
    )
    attrs = C.config_from_fields("MYSELU", fields_from_node(n, ["axes", "gain", "info"]))
    assert attrs["axes"] == [1]
    assert attrs["gain"] == pytest.approx(0.5)
    assert attrs["info"] == '{"a": 1}'
