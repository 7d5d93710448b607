"""Helpers shared by the trt-tier tests (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any

import onnx
import pytest
from onnx import helper
from trtkit.parser_fields import fields_from_node, plugin_identity, to_plugin_field_collection

NAMESPACE = "trtkit"
V2, V3 = "1", "2"


def kit_creators(registry: Any) -> list[Any]:
    return [c for c in registry.all_creators if c.plugin_namespace == NAMESPACE]


def schema_or_skip(name: str) -> dict:
    C = pytest.importorskip("trtkit._C", reason="trtkit._C (schemas) is not built")
    if not hasattr(C, "schema"):
        pytest.skip("trtkit._C has no schema() yet")
    return C.schema(name)


def myselu_node(version: str = V3, name: str = "myselu_0", **attrs: Any) -> onnx.NodeProto:
    """A MYSELU node as the kit's exporters write it: domain trtkit, creator-named attributes, plus
    plugin_version and plugin_namespace."""
    # onnx.helper cannot infer the type of an empty list: MYSELU's only list attribute is INTS.
    empty = {k for k, v in attrs.items() if isinstance(v, (list, tuple)) and len(v) == 0}
    node = helper.make_node(
        "MYSELU",
        ["x", "p"],
        ["y"],
        name=name,
        domain=NAMESPACE,
        plugin_version=version,
        plugin_namespace=NAMESPACE,
        **{k: v for k, v in attrs.items() if k not in empty},
    )
    for k in sorted(empty):
        node.attribute.append(helper.make_attribute(k, [], attr_type=onnx.AttributeProto.INTS))
    return node


def deform_node(version: str, name: str = "dcn", **attrs: Any) -> onnx.NodeProto:
    """A DeformConv2d node as the kit's exporters write it (inputs in torchvision's operator order)."""
    return helper.make_node(
        "DeformConv2d",
        ["input", "weight", "offset", "mask", "bias"],
        ["output"],
        name=name,
        domain=NAMESPACE,
        plugin_version=version,
        plugin_namespace=NAMESPACE,
        **attrs,
    )


def create_from_node(trt: Any, registry: Any, node: onnx.NodeProto) -> Any:
    """What TensorRT's ONNX parser does with a custom node: look the creator up by (op_type,
    plugin_version, plugin_namespace), convert the declared attributes, createPlugin."""
    name, version, namespace = plugin_identity(node)
    creator = registry.get_creator(name, version, namespace)
    assert creator is not None, f"no creator for {(name, version, namespace)}"
    declared = [f.name for f in creator.field_names]
    fc = to_plugin_field_collection(fields_from_node(node, declared), trt)
    if version == V2:
        return creator.create_plugin(node.name, fc)
    return creator.create_plugin(node.name, fc, trt.TensorRTPhase.BUILD)


def v3_config_bytes(harness: Any, plugin: Any) -> bytes:
    fields = harness.PluginV3(plugin).get_fields_to_serialize()
    assert fields is not None and len(fields) == 1
    return fields[0][2]


def v2_config_bytes(plugin: Any) -> bytes:
    return bytes(plugin.serialize())  # the binding returns a memoryview into the plugin
