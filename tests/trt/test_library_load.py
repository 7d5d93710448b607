"""trt tier: libtrtkit_plugins.so in the real TensorRT runtime: it loads, and every layer has a V2 and a V3
creator, found by (name, version, namespace), declaring the fields of its attribute schema."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from trt_helpers import NAMESPACE, V2, V3, kit_creators, schema_or_skip
from trtkit import _library

pytestmark = pytest.mark.trt

# How each schema attribute type reaches a creator through TensorRT's ONNX parser.
FIELD_TYPE = {
    "int": "INT32",
    "ints": "INT32",
    "float": "FLOAT32",
    "floats": "FLOAT32",
    "string": "CHAR",
    "weights": "FLOAT32",
}


def test_library_exports_only_the_entry_points_and_needs_no_tensorrt_library(library: Any) -> None:
    path = str(_library.library_path())
    defined = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True, check=True)
    names = sorted(line.split()[-1] for line in defined.stdout.splitlines() if line.strip())
    assert names == ["getCreators", "getPluginCreators", "setLoggerFinder"]
    needed = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    assert "libnvinfer" not in needed and "libcudart" not in needed, needed
    # cuBLAS is dlopen'ed by the layers that use it: the library must load where there is none
    assert "libcublas" not in needed, needed


def test_load_is_idempotent(library: Any) -> None:
    assert library is not None
    assert _library.load() is library  # a second registration would fail in TensorRT; load() must not try


def test_every_layer_has_a_v2_and_a_v3_creator(registry: Any, trt: Any) -> None:
    creators = kit_creators(registry)
    v2 = {c.name for c in creators if c.plugin_version == V2}
    v3 = {c.name for c in creators if c.plugin_version == V3}
    assert v2, "the library registered no creator in namespace 'trtkit'"
    assert v2 == v3
    assert "MYSELU" in v2
    try:
        from trtkit import _C
    except ImportError:
        _C = None
    if _C is not None and hasattr(_C, "layer_names"):
        assert set(_C.layer_names()) == v2, "the Python module and the plugin library disagree on the layers"
    for name in sorted(v2):
        c2 = registry.get_creator(name, V2, NAMESPACE)
        c3 = registry.get_creator(name, V3, NAMESPACE)
        assert isinstance(c2, trt.IPluginCreator), type(c2)
        assert isinstance(c3, trt.IPluginCreatorV3One), type(c3)
        assert (c2.name, c2.plugin_version, c2.plugin_namespace) == (name, V2, NAMESPACE)
        assert (c3.name, c3.plugin_version, c3.plugin_namespace) == (name, V3, NAMESPACE)
        # Not found under another version or namespace.
        assert registry.get_creator(name, "3", NAMESPACE) is None
        assert registry.get_creator(name, V2, "") is None


def test_v2_and_v3_creators_declare_the_same_fields(registry: Any) -> None:
    creators = kit_creators(registry)
    for c2 in (c for c in creators if c.plugin_version == V2):
        c3 = registry.get_creator(c2.name, V3, NAMESPACE)
        f2 = [(f.name, f.type) for f in c2.field_names]
        f3 = [(f.name, f.type) for f in c3.field_names]
        assert f2 == f3, c2.name


def test_myselu_fields_are_its_documented_attributes(registry: Any, trt: Any) -> None:
    c3 = registry.get_creator("MYSELU", V3, NAMESPACE)
    got = [(f.name, f.type) for f in c3.field_names]
    T = trt.PluginFieldType
    assert got == [("axes", T.INT32), ("gain", T.FLOAT32), ("info", T.CHAR)]


def test_field_names_match_the_schema(registry: Any, trt: Any) -> None:
    for c in kit_creators(registry):
        schema = schema_or_skip(c.name)
        want = [(a["name"], getattr(trt.PluginFieldType, FIELD_TYPE[a["type"]])) for a in schema["attrs"]]
        assert [(f.name, f.type) for f in c.field_names] == want, c.name


def test_load_refuses_a_runtime_of_another_major(
    monkeypatch: pytest.MonkeyPatch, library: Any, trt: Any
) -> None:
    other = "10" if not trt.__version__.startswith("10.") else "11"
    info = dict(_library.build_info(), tensorrt_major=other, tensorrt_version=f"{other}.1.0")
    monkeypatch.setattr(_library, "build_info", lambda: info)
    with pytest.raises(RuntimeError) as e:
        _library.load()
    msg = str(e.value)
    assert f"TensorRT {other}.1.0" in msg and trt.__version__ in msg and "TENSORRT_INCLUDE_DIR" in msg
