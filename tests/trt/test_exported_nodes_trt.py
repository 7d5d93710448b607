"""trt tier: the nodes trtkit.export writes (both exporters, both plugin flavours) become, through the ONNX
parser's field conversion, plugins of the real TensorRT runtime whose stored config holds exactly the
attributes the model was exported with. Closes the loop export -> parser fields -> creator -> plugin bytes.
Skips when the plugin library, the TensorRT runtime or (for V3) the harness is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.trt

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
_C = pytest.importorskip("trtkit._C", reason="trtkit._C is not built")

import trtkit  # noqa: E402
from trtkit import _library  # noqa: E402
from trtkit.onnx_schema import kit_nodes  # noqa: E402
from trtkit.ops import MySelu  # noqa: E402

ATTRS = {"axes": (-1,), "gain": 0.625, "info": '{"layer": "head.act", "note": "ünïcode"}'}


@pytest.fixture(scope="module")
def runtime() -> Any:
    try:
        trt = _library.tensorrt_runtime()
    except ImportError as e:
        pytest.skip(f"no TensorRT Python runtime: {e}")
    if not _library.library_path().is_file():
        reason = _library.build_info().get("adapter_missing_reason", "not built")
        pytest.skip(f"the plugin library was not built ({reason}); build with TENSORRT_INCLUDE_DIR set")
    if _library.build_info().get("tensorrt_major") != trt.__version__.split(".")[0]:
        pytest.skip(f"the plugin library was built for another TensorRT major than {trt.__version__}")
    _library.load()
    return trt


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Any]:
    folder: Path = tmp_path_factory.mktemp("exported")
    net = MySelu(6, **ATTRS).eval()  # type: ignore[arg-type]
    out = {}
    for plugin in ("v3", "v2"):
        for dynamo in (False, True):
            model = trtkit.export(
                net, (torch.randn(2, 3, 6),), folder / f"{plugin}{dynamo}.onnx", dynamo=dynamo, plugin=plugin
            )
            out[(plugin, dynamo)] = kit_nodes(model)[0]
    return out


def stored_config(runtime: Any, node: Any) -> dict[str, Any]:
    """Creates the plugin as TensorRT's parser would; returns the attributes its serialized config holds."""
    from trtkit.parser_fields import fields_from_node, plugin_identity, to_plugin_field_collection

    trt = runtime
    name, version, namespace = plugin_identity(node)
    creator = trt.get_plugin_registry().get_creator(name, version, namespace)
    assert creator is not None, f"no creator for {(name, version, namespace)}"
    declared = [f.name for f in creator.field_names]
    assert declared == [a["name"] for a in _C.schema(name)["attrs"]], (
        "the creator declares the schema's fields"
    )
    fc = to_plugin_field_collection(fields_from_node(node, declared), trt)
    if version == "1":
        plugin = creator.create_plugin(node.name or name, fc)
        assert plugin is not None, "createPlugin failed (see the TensorRT log)"
        data = bytes(plugin.serialize())
    else:
        harness = pytest.importorskip(
            "trtkit._trt_harness", reason="the V3 config is read through the harness"
        )
        plugin = creator.create_plugin(node.name or name, fc, trt.TensorRTPhase.BUILD)
        assert plugin is not None, "createPlugin failed (see the TensorRT log)"
        ((_, _, data, _),) = harness.PluginV3(plugin).get_fields_to_serialize()
        data = bytes(data)
    return _C.Layer.deserialize(data).attrs


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
@pytest.mark.parametrize("plugin", ["v3", "v2"])
def test_exported_node_creates_the_plugin_it_describes(
    runtime: Any, exported: dict[tuple[str, bool], Any], plugin: str, dynamo: bool
) -> None:
    attrs = stored_config(runtime, exported[(plugin, dynamo)])
    assert attrs == {"axes": [-1], "gain": 0.625, "info": ATTRS["info"]}
