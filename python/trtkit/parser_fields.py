"""The PluginFields TensorRT's ONNX parser passes to a plugin creator for a custom node.

Replicates onnx-tensorrt's plugin fallback (`loadFields` in onnxOpImporters.cpp) exactly: it walks the
creator's declared field names in the creator's order, skips those the node lacks (a warning in TensorRT), and
converts each attribute:

  INT -> int32 (the int64 value truncated), length 1      INTS -> int32[n] (each truncated)
  FLOAT -> float32, length 1                              FLOATS -> float32[n]
  STRING -> char, the bytes plus a trailing NUL; length counts the NUL
  STRINGS -> char, each string NUL-terminated, concatenated; length = total bytes
  TENSOR -> the tensor's values in its own type (FLOAT, FLOAT16, BFLOAT16, INT8, INT16, INT32, DOUBLE);
            length = element count. INT64, BOOL, UINT* tensors are refused here: depending on the
            onnx-tensorrt version the parser fails the node, or (10.1+, per its source) passes the raw
            bytes mistyped as FLOAT16; either way the creator cannot use them.

Each field is (name, dtype, data bytes, length) with dtype one of: int8, int16, int32, int64, float16,
bfloat16, float32, float64, char, bytes (the strings trtkit._C.config_from_fields accepts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

__all__ = ["Field", "fields_from_node", "plugin_identity", "to_plugin_field_collection"]

Field = tuple[str, str, bytes, int]

# TENSOR attribute element types the parser turns into PluginFields, and the dtype name each becomes.
_TENSOR_TYPES = {
    TensorProto.FLOAT: "float32",
    TensorProto.FLOAT16: "float16",
    TensorProto.BFLOAT16: "bfloat16",
    TensorProto.INT8: "int8",
    TensorProto.INT16: "int16",
    TensorProto.INT32: "int32",
    TensorProto.DOUBLE: "float64",
}

# numpy storage for each dtype name (bfloat16 travels as its raw 16-bit pattern).
_NUMPY = {
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "float16": np.float16,
    "bfloat16": np.uint16,
    "float32": np.float32,
    "float64": np.float64,
    "char": np.int8,
    "bytes": np.uint8,
}


def _int32(value: int) -> int:
    """static_cast<int32_t> of an int64 (two's complement wrap), as the parser's OnnxAttrs::get<int32_t>."""
    return ((int(value) + 2**31) % 2**32) - 2**31


def _tensor_field(node_name: str, name: str, tensor: TensorProto) -> Field:
    dtype = _TENSOR_TYPES.get(tensor.data_type)
    if dtype is None:
        type_name = TensorProto.DataType.Name(tensor.data_type)
        raise ValueError(
            f"node {node_name!r}: attribute {name!r} is a {type_name} tensor; TensorRT's ONNX parser "
            "accepts only FLOAT, FLOAT16, BFLOAT16, INT8, INT16, INT32 and DOUBLE tensors as plugin "
            "fields (older parsers fail the node; newer ones pass the raw bytes mistyped as FLOAT16)"
        )
    array = numpy_helper.to_array(tensor)
    if dtype == "bfloat16":
        data = np.ascontiguousarray(array).view(np.uint16).astype("<u2").tobytes()
    else:
        data = np.ascontiguousarray(array).astype(np.dtype(_NUMPY[dtype]).newbyteorder("<")).tobytes()
    return (name, dtype, data, int(array.size))


def _field(node_name: str, attr: AttributeProto) -> Field:
    name = attr.name
    t = attr.type
    if t == AttributeProto.INT:
        return (name, "int32", np.array([_int32(attr.i)], "<i4").tobytes(), 1)
    if t == AttributeProto.INTS:
        values = [_int32(v) for v in attr.ints]
        return (name, "int32", np.array(values, "<i4").tobytes(), len(values))
    if t == AttributeProto.FLOAT:
        return (name, "float32", np.array([attr.f], "<f4").tobytes(), 1)
    if t == AttributeProto.FLOATS:
        return (name, "float32", np.array(list(attr.floats), "<f4").tobytes(), len(attr.floats))
    if t == AttributeProto.STRING:
        data = bytes(attr.s) + b"\0"
        return (name, "char", data, len(data))
    if t == AttributeProto.STRINGS:
        data = b"".join(bytes(s) + b"\0" for s in attr.strings)
        return (name, "char", data, len(data))
    if t == AttributeProto.TENSOR:
        return _tensor_field(node_name, name, attr.t)
    type_name = AttributeProto.AttributeType.Name(t)
    raise ValueError(
        f"node {node_name!r}: attribute {name!r} has type {type_name}, which TensorRT's ONNX parser "
        "does not convert into a plugin field (it fails the node)"
    )


def fields_from_node(node: onnx.NodeProto, declared: Sequence[str]) -> list[Field]:
    """The fields the parser passes to createPlugin for `node`, given the creator's getFieldNames()
    (`declared`, in the creator's order). Attributes the creator does not declare are never passed."""
    attrs = {a.name: a for a in node.attribute}
    node_name = node.name or node.op_type
    return [_field(node_name, attrs[name]) for name in declared if name in attrs]


def plugin_identity(node: onnx.NodeProto) -> tuple[str, str, str]:
    """(name, version, namespace) the parser looks the creator up by: op_type, string attributes
    `plugin_version` (default "1") and `plugin_namespace` (default "")."""
    attrs = {a.name: a for a in node.attribute}

    def text(key: str, default: str) -> str:
        a = attrs.get(key)
        return a.s.decode() if a is not None and a.type == AttributeProto.STRING else default

    return (node.op_type, text("plugin_version", "1"), text("plugin_namespace", ""))


def to_plugin_field_collection(fields: Sequence[Field], trt: Any) -> Any:
    """`fields` as a `trt.PluginFieldCollection` for a creator's create_plugin (`trt`: TensorRT's module)."""
    types = {
        "int8": trt.PluginFieldType.INT8,
        "int16": trt.PluginFieldType.INT16,
        "int32": trt.PluginFieldType.INT32,
        "int64": trt.PluginFieldType.INT64,
        "float16": trt.PluginFieldType.FLOAT16,
        "bfloat16": trt.PluginFieldType.BF16,
        "float32": trt.PluginFieldType.FLOAT32,
        "float64": trt.PluginFieldType.FLOAT64,
        "char": trt.PluginFieldType.CHAR,
        "bytes": trt.PluginFieldType.UNKNOWN,
    }
    out = []
    for name, dtype, data, length in fields:
        array = np.frombuffer(data, dtype=np.dtype(_NUMPY[dtype]).newbyteorder("<")).copy()
        if array.size != length:
            raise ValueError(f"field {name!r}: {array.size} {dtype} values in the data, length says {length}")
        out.append(trt.PluginField(name, array, types[dtype]))
    return trt.PluginFieldCollection(out)
