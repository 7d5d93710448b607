"""CPU tier: trtkit._C as the rest of the kit uses it: MYSELU's layer (shapes, dtypes, validation errors),
the creators' field conversion (configFromFields) against makeConfig, and serialization."""

from __future__ import annotations

import random
import struct

import pytest

_C = pytest.importorskip("trtkit._C", reason="trtkit._C is not built (cmake --build, or pip install .)")

F32 = "float32"
F16 = "float16"


def test_constants() -> None:
    assert _C.PLUGIN_NAMESPACE == "trtkit"
    assert (_C.PLUGIN_VERSION_V2, _C.PLUGIN_VERSION_V3) == ("1", "2")
    assert "MYSELU" in _C.layer_names()


def test_schema_dict() -> None:
    s = _C.schema("MYSELU")
    assert s["inputs"] == ["x", "p"] and s["outputs"] == ["y"]
    assert [(a["name"], a["type"], a["default"], a["required"]) for a in s["attrs"]] == [
        ("axes", "ints", [1], False),
        ("gain", "float", 1.0, False),
        ("info", "string", "{}", False),
    ]
    assert s["type_combinations"] == [[F32, F32, F32], [F16, F32, F16], [F16, F16, F16]]
    with pytest.raises(ValueError, match="no layer named 'NOPE'.*MYSELU"):
        _C.schema("NOPE")


@pytest.mark.parametrize(
    ("axes", "shapes"),
    [
        ([1], [[2, 3, 4], [3]]),
        ([], [[5], [1]]),
        ([-1], [[2, 7], [7]]),
        ([1, 2], [[1, 2, 3, 4], [6]]),
        ([0], [[9], [9]]),
    ],
)
def test_output_shapes(axes: list[int], shapes: list[list[int]]) -> None:
    layer = _C.Layer("MYSELU", {"axes": axes})
    assert layer.output_shapes(shapes) == [shapes[0]]


def test_output_types() -> None:
    layer = _C.Layer("MYSELU", {})
    assert layer.output_types([F32, F32]) == [F32]
    assert layer.output_types([F16, F32]) == [F16]
    assert layer.output_types([F16, F16]) == [F16]
    with pytest.raises(ValueError, match=r"no supported dtype combination for inputs \(float32, float16\)"):
        layer.output_types([F32, F16])
    with pytest.raises(ValueError, match="unknown dtype 'float64'"):
        layer.output_types(["float64", F32])


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"info": "not json"}, "attribute 'info'.*is invalid"),
        ({"info": "[1]"}, "attribute 'info'.*is invalid"),
        ({"bogus": 1}, "unknown attribute 'bogus'"),
        ({"gain": "x"}, "attribute 'gain' must be float"),
        ({"axes": [0.5]}, "attribute 'axes' must be ints"),
        ({"axes": [2**33]}, "does not fit in int32"),
        ({"gain": None}, "attribute 'gain' cannot be NoneType"),
        ({"axes": list(range(9))}, "at most 8 axes"),
    ],
)
def test_bad_attributes(attrs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _C.Layer("MYSELU", attrs)


def test_info_is_quoted_in_errors() -> None:
    layer = _C.Layer("MYSELU", {"axes": [1, 3], "info": '{"layer": "act7"}'})
    with pytest.raises(ValueError, match=r"act7.*contiguous increasing run"):
        layer.output_shapes([[2, 3, 4, 5], [12]])


@pytest.mark.parametrize(
    ("axes", "shapes", "message"),
    [
        ([1, 3], [[2, 3, 4, 5], [15]], "contiguous increasing run"),
        ([2, 1], [[2, 3, 4], [12]], "contiguous increasing run"),
        ([3], [[2, 3, 4], [1]], "out of range"),
        ([1], [[], [1]], "rank >= 1"),
    ],
)
def test_bad_axes_at_shape_time(axes: list[int], shapes: list[list[int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _C.Layer("MYSELU", {"axes": axes}).output_shapes(shapes)


def test_wrong_input_count_and_negative_dims() -> None:
    layer = _C.Layer("MYSELU", {})
    with pytest.raises(ValueError, match="1 input shapes given, the layer has 2"):
        layer.output_shapes([[2, 3]])
    with pytest.raises(ValueError, match="negative dim"):
        layer.output_shapes([[2, -3], [3]])


def test_configure_checks_p_count_and_records_types() -> None:
    layer = _C.Layer("MYSELU", {"axes": [1]})
    with pytest.raises(ValueError, match="p has 4 elements, x's axes need 3"):
        layer.configure([(F32, [2, 3, 4]), (F32, [4])], [(F32, [2, 3, 4])])
    layer.configure([(F32, [-1, 3, 4]), (F32, [3])], [(F32, [-1, 3, 4])])  # dynamic batch is fine
    layer.configure([(F16, [-1, -1, 4]), (F32, [3])], [(F16, [-1, -1, 4])])  # unknown channel: checked later
    assert layer.io_types == [F16, F32, F16]
    with pytest.raises(ValueError, match="outputs must be"):
        layer.configure([(F16, [2, 3, 4]), (F32, [3])], [(F32, [2, 3, 4])])
    assert layer.workspace_size([(F16, [2, 3, 4]), (F32, [3])], [(F16, [2, 3, 4])]) == 0


def test_enqueue_validates_before_touching_memory() -> None:
    """These all fail before any pointer is used (no GPU needed)."""
    layer = _C.Layer("MYSELU", {})
    x = (0x1000, F32, [2, 3])
    p = (0x2000, F32, [3])
    y = (0x3000, F32, [2, 3])
    with pytest.raises(ValueError, match="1 enqueue inputs given"):
        layer.enqueue([x], [y], 0, 0)
    with pytest.raises(ValueError, match="null data pointer"):
        layer.enqueue([(0, F32, [2, 3]), p], [y], 0, 0)
    with pytest.raises(ValueError, match="no supported dtype combination"):
        layer.enqueue([x, (0x2000, F16, [3])], [y], 0, 0)
    with pytest.raises(ValueError, match="the inputs .* give"):
        layer.enqueue([x, p], [(0x3000, F16, [2, 3])], 0, 0)
    layer.configure([(F16, [2, 3]), (F32, [3])], [(F16, [2, 3])])
    with pytest.raises(ValueError, match="differ from those given to configure"):
        layer.enqueue([x, p], [y], 0, 0)


# ---- creators' field conversion ------------------------------------------------------------------------


def parser_fields(axes: list[int], gain: float, info: str) -> list[tuple[str, str, bytes, int]]:
    """Fields exactly as TensorRT's ONNX parser makes them (TENSORRT-FACTS.md): INTS -> int32[n],
    FLOAT -> float32[1], STRING -> char with the trailing NUL counted in the length."""
    info_bytes = info.encode() + b"\0"
    return [
        ("axes", "int32", struct.pack(f"<{len(axes)}i", *axes), len(axes)),
        ("gain", "float32", struct.pack("<f", gain), 1),
        ("info", "char", info_bytes, len(info_bytes)),
    ]


@pytest.mark.parametrize(
    ("axes", "gain", "info"),
    [
        ([1], 1.0, "{}"),
        ([], 2.5, ""),
        ([-1], -0.25, '{"layer": "act1", "n": [1, 2]}'),
        ([1, 2], 3.0, '{"é": "ü"}'),
    ],
)
def test_config_from_fields_equals_make_config(axes: list[int], gain: float, info: str) -> None:
    from_fields = _C.config_from_fields("MYSELU", parser_fields(axes, gain, info))
    made = _C.Layer("MYSELU", {"axes": axes, "gain": gain, "info": info}).attrs
    assert from_fields == made
    assert from_fields["info"] == info  # the trailing NUL is not part of the value


def test_config_from_fields_int_as_one_element_array_and_defaults() -> None:
    # An INT attribute arrives as int32[1]; a field the node lacks takes its default.
    got = _C.config_from_fields("MYSELU", [("gain", "int32", struct.pack("<i", 3), 1)])
    assert got == {"axes": [1], "gain": 3.0, "info": "{}"}
    assert _C.config_from_fields("MYSELU", []) == _C.Layer("MYSELU", {}).attrs


def test_config_from_fields_string_without_nul() -> None:
    got = _C.config_from_fields("MYSELU", [("info", "char", b'{"a":1}', 7)])
    assert got["info"] == '{"a":1}'


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("bogus", "int32", struct.pack("<i", 1), 1)], "unknown field 'bogus'"),
        ([("axes", "int32", struct.pack("<i", 1), 2)], "claims 2 int32 values but holds 4 bytes"),
        ([("axes", "int32", b"", -1)], "negative length"),
        ([("gain", "float32", struct.pack("<2f", 1, 2), 2)], "must hold one float"),
        ([("axes", "float32", struct.pack("<f", 1), 1)], "field 'axes' has type float32"),
        ([("axes", "what", b"", 0)], "unknown field type 'what'"),
        ([("info", "char", b"nope\0", 5)], "attribute 'info'.*is invalid"),
        ([("axes", "int64", struct.pack("<q", 2**40), 1)], "does not fit in int32"),
    ],
)
def test_config_from_fields_errors(fields: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _C.config_from_fields("MYSELU", fields)


def test_config_from_fields_matches_exported_node(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The exported node's attributes, turned into fields by trtkit.parser_fields (the parser's exact rules),
    give the config the model's attributes describe."""
    pf = pytest.importorskip("trtkit.parser_fields", reason="trtkit.parser_fields (helper trt) is not merged")
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
    import trtkit
    from trtkit.onnx_schema import kit_nodes
    from trtkit.ops import MySelu

    net = MySelu(3, gain=0.5, info='{"layer": "x"}').eval()
    for dynamo in (False, True):
        model = trtkit.export(net, (torch.randn(2, 3, 4),), tmp_path / f"m{dynamo}.onnx", dynamo=dynamo)
        declared = [a["name"] for a in _C.schema("MYSELU")["attrs"]]
        fields = pf.fields_from_node(kit_nodes(model)[0], declared)
        assert _C.config_from_fields("MYSELU", fields) == {"axes": [1], "gain": 0.5, "info": '{"layer": "x"}'}


# ---- serialization --------------------------------------------------------------------------------------


def configured_layer() -> _C.Layer:
    layer = _C.Layer("MYSELU", {"axes": [-1], "gain": 0.75, "info": '{"layer": "act3"}'})
    layer.configure([(F16, [-1, 5]), (F16, [5])], [(F16, [-1, 5])])
    return layer


def test_serialize_round_trip() -> None:
    layer = configured_layer()
    data = layer.serialize()
    again = _C.Layer.deserialize(data)
    assert again == layer
    assert again.attrs == layer.attrs and again.io_types == [F16, F16, F16] and again.name == "MYSELU"
    assert again.serialize() == data


def test_corrupted_bytes_raise_value_error() -> None:
    data = configured_layer().serialize()
    rng = random.Random(1234)
    cases = [b"", data[:3], data[:-1], data[:-4], data + b"\0", b"XXXX" + data[4:]]
    for _ in range(200):
        b = bytearray(data)
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        cases.append(bytes(b))
    cases += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) for _ in range(100)]
    for bad in cases:
        with pytest.raises(ValueError):
            _C.Layer.deserialize(bad)


def test_deserialize_revalidates_attributes() -> None:
    """A well-formed config whose attributes break the schema is refused (e.g. info not JSON)."""
    T = _C._testing
    data = T.config_to_bytes("MYSELU", "1", {"axes": [1], "gain": 1.0, "info": "not json"})
    with pytest.raises(ValueError, match="info"):
        _C.Layer.deserialize(data)
    unknown = T.config_to_bytes("NOPE", "1", {})
    with pytest.raises(ValueError, match="no layer named 'NOPE'"):
        _C.Layer.deserialize(unknown)


def test_tactics_default_and_refusals() -> None:
    """Layer::tactics/setTactic as the V3 adapter calls them: MYSELU offers none and takes only 0;
    DeformConv2d takes 0 and well-formed codes and refuses the rest with a message naming the value."""
    layer = _C.Layer("MYSELU", {"axes": [1]})
    io = [("float32", [2, 3, 4]), ("float32", [3])], [("float32", [2, 3, 4])]
    assert layer.tactics(*io) == []
    layer.set_tactic(0)
    with pytest.raises(ValueError, match="MYSELU offers no tactics, got tactic 3"):
        layer.set_tactic(3)
    dcn = _C.Layer("DeformConv2d", {})
    for good in (0, 0x20, 0x24, 0x30):
        dcn.set_tactic(good)
    for bad in (1, 0x10, 0x25, 0x31, -32):
        with pytest.raises(ValueError, match=f"unknown tactic {bad}"):
            dcn.set_tactic(bad)
