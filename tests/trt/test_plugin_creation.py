"""trt tier: plugins created the way TensorRT's ONNX parser creates them (from the fields it derives from the
kit's exported node), their serialization round trips, and clean failures for corrupted bytes and bad
attribute values (the creator returns None and the log names the plugin and the problem)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from trt_helpers import NAMESPACE, V2, V3, create_from_node, myselu_node, v2_config_bytes, v3_config_bytes

pytestmark = pytest.mark.trt

ATTRS = {"axes": [1], "gain": 0.5, "info": '{"layer": "features.3.act"}'}


def decode(config: bytes) -> dict | None:
    """The LayerConfig's content through the core's own reader, when the Python module is built."""
    try:
        from trtkit import _C
    except ImportError:
        return None
    return _C._testing.config_from_bytes(config)


@pytest.mark.parametrize("version", [V2, V3])
def test_plugin_from_the_parsers_fields(trt: Any, registry: Any, harness: Any, version: str) -> None:
    plugin = create_from_node(trt, registry, myselu_node(version, **ATTRS))
    assert plugin is not None
    if version == V2:
        assert isinstance(plugin, trt.IPluginV2)
        assert (plugin.plugin_type, plugin.plugin_version, plugin.plugin_namespace) == (
            "MYSELU",
            V2,
            NAMESPACE,
        )
        config = v2_config_bytes(plugin)
    else:
        assert isinstance(plugin, trt.IPluginV3)
        p = harness.PluginV3(plugin)
        assert (p.plugin_name, p.plugin_version, p.plugin_namespace) == ("MYSELU", V3, NAMESPACE)
        config = v3_config_bytes(harness, plugin)
    assert b"features.3.act" in config  # the JSON string travels in the config
    cfg = decode(config)
    if cfg is not None:
        assert cfg["op"] == "MYSELU"
        assert cfg["attrs"]["axes"] == [1]
        assert cfg["attrs"]["gain"] == pytest.approx(0.5)
        assert cfg["attrs"]["info"] == ATTRS["info"]  # the trailing NUL the parser counts is not kept


@pytest.mark.parametrize("version", [V2, V3])
def test_missing_attributes_take_their_defaults(trt: Any, registry: Any, harness: Any, version: str) -> None:
    bare = create_from_node(trt, registry, myselu_node(version))
    explicit = create_from_node(trt, registry, myselu_node(version, axes=[1], gain=1.0, info="{}"))
    assert bare is not None and explicit is not None
    if version == V2:
        assert v2_config_bytes(bare) == v2_config_bytes(explicit)
    else:
        assert v3_config_bytes(harness, bare) == v3_config_bytes(harness, explicit)


def test_int64_attributes_are_truncated_like_the_parser_does(trt: Any, registry: Any) -> None:
    # onnx-tensorrt reads INTS as int32: 2**32 + 1 arrives as 1, so the plugin equals one made with axes=[1].
    wrapped = create_from_node(trt, registry, myselu_node(V2, axes=[2**32 + 1]))
    plain = create_from_node(trt, registry, myselu_node(V2, axes=[1]))
    assert wrapped is not None and v2_config_bytes(wrapped) == v2_config_bytes(plain)


def test_undeclared_node_attributes_never_reach_the_creator(trt: Any, registry: Any) -> None:
    node = myselu_node(V2, gain=2.0, tensorrt_plugin_shape_input_indices=[5], something_else="x")
    assert create_from_node(trt, registry, node) is not None


def test_v2_serialize_deserialize_clone(trt: Any, registry: Any, harness: Any) -> None:
    creator = registry.get_creator("MYSELU", V2, NAMESPACE)
    plugin = create_from_node(trt, registry, myselu_node(V2, **ATTRS))
    data = v2_config_bytes(plugin)
    again = creator.deserialize_plugin("restored", data)
    assert again is not None and v2_config_bytes(again) == data
    assert v2_config_bytes(plugin.clone()) == data
    clone = harness.PluginV2(plugin).clone()
    assert clone is not None and clone.serialize() == data


def test_v3_fields_round_trip_and_clone(trt: Any, registry: Any, harness: Any) -> None:
    creator = registry.get_creator("MYSELU", V3, NAMESPACE)
    plugin = create_from_node(trt, registry, myselu_node(V3, **ATTRS))
    fields = harness.PluginV3(plugin).get_fields_to_serialize()
    assert [(f[0], f[1]) for f in fields] == [("trtkit_config", int(trt.PluginFieldType.UNKNOWN))]
    data = fields[0][2]
    assert fields[0][3] == len(data)
    fc = trt.PluginFieldCollection(
        [trt.PluginField("trtkit_config", np.frombuffer(data, np.uint8).copy(), trt.PluginFieldType.UNKNOWN)]
    )
    restored = creator.create_plugin("restored", fc, trt.TensorRTPhase.RUNTIME)
    assert restored is not None and v3_config_bytes(harness, restored) == data
    clone = harness.PluginV3(plugin).clone()
    assert clone is not None and clone.get_fields_to_serialize()[0][2] == data
    # The V2 and V3 adapters serialize the same LayerConfig.
    assert v2_config_bytes(create_from_node(trt, registry, myselu_node(V2, **ATTRS))) == data


def corruptions(data: bytes) -> list[bytes]:
    out = [data[:n] for n in range(len(data))]  # every truncation
    for i in range(len(data)):  # every single-byte flip
        bad = bytearray(data)
        bad[i] ^= 0xFF
        out.append(bytes(bad))
    rng = random.Random(1)
    out += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 200))) for _ in range(50)]
    out.append(data + b"\0")  # trailing garbage
    return out


def test_v2_rejects_corrupted_bytes_cleanly(trt: Any, registry: Any, log: Any) -> None:
    creator = registry.get_creator("MYSELU", V2, NAMESPACE)
    data = v2_config_bytes(create_from_node(trt, registry, myselu_node(V2, **ATTRS)))
    for bad in corruptions(data):
        assert creator.deserialize_plugin("broken", bad) is None, bad
    messages = log()
    assert messages and all("MYSELU" in m and "deserializePlugin" in m for m in messages)
    assert any("LayerConfig" in m for m in messages)


def test_v3_rejects_corrupted_bytes_cleanly(trt: Any, registry: Any, harness: Any, log: Any) -> None:
    creator = registry.get_creator("MYSELU", V3, NAMESPACE)
    data = v3_config_bytes(harness, create_from_node(trt, registry, myselu_node(V3, **ATTRS)))
    for bad in corruptions(data)[:: max(1, len(data) // 40)] + [data[:10], data[:-1]]:
        fc = trt.PluginFieldCollection(
            [
                trt.PluginField(
                    "trtkit_config", np.frombuffer(bad, np.uint8).copy(), trt.PluginFieldType.UNKNOWN
                )
            ]
        )
        assert creator.create_plugin("broken", fc, trt.TensorRTPhase.RUNTIME) is None
    # Runtime phase without the config field at all.
    assert creator.create_plugin("broken", trt.PluginFieldCollection([]), trt.TensorRTPhase.RUNTIME) is None
    messages = log()
    assert messages and all("MYSELU" in m and "createPlugin" in m for m in messages)
    assert any("trtkit_config" in m for m in messages)


BAD_NODES = [
    ({"info": "not json"}, "info"),
    ({"info": "[1, 2]"}, "info"),  # JSON, but not an object
    ({"gain": "fast"}, "gain"),  # STRING where a float is declared
    ({"axes": [0, 1, 2, 3, 4, 5, 6, 7, 8]}, "axes"),  # more axes than any tensor can have
    ({"axes": 1.5}, "axes"),  # FLOAT where ints are declared
]


@pytest.mark.parametrize("version", [V2, V3])
@pytest.mark.parametrize("attrs,problem", BAD_NODES, ids=[p for _, p in BAD_NODES])
def test_bad_attribute_values_fail_cleanly(
    trt: Any, registry: Any, log: Any, version: str, attrs: dict, problem: str
) -> None:
    assert create_from_node(trt, registry, myselu_node(version, name="bad_node", **attrs)) is None
    messages = log()
    assert len(messages) == 1, messages
    assert "MYSELU" in messages[0] and "bad_node" in messages[0] and problem in messages[0], messages[0]


@pytest.mark.parametrize("version", [V2, V3])
def test_fields_a_parser_would_never_send_fail_cleanly(
    trt: Any, registry: Any, log: Any, version: str
) -> None:
    creator = registry.get_creator("MYSELU", version, NAMESPACE)
    T = trt.PluginFieldType
    cases = [
        [trt.PluginField("bogus", np.array([1], np.int32), T.INT32)],  # unknown name
        [trt.PluginField("gain", np.array([1.0], np.float32), T.FP8)],  # a type no attribute takes
        [trt.PluginField("gain", np.array([], np.float32), T.FLOAT32)],  # no value
        [trt.PluginField("axes", np.array([1.0], np.float32), T.FLOAT32)],  # floats where ints are declared
    ]
    for fields in cases:
        fc = trt.PluginFieldCollection(fields)
        plugin = (
            creator.create_plugin("odd", fc)
            if version == V2
            else creator.create_plugin("odd", fc, trt.TensorRTPhase.BUILD)
        )
        assert plugin is None, [f.name for f in fields]
    messages = log()
    assert len(messages) == len(cases) and all("MYSELU" in m for m in messages), messages
