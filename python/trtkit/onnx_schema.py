"""ONNX OpSchemas for the kit's ops, built from their OpSpecs and registered with ``onnx.defs``.

Registering a schema with a type-and-shape inference function makes ``onnx.checker`` validate the
attributes (unknown names, wrong types, missing required ones) and ``onnx.shape_inference`` give the
outputs' dtype and shape; the dynamo exporter needs it too (an onnxscript ``Op`` built on a schema).
The domain ``trtkit`` is ignored by TensorRT's parser, which dispatches on op_type alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

import onnx
from onnx import AttributeProto, TensorProto, helper

from trtkit.spec import ONNX_DOMAIN, ONNX_DOMAIN_VERSION, PLUGIN_NAMESPACE, PLUGIN_VERSIONS, UnknownDim

if TYPE_CHECKING:
    from trtkit.spec import OpSpec

OpSchema = onnx.defs.OpSchema

ONNX_ELEM_TYPES = {
    "float32": TensorProto.FLOAT,
    "float16": TensorProto.FLOAT16,
    "bfloat16": TensorProto.BFLOAT16,
    "int8": TensorProto.INT8,
    "int32": TensorProto.INT32,
    "int64": TensorProto.INT64,
    "bool": TensorProto.BOOL,
    "uint8": TensorProto.UINT8,
    "float64": TensorProto.DOUBLE,
}
DTYPE_OF_ELEM = {v: k for k, v in ONNX_ELEM_TYPES.items()}
_TYPE_STRINGS = {
    "float32": "tensor(float)",
    "float16": "tensor(float16)",
    "bfloat16": "tensor(bfloat16)",
    "int8": "tensor(int8)",
    "int32": "tensor(int32)",
    "int64": "tensor(int64)",
    "bool": "tensor(bool)",
    "uint8": "tensor(uint8)",
}
_ATTR_TYPES = {
    "int": AttributeProto.INT,
    "ints": AttributeProto.INTS,
    "float": AttributeProto.FLOAT,
    "floats": AttributeProto.FLOATS,
    "string": AttributeProto.STRING,
}
_SCHEMA_ATTR_TYPES = {
    "int": OpSchema.AttrType.INT,
    "ints": OpSchema.AttrType.INTS,
    "float": OpSchema.AttrType.FLOAT,
    "floats": OpSchema.AttrType.FLOATS,
    "string": OpSchema.AttrType.STRING,
}

_SCHEMAS: dict[str, OpSchema] = {}
_ONNXSCRIPT_OPS: dict[str, Any] = {}


def build_schema(spec: OpSpec) -> OpSchema:
    """The OpSchema of ``spec``: one type variable per input/output, allowed types from the dtype table."""
    columns = list(zip(*spec.type_combinations)) if spec.type_combinations else []

    def type_param(index: int) -> list[str]:
        return sorted({_TYPE_STRINGS[t] for t in columns[index]}) if columns else list(_TYPE_STRINGS.values())

    names = [t.name for t in spec.inputs] + list(spec.outputs)
    constraints = [
        (f"T_{name}", type_param(i), f"dtypes of {name} (see the op's type table)")
        for i, name in enumerate(names)
    ]
    inputs = [OpSchema.FormalParameter(t.name, f"T_{t.name}", t.doc) for t in spec.inputs]
    outputs = [OpSchema.FormalParameter(o, f"T_{o}", "") for o in spec.outputs]
    attributes = []
    for a in spec.attrs:
        if a.required:
            attributes.append(OpSchema.Attribute(a.name, _SCHEMA_ATTR_TYPES[a.type], a.doc, required=True))
        else:
            default = helper.make_attribute(a.name, _plain(a.default), attr_type=_ATTR_TYPES[a.type])
            attributes.append(OpSchema.Attribute(a.name, default, a.doc))
    attributes.append(
        OpSchema.Attribute(
            "plugin_version",
            OpSchema.AttrType.STRING,
            f"TensorRT creator version: {PLUGIN_VERSIONS['v3']!r} IPluginV3, "
            f"{PLUGIN_VERSIONS['v2']!r} IPluginV2DynamicExt",
            required=True,
        )
    )
    attributes.append(
        OpSchema.Attribute(
            "plugin_namespace", OpSchema.AttrType.STRING, "TensorRT plugin namespace", required=True
        )
    )
    doc = spec.doc + f"\n\nType table (inputs -> outputs): {spec.describe_type_table()}"
    schema = OpSchema(
        spec.name,
        ONNX_DOMAIN,
        ONNX_DOMAIN_VERSION,
        doc,
        inputs=inputs,
        outputs=outputs,
        type_constraints=constraints,
        attributes=attributes,
        node_determinism=OpSchema.NodeDeterminism.Deterministic,
    )
    schema.set_type_and_shape_inference_function(_inference_function(spec))
    return schema


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _inference_function(spec: OpSpec) -> Any:
    def infer(ctx: Any) -> None:
        # A Python exception here propagates out of onnx (strict mode or not); InferenceError is the type
        # onnx's own ops fail with, so callers catch one type for "this node is invalid".
        try:
            _infer(ctx)
        except (ValueError, TypeError, KeyError) as e:
            raise onnx.shape_inference.InferenceError(f"[trtkit] {e}") from e

    def _infer(ctx: Any) -> None:
        attrs = node_attrs(spec, ctx.get_attribute)
        n_present = ctx.get_num_inputs()
        types = [ctx.get_input_type(i) if ctx.has_input(i) else None for i in range(n_present)]
        types += [None] * (len(spec.inputs) - len(types))
        shapes = [_shape_of(t) for t in types]
        spec.check(attrs, shapes)

        elem = [t.tensor_type.elem_type if t is not None and t.HasField("tensor_type") else 0 for t in types]
        out_elems: list[int] = [0] * len(spec.outputs)
        if all(e != 0 for e, t in zip(elem, types) if t is not None):
            names = [DTYPE_OF_ELEM.get(e, f"onnx elem type {e}") for e in elem if e != 0]
            row = spec.plugin_output_dtypes(names)
            if row is None:
                raise ValueError(
                    f"{spec.name}: no plugin variant for input dtypes ({', '.join(names)}); "
                    f"supported: {spec.describe_type_table()}"
                )
            out_elems = [ONNX_ELEM_TYPES[d] for d in row]

        out_shapes: list[Optional[list[Any]]] = [None] * len(spec.outputs)
        if all(s is not None for s, t in zip(shapes, types) if t is not None):
            out_shapes = [list(s) for s in spec.output_shapes(shapes, attrs)]  # type: ignore[arg-type]
        for i, (e, shape) in enumerate(zip(out_elems, out_shapes)):
            out = onnx.TypeProto()
            out.tensor_type.elem_type = e
            if shape is not None:
                dims = out.tensor_type.shape.dim
                out.tensor_type.shape.SetInParent()
                for d in shape:
                    dim = dims.add()
                    if isinstance(d, int):
                        dim.dim_value = d
                    elif isinstance(d, UnknownDim) and d.name:
                        dim.dim_param = d.name
            ctx.set_output_type(i, out)

    return infer


def _shape_of(t: Optional[onnx.TypeProto]) -> Optional[list[Any]]:
    if t is None or not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    out: list[Any] = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(d.dim_value)
        else:
            out.append(UnknownDim(d.dim_param or None))
    return out


def node_attrs(spec: OpSpec, get: Any) -> dict[str, Any]:
    """The op's attributes of a node (``get(name) -> AttributeProto | None``), defaults filled and checked.

    Also checks plugin_version / plugin_namespace, which decide which TensorRT creator the parser picks."""
    given = {}
    for a in spec.attrs:
        proto = get(a.name)
        if proto is not None:
            given[a.name] = helper.get_attribute_value(proto)
            if a.type == "string":
                given[a.name] = given[a.name].decode("utf-8")
    for name, allowed in (
        ("plugin_version", set(PLUGIN_VERSIONS.values())),
        ("plugin_namespace", {PLUGIN_NAMESPACE}),
    ):
        proto = get(name)
        value = helper.get_attribute_value(proto).decode("utf-8") if proto is not None else None
        if value not in allowed:
            raise ValueError(
                f"{spec.name}: attribute {name!r} must be one of {sorted(allowed)}, got {value!r}"
            )
    return spec.bind_attrs(given)


def node_attrs_of(spec: OpSpec, node: onnx.NodeProto) -> dict[str, Any]:
    by_name = {a.name: a for a in node.attribute}
    return node_attrs(spec, by_name.get)


def register(spec: OpSpec) -> OpSchema:
    """Registers (or re-registers) the op's schema with onnx.defs."""
    schema = build_schema(spec)
    if onnx.defs.has(spec.name, ONNX_DOMAIN):
        if not hasattr(onnx.defs, "deregister_schema"):  # onnx < 1.16 cannot replace a schema
            raise RuntimeError(f"onnx {onnx.__version__} already has a schema for {ONNX_DOMAIN}::{spec.name}")
        onnx.defs.deregister_schema(spec.name, ONNX_DOMAIN_VERSION, ONNX_DOMAIN)
    onnx.defs.register_schema(schema)
    _SCHEMAS[spec.name] = schema
    _ONNXSCRIPT_OPS.pop(spec.name, None)
    return schema


def schema_of(spec: OpSpec) -> OpSchema:
    spec.register()
    return _SCHEMAS[spec.name]


def onnxscript_op(spec: OpSpec) -> Any:
    """An onnxscript Op for the dynamo exporter (attributes not in the schema would be dropped silently,
    hence the schema)."""
    if spec.name not in _ONNXSCRIPT_OPS:
        from onnxscript import values

        opset = values.Opset(ONNX_DOMAIN, ONNX_DOMAIN_VERSION)
        _ONNXSCRIPT_OPS[spec.name] = values.Op(opset, spec.name, schema_of(spec))
    return _ONNXSCRIPT_OPS[spec.name]


def kit_nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """The kit's nodes in a model (main graph)."""
    return [n for n in model.graph.node if n.domain == ONNX_DOMAIN]


def describe_node(node: onnx.NodeProto) -> dict[str, Any]:
    """A comparable summary: op_type, domain, inputs, and attributes as name -> (type name, value)."""
    attrs = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        elif isinstance(value, Sequence) and not isinstance(value, str):
            value = list(value)
        attrs[a.name] = (AttributeProto.AttributeType.Name(a.type), value)
    return {"op_type": node.op_type, "domain": node.domain, "inputs": list(node.input), "attributes": attrs}
