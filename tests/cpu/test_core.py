"""CPU tier: the TensorRT-free core — LayerConfig bytes, GTensor, Weight, shape expressions, JSON check."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

T = pytest.importorskip("trtkit._C", reason="trtkit._C is not built")._testing

ALL_TYPES = {
    "i": 7,
    "il": [1, -2, 3],
    "f": 0.25,
    "fl": [1.5, -2.0],
    "s": '{"layer": "conv1"}',
    "empty_s": "",
    "w": ("weights", "float16", [2, 3], np.arange(6, dtype=np.float16).tobytes()),
}


def roundtrip(attrs, io=(("float32", 0), ("float16", 0)), workspace=123):
    data = T.config_to_bytes("OP", "1", attrs, list(io), workspace)
    return data, T.config_from_bytes(data)


def test_layer_config_round_trip_every_type():
    data, cfg = roundtrip(ALL_TYPES)
    assert cfg["op"] == "OP" and cfg["version"] == "1" and cfg["workspace"] == 123
    assert cfg["io"] == [("float32", 0), ("float16", 0)]
    assert list(cfg["attrs"]) == list(ALL_TYPES)  # order kept
    for k, v in ALL_TYPES.items():
        got = cfg["attrs"][k]
        if isinstance(v, tuple):
            assert got == {"dtype": v[1], "shape": v[2], "data": v[3]}
        elif isinstance(v, list):
            assert got == pytest.approx(v)
        else:
            assert got == pytest.approx(v) if isinstance(v, float) else got == v
    # serialization is deterministic
    assert T.config_to_bytes("OP", "1", ALL_TYPES, [("float32", 0), ("float16", 0)], 123) == data


def test_layer_config_starts_with_magic_and_version():
    data, _ = roundtrip({"a": 1})
    assert data[:4] == b"TKLC"
    assert struct.unpack("<I", data[4:8])[0] == 1
    assert struct.unpack("<I", data[8:12])[0] == len(data) - 16


@pytest.mark.parametrize("cut", [0, 1, 4, 11, 12, 13, 20])
def test_truncated_config_is_a_clear_error(cut):
    data, _ = roundtrip(ALL_TYPES)
    with pytest.raises(ValueError, match="LayerConfig"):
        T.config_from_bytes(data[:cut])
    with pytest.raises(ValueError, match="LayerConfig"):
        T.config_from_bytes(data[:-1])


def test_every_single_byte_corruption_is_detected_or_harmless():
    data, ref = roundtrip(ALL_TYPES)
    for i in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= flip
            try:
                got = T.config_from_bytes(bytes(bad))
            except ValueError as e:
                assert "LayerConfig" in str(e)
            else:  # a flip that survives every check must not be silently wrong
                pytest.fail(f"corruption at byte {i} (^{flip:#x}) was accepted: {got}")


def test_random_garbage_never_crashes():
    rng = random.Random(0)
    for n in range(300):
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80)))
        if n % 3 == 0:
            blob = b"TKLC" + struct.pack("<II", 1, max(0, len(blob) - 4)) + blob
        with pytest.raises(ValueError):
            T.config_from_bytes(blob)


def test_wrong_format_version_names_versions():
    data, _ = roundtrip({"a": 1})
    bad = data[:4] + struct.pack("<I", 99) + data[8:]
    with pytest.raises(ValueError, match="format version 99"):
        T.config_from_bytes(bad)


def test_huge_declared_lengths_are_rejected_without_allocating():
    # valid header and checksum around a payload whose string length claims 4 GB
    payload = struct.pack("<I", 0xFFFFFFF0) + b"x" * 8

    def fnv(b):
        h = 2166136261
        for c in b:
            h = ((h ^ c) * 16777619) & 0xFFFFFFFF
        return h

    blob = b"TKLC" + struct.pack("<II", 1, len(payload)) + payload + struct.pack("<I", fnv(payload))
    with pytest.raises(ValueError, match="truncated"):
        T.config_from_bytes(blob)


def test_gtensor_offsets_and_nchw_accessors():
    dims = [2, 3, 4, 5]
    a = np.arange(np.prod(dims)).reshape(dims)
    for idx in [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), (0, 0, 0, 1)]:
        got = T.gtensor(dims, list(idx))
        full = tuple(idx) + (0,) * (4 - len(idx))
        assert got["offset"] == a[full]
    g = T.gtensor(dims, [])
    got = (g["count"], g["bytes"], g["batch"], g["channel"], g["height"], g["width"])
    assert got == (120, 480, 2, 3, 4, 5)
    g = T.gtensor([7], [])
    assert (g["batch"], g["channel"], g["height"], g["width"]) == (7, 1, 1, 1)
    big = T.gtensor([1 << 20, 1 << 20, 8], [1 << 19, 3, 1])  # beyond int32
    assert big["offset"] == ((1 << 19) * (1 << 20) + 3) * 8 + 1
    with pytest.raises(ValueError):
        T.gtensor([1] * 9, [])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_half_conversion_matches_numpy_bit_for_bit():
    rng = np.random.default_rng(0)
    vals = np.concatenate(
        [
            rng.standard_normal(2000).astype(np.float32) * 10.0 ** rng.integers(-9, 6, 2000),
            np.array(
                [
                    0.0,
                    -0.0,
                    np.inf,
                    -np.inf,
                    65504,
                    65519.99,
                    65520,
                    1e-8,
                    2.9802322e-08,
                    5.96e-8,
                    6.1e-5,
                    6.097555e-05,
                    1 + 2**-11,
                    1 + 3 * 2**-11,
                ],
                np.float32,
            ),
            (np.arange(0, 1 << 16, 7, dtype=np.uint16).view(np.float16)).astype(np.float32),
        ]
    ).astype(np.float32)
    want = vals.astype(np.float16).view(np.uint16)
    got = np.array([T.float_to_half_bits(float(v)) for v in vals], dtype=np.uint16)
    finite = np.isfinite(vals)
    np.testing.assert_array_equal(got[finite], want[finite])
    nan_bits = T.float_to_half_bits(float("nan"))
    assert nan_bits & 0x7C00 == 0x7C00 and nan_bits & 0x3FF
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    back = np.array([T.half_bits_to_float(int(b)) for b in bits], dtype=np.float32)
    ref = bits.view(np.float16).astype(np.float32)
    np.testing.assert_array_equal(back[~np.isnan(ref)], ref[~np.isnan(ref)])
    assert np.isnan(back[np.isnan(ref)]).all()


def test_weight_conversions():
    x = np.linspace(-3, 3, 12, dtype=np.float32)
    h = T.weight_convert("float32", [3, 4], x.tobytes(), "float16")
    np.testing.assert_array_equal(np.frombuffer(h, np.float16), x.astype(np.float16))
    f = T.weight_convert("float16", [3, 4], h, "float32")
    np.testing.assert_array_equal(np.frombuffer(f, np.float32), x.astype(np.float16).astype(np.float32))
    assert T.weight_convert("float32", [12], x.tobytes(), "float32") == x.tobytes()
    with pytest.raises(ValueError, match="not supported"):
        T.weight_convert("int32", [2], np.zeros(2, np.int32).tobytes(), "float16")
    with pytest.raises(ValueError, match="byte count"):
        T.weight_convert("float32", [4], x.tobytes(), "float16")


def test_shape_expressions_evaluate_and_fold():
    E = T.Expr
    h, w = E.input_dim(0, 2), E.input_dim(0, 3)
    k, s, p, d = 3, 2, 1, 1
    out_h = (h + E(2 * p) - E(d * (k - 1) + 1)).floordiv(E(s)) + E(1)
    for H in range(1, 40):
        assert out_h.eval([[1, 1, H, 1]]) == (H + 2 * p - (d * (k - 1) + 1)) // s + 1
    assert w.ceildiv(E(4)).eval([[1, 1, 1, 9]]) == 3
    assert E(-7).floordiv(E(2)).eval([]) == -4 and E(-7).ceildiv(E(2)).eval([]) == -3
    assert h.max(w).eval([[0, 0, 3, 8]]) == 8 and h.min(w).eval([[0, 0, 3, 8]]) == 3
    assert (h * w - h).eval([[0, 0, 3, 8]]) == 21
    folded = (E(3) * E(4) + E(1)).max(E(2))
    assert folded.is_constant and folded.eval([]) == 13
    assert not (h + E(0)).is_constant
    with pytest.raises(ValueError, match="division by zero"):
        h.floordiv(w).eval([[0, 0, 3, 0]])
    with pytest.raises(ValueError, match="no axis"):
        E.input_dim(0, 7).eval([[1, 2]])


@pytest.mark.parametrize(
    "text,ok",
    [
        ("{}", True),
        ('{"a": [1, 2.5e-3, true, false, null, "x\\n\\u00e9"], "b": {"c": -0}}', True),
        ("  [ ]  ", True),
        ("", False),
        ("{", False),
        ('{"a":}', False),
        ("{'a': 1}", False),
        ('{"a": 01}', False),
        ('{"a": 1,}', False),
        ('{"a": 1} x', False),
        ("[" * 100 + "]" * 100, False),
        ('"\x01"', False),
    ],
)
def test_json_check(text, ok):
    assert T.json_check(text)[0] is ok


def test_no_registry_problems():
    assert T.registry_problems() == []
