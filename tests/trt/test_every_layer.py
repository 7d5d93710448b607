"""trt tier: every layer the library registers, not just MYSELU: created through the parser's fields from a
node carrying its schema defaults (V2 and V3), serialization round trips and truncation, and the dtype table
(supportsFormatCombination for every position and dtype, output dtypes) against the schema."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import helper
from trt_helpers import NAMESPACE, V2, V3, create_from_node, v2_config_bytes, v3_config_bytes

pytestmark = pytest.mark.trt

C = pytest.importorskip("trtkit._C", reason="trtkit._C (layer names and schemas) is not built")
LAYERS = C.layer_names()
DTYPES = ["float32", "float16", "bfloat16", "int8", "int32", "int64", "bool", "uint8"]


def schema_node(name: str, version: str) -> Any:
    """A node as the exporters write it, every attribute at its schema default (weights attributes and
    empty lists, which ONNX cannot type, left out: the creator then applies the same defaults)."""
    schema = C.schema(name)
    attrs = {
        a["name"]: a["default"] for a in schema["attrs"] if a["type"] != "weights" and a["default"] != []
    }
    if any(a["required"] and a["type"] == "weights" for a in schema["attrs"]):
        pytest.skip(f"{name} needs a weights attribute; exercised by its own tests")
    return helper.make_node(
        name,
        schema["inputs"],
        schema["outputs"],
        name=f"{name.lower()}_node",
        domain=NAMESPACE,
        plugin_version=version,
        plugin_namespace=NAMESPACE,
        **attrs,
    )


@pytest.mark.parametrize("name", LAYERS)
def test_created_from_schema_defaults_and_round_trips(
    trt: Any, registry: Any, harness: Any, name: str
) -> None:
    plugin2 = create_from_node(trt, registry, schema_node(name, V2))
    plugin3 = create_from_node(trt, registry, schema_node(name, V3))
    assert plugin2 is not None and plugin3 is not None
    data = v2_config_bytes(plugin2)
    assert v3_config_bytes(harness, plugin3) == data  # V2 and V3 carry the same LayerConfig
    c2 = registry.get_creator(name, V2, NAMESPACE)
    assert v2_config_bytes(c2.deserialize_plugin("again", data)) == data
    fc = trt.PluginFieldCollection(
        [trt.PluginField("trtkit_config", np.frombuffer(data, np.uint8).copy(), trt.PluginFieldType.UNKNOWN)]
    )
    restored = registry.get_creator(name, V3, NAMESPACE).create_plugin("again", fc, trt.TensorRTPhase.RUNTIME)
    assert v3_config_bytes(harness, restored) == data
    for cut in range(0, len(data), max(1, len(data) // 25)):
        assert c2.deserialize_plugin("cut", data[:cut]) is None
    harness.take_log()


@pytest.mark.parametrize("name", LAYERS)
def test_dtype_table_through_both_adapters(
    trt: Any, registry: Any, harness: Any, log: Any, name: str
) -> None:
    schema = C.schema(name)
    rows = [tuple(r) for r in schema["type_combinations"]]
    n_in, n_out = len(schema["inputs"]), len(schema["outputs"])
    v2 = harness.PluginV2(create_from_node(trt, registry, schema_node(name, V2)))
    v3 = harness.PluginV3(create_from_node(trt, registry, schema_node(name, V3)))
    for row in rows:
        inputs, outputs = list(row[:n_in]), list(row[n_in:])
        assert [v2.get_output_data_type(i, inputs) for i in range(n_out)] == outputs
        assert v3.get_output_data_types(inputs) == (0, outputs)
    for pos in range(n_in + n_out):
        for prefix in sorted({r[:pos] for r in rows}):
            for dtype in DTYPES:
                types = list(prefix) + [dtype] + ["float32"] * (n_in + n_out - pos - 1)
                want = any(r[:pos] == prefix and r[pos] == dtype for r in rows)
                assert v2.supports_format_combination(pos, types, nb_inputs=n_in) == want, (pos, types)
                assert v3.supports_format_combination(pos, types, nb_inputs=n_in) == want, (pos, types)
        first = rows[0]
        formats = ["linear"] * len(first)
        formats[pos] = "chw32"
        assert not v2.supports_format_combination(pos, list(first), formats=formats, nb_inputs=n_in)
        assert not v3.supports_format_combination(pos, list(first), formats=formats, nb_inputs=n_in)
    assert log() == []


@pytest.mark.parametrize("name", LAYERS)
def test_python_module_and_plugin_library_agree_on_defaults(trt: Any, registry: Any, name: str) -> None:
    # The config the library builds from an attribute-less node equals the one from explicit schema defaults,
    # and the _C module decodes it to exactly those defaults.
    bare = helper.make_node(name, [], [], domain=NAMESPACE, plugin_version=V2, plugin_namespace=NAMESPACE)
    data = v2_config_bytes(create_from_node(trt, registry, bare))
    assert data == v2_config_bytes(create_from_node(trt, registry, schema_node(name, V2)))
    attrs = C._testing.config_from_bytes(data)["attrs"]
    for a in C.schema(name)["attrs"]:
        if a["type"] in ("float", "floats"):
            assert attrs[a["name"]] == pytest.approx(a["default"]), a["name"]
        elif a["type"] != "weights":
            assert attrs[a["name"]] == a["default"], a["name"]
