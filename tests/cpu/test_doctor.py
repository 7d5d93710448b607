"""`trtkit doctor`: the parser replay on good and deliberately broken models.

The static checks (built-in name collisions, local functions, bad files) need nothing but onnx. The tests
marked `trt` load the kit's plugin library into the real TensorRT runtime installed here (the lean runtime
works on CPU) and skip, saying why, where either is missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from trtkit import _library, doctor

# ---------------------------------------------------------------------------------------------------------
# Models


def myselu_model(
    path: Path,
    *,
    op_type: str = "MYSELU",
    domain: str = "trtkit",
    functions: tuple[Any, ...] = (),
    **overrides: Any,
) -> str:
    """A hand-built graph with one MYSELU node as trtkit.export writes it; ``overrides`` replace attributes
    (``None`` removes one)."""
    attrs: dict[str, Any] = {
        "axes": [1],
        "gain": 1.5,
        "info": '{"layer": "act1"}',
        "plugin_version": "2",
        "plugin_namespace": "trtkit",
    }
    for k, v in overrides.items():
        if v is None:
            attrs.pop(k, None)
        else:
            attrs[k] = v
    node = helper.make_node(op_type, ["x", "p"], ["y"], name="act1", domain=domain)
    for k, v in attrs.items():
        node.attribute.append(helper.make_attribute(k, v))
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [numpy_helper.from_array(np.ones(4, np.float32), "p")],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid(domain or "trtkit", 1)]
    model = helper.make_model(graph, opset_imports=opsets, functions=list(functions))
    onnx.save(model, str(path))
    return str(path)


def shadowing_function(name: str = "MYSELU") -> Any:
    body = [helper.make_node("Identity", ["x"], ["y"])]
    return helper.make_function("trtkit", name, ["x", "p"], ["y"], body, [helper.make_opsetid("", 17)])


def run_cli(*args: str, capsys: Any) -> tuple[int, str, str]:
    code = doctor.main(["doctor", *args])
    out, err = capsys.readouterr()
    return code, out, err


def codes(report: doctor.Report) -> set[str]:
    return {f.code for f in report.all_findings()}


# ---------------------------------------------------------------------------------------------------------
# CPU tier: no TensorRT needed


def test_missing_model_file_is_a_clear_error(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run_cli(str(tmp_path / "nope.onnx"), capsys=capsys)
    assert code == 2
    assert "model file not found" in err and "nope.onnx" in err


def test_invalid_onnx_file_is_a_clear_error(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"\x00\xffthis is not a protobuf\x12\x99" * 10)
    code, _, err = run_cli(str(bad), capsys=capsys)
    assert code == 2
    assert "not a valid ONNX model" in err


def test_builtin_collision_in_custom_domain_static(tmp_path: Path, capsys: Any) -> None:
    path = myselu_model(tmp_path / "m.onnx", op_type="GridSample")
    code, out, _ = run_cli(path, "--static", capsys=capsys)
    assert code == 1
    assert "builtin-collision" in out and "'GridSample'" in out and "domain 'trtkit' is ignored" in out


def test_local_function_shadowing_static(tmp_path: Path, capsys: Any) -> None:
    path = myselu_model(tmp_path / "m.onnx", functions=(shadowing_function(),))
    code, out, _ = run_cli(path, "--static", capsys=capsys)
    assert code == 1
    assert "local-function-shadows-plugin" in out and "inlines it" in out


def test_custom_op_in_default_domain_is_flagged(tmp_path: Path) -> None:
    path = myselu_model(tmp_path / "m.onnx", domain="")
    report = doctor.diagnose(path, use_runtime=False)
    assert "default-domain" in codes(report)


def test_static_report_of_a_good_model_is_clean(tmp_path: Path, capsys: Any) -> None:
    path = myselu_model(tmp_path / "m.onnx")
    code, out, _ = run_cli(path, "--static", capsys=capsys)
    assert code == 0, out
    assert "1 custom node(s), 0 error(s)" in out


def test_standard_ops_are_not_reported(tmp_path: Path) -> None:
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph), str(path))
    report = doctor.diagnose(str(path), use_runtime=False)
    assert report.nodes == [] and "no-custom-nodes" in codes(report)


def test_nodes_inside_subgraphs_are_checked(tmp_path: Path) -> None:
    inner = helper.make_node("GridSample", ["x", "g"], ["y"], domain="trtkit")
    branch = helper.make_graph(
        [inner], "then", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y2"])],
        "else",
        [],
        [helper.make_tensor_value_info("y2", TensorProto.FLOAT, None)],
    )
    node = helper.make_node("If", ["c"], ["out"], then_branch=branch, else_branch=other, name="if0")
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2]),
            helper.make_tensor_value_info("g", TensorProto.FLOAT, [1, 2, 2, 2]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "if.onnx"
    onnx.save(
        helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("trtkit", 1)]
        ),
        str(path),
    )
    report = doctor.diagnose(str(path), use_runtime=False)
    assert [n.where for n in report.nodes] == ["graph/if0.then_branch"]
    assert "builtin-collision" in codes(report)


def test_missing_runtime_is_a_clear_error(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    def no_runtime() -> Any:
        raise ImportError("No TensorRT Python runtime could be imported (simulated)")

    monkeypatch.setattr(_library, "tensorrt_runtime", no_runtime)
    path = myselu_model(tmp_path / "m.onnx")
    code, out, _ = run_cli(path, capsys=capsys)
    assert code == 2
    assert "no TensorRT runtime" in out and "--static" in out


def test_parser_conversion_rules() -> None:
    conv = doctor.parser_conversion
    assert (conv(helper.make_attribute("a", 3)).dtype, conv(helper.make_attribute("a", 3)).length) == (
        "int32",
        1,
    )
    big = conv(helper.make_attribute("a", 2**40))
    assert big.dtype == "int32" and big.note and "truncates" in big.note
    s = conv(helper.make_attribute("s", "abc"))
    assert (s.dtype, s.length) == ("char", 4)  # the trailing NUL counts
    ss = conv(helper.make_attribute("s", ["ab", "c"]))
    assert (ss.dtype, ss.length) == ("char", 5)
    f = conv(helper.make_attribute("f", [1.0, 2.0]))
    assert (f.dtype, f.length) == ("float32", 2)
    t16 = conv(helper.make_attribute("t", numpy_helper.from_array(np.zeros((2, 3), np.float16))))
    assert (t16.dtype, t16.length) == ("float16", 6)
    for bad in (np.int64, np.bool_, np.uint8):
        c = conv(helper.make_attribute("t", numpy_helper.from_array(np.zeros(2, bad))))
        assert c.dtype is None and c.problem and "cannot be a plugin field" in c.problem
    graph_attr = helper.make_attribute("g", helper.make_graph([], "g", [], []))
    assert conv(graph_attr).problem


def test_field_type_comparison() -> None:
    cmp = doctor.compare_field_type
    assert cmp("float32", "float32")[0] is None
    assert cmp("unknown", "char")[0] is None
    assert cmp("float32", "char")[0] == doctor.ERROR  # STRING into a numeric field
    assert cmp("int32", "float32")[0] == doctor.ERROR  # FLOAT into an int field
    assert cmp("char", "int32")[0] == doctor.ERROR
    assert cmp("float32", "int32")[0] == doctor.WARNING  # only converting creators accept it
    assert cmp("float32", "float16")[0] == doctor.WARNING


def test_near_misses() -> None:
    creators = [
        doctor.CreatorRef("MYSELU", "2", "trtkit", "IPluginCreatorV3One"),
        doctor.CreatorRef("MYSELU", "1", "trtkit", "IPluginCreator"),
        doctor.CreatorRef("Unrelated", "1", "", "IPluginCreator"),
    ]
    misses = doctor.near_misses("MYSELU", "3", "trtkit", creators)
    assert len(misses) == 2 and all("set plugin_version" in m for m in misses)
    assert "set plugin_namespace='trtkit'" in doctor.near_misses("MYSELU", "2", "", creators)[0]
    assert "differs only in case" in doctor.near_misses("MySelu", "2", "trtkit", creators)[0]
    assert "similar name" in doctor.near_misses("MYSLEU", "2", "trtkit", creators)[0]
    assert doctor.near_misses("Conv2dPlugin", "1", "", creators) == []


def test_edit_distance() -> None:
    assert doctor._edit_distance("gain", "gian") == 1  # transposition
    assert doctor._edit_distance("kitten", "sitting") == 3
    assert doctor._edit_distance("", "abc") == 3


# ---------------------------------------------------------------------------------------------------------
# trt tier: the kit's library in the real TensorRT runtime


def _runtime_with_kit_library() -> None:
    try:
        _library.tensorrt_runtime()
    except ImportError as e:
        pytest.skip(f"no TensorRT runtime: {e}")
    if not _library.library_path().is_file():
        reason = _library.build_info().get("adapter_missing_reason", "not built")
        pytest.skip(f"the kit's plugin library is not built ({reason})")
    try:
        _library.load()
    except RuntimeError as e:
        pytest.skip(f"the kit's plugin library does not load here: {e}")


@pytest.fixture
def trt_ready() -> None:
    _runtime_with_kit_library()


@pytest.mark.trt
@pytest.mark.parametrize("version", ["1", "2"])
def test_good_model_passes(tmp_path: Path, capsys: Any, trt_ready: None, version: str) -> None:
    path = myselu_model(tmp_path / "m.onnx", plugin_version=version)
    code, out, _ = run_cli(path, capsys=capsys)
    assert code == 0, out
    assert "create-plugin-ok" in out
    assert ("IPluginCreatorV3One" if version == "2" else "IPluginCreator [") in out


@pytest.mark.trt
def test_exported_myselu_passes(tmp_path: Path, capsys: Any, trt_ready: None) -> None:
    torch = pytest.importorskip("torch")
    import trtkit
    from trtkit.ops import MySelu

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), MySelu(4, info='{"layer": "act"}'))
    path = tmp_path / "exported.onnx"
    trtkit.export(model, (torch.randn(2, 3, 8, 8),), str(path), dynamo=False)
    code, out, _ = run_cli(str(path), "--json", capsys=capsys)
    report = json.loads(out)
    assert code == 0, out
    assert [n["op_type"] for n in report["nodes"]] == ["MYSELU"]
    assert report["nodes"][0]["status"] == "ok" and report["errors"] == 0


@pytest.mark.trt
def test_wrong_attribute_type(tmp_path: Path, capsys: Any, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", gain="1.5")  # STRING into the float field
    code, out, _ = run_cli(path, capsys=capsys)
    assert code == 1
    assert (
        "attribute-type-mismatch" in out
        and "the parser passes char where the creator declares float32" in out
    )
    assert "create-plugin-failed" in out and "gain" in out


@pytest.mark.trt
def test_int64_tensor_attribute(tmp_path: Path, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", axes=numpy_helper.from_array(np.array([1], np.int64)))
    report = doctor.diagnose(path)
    assert report.exit_code() == 1 and "unsupported-attribute-type" in codes(report)


@pytest.mark.trt
def test_version_mismatch(tmp_path: Path, capsys: Any, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", plugin_version="3")
    code, out, _ = run_cli(path, capsys=capsys)
    assert code == 1
    assert "creator-not-found" in out and "set plugin_version='2'" in out and "set plugin_version='1'" in out


@pytest.mark.trt
def test_namespace_mismatch(tmp_path: Path, capsys: Any, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", domain="mine", plugin_namespace="wrong")
    code, out, _ = run_cli(path, capsys=capsys)
    assert code == 1
    assert "creator-not-found" in out and "set plugin_namespace='trtkit'" in out


@pytest.mark.trt
def test_namespace_found_only_through_the_domain_warns(tmp_path: Path, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", plugin_namespace=None)  # domain "trtkit" == the namespace
    report = doctor.diagnose(path)
    assert "creator-found-via-domain" in codes(report)
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1


@pytest.mark.trt
def test_builtin_collision_with_runtime(tmp_path: Path, capsys: Any, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", op_type="GridSample")
    code, out, _ = run_cli(path, capsys=capsys)
    assert code == 1 and "builtin-collision" in out


@pytest.mark.trt
def test_local_function_shadowing_with_runtime(tmp_path: Path, capsys: Any, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", functions=(shadowing_function(),))
    code, out, _ = run_cli(path, capsys=capsys)
    assert code == 1 and "local-function-shadows-plugin" in out


@pytest.mark.trt
def test_typo_suggests_the_creator(tmp_path: Path, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", op_type="MYSLEU")
    report = doctor.diagnose(path)
    messages = " ".join(f.message for f in report.all_findings())
    assert "creator-not-found" in codes(report) and "MYSELU (version '2'" in messages


@pytest.mark.trt
def test_extra_and_missing_attributes(tmp_path: Path, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", gian=2.0, gain=None)
    report = doctor.diagnose(path)
    messages = " ".join(f.message for f in report.all_findings())
    assert {"extra-attribute", "missing-attribute", "create-plugin-ok"} <= codes(report)
    assert "did you mean 'gain'" in messages
    assert report.exit_code() == 0  # the parser ignores `gian`; gain takes its default


@pytest.mark.trt
def test_invalid_value_fails_plugin_creation_with_the_core_message(tmp_path: Path, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", info="not json")
    report = doctor.diagnose(path)
    failed = [f for f in report.all_findings() if f.code == "create-plugin-failed"]
    assert report.exit_code() == 1 and failed and "info" in failed[0].message and "JSON" in failed[0].message


@pytest.mark.trt
def test_missing_library(tmp_path: Path, capsys: Any, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx")
    code, out, _ = run_cli(path, "--lib", str(tmp_path / "libnope.so"), capsys=capsys)
    assert code == 2 and "plugin library not found" in out and "libnope.so" in out


@pytest.mark.trt
def test_library_without_plugin_entry_points(tmp_path: Path, capsys: Any, trt_ready: None) -> None:
    from trtkit import _C

    path = myselu_model(tmp_path / "m.onnx")
    code, out, _ = run_cli(path, "--lib", _C.__file__, capsys=capsys)
    assert code == 2 and "could not be loaded" in out and "getCreators" in out


@pytest.mark.trt
def test_cli_entry_point(tmp_path: Path, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", plugin_version="3")
    done = subprocess.run(
        [sys.executable, "-m", "trtkit.cli", "doctor", path, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["nodes"][0]["status"] == "ERROR"


@pytest.mark.trt
def test_non_string_plugin_version_is_an_error(tmp_path: Path, trt_ready: None) -> None:
    path = myselu_model(tmp_path / "m.onnx", plugin_version=2)  # an INT: the parser reads "" as the version
    report = doctor.diagnose(path)
    assert {"bad-plugin-attribute", "creator-not-found"} <= codes(report)
    assert report.nodes[0].plugin_version == ""


def test_type_level_conversion_agrees_with_parser_fields() -> None:
    """doctor.parser_conversion (types, lengths) and trtkit.parser_fields (bytes) replay the same rules."""
    from trtkit import parser_fields

    attrs = [
        helper.make_attribute("i", -7),
        helper.make_attribute("big", 2**33 + 5),
        helper.make_attribute("ints", [1, 2, 3]),
        helper.make_attribute("f", 0.25),
        helper.make_attribute("fs", [0.5, 1.5]),
        helper.make_attribute("s", "json"),
        helper.make_attribute("ss", ["a", "bc"]),
        helper.make_attribute("t32", numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3))),
        helper.make_attribute("t16", numpy_helper.from_array(np.ones(3, np.float16))),
        helper.make_attribute("ti8", numpy_helper.from_array(np.ones(4, np.int8))),
        helper.make_attribute("ti32", numpy_helper.from_array(np.ones(2, np.int32))),
        helper.make_attribute("tf64", numpy_helper.from_array(np.ones(2, np.float64))),
    ]
    node = helper.make_node("X", [], [], domain="d")
    node.attribute.extend(attrs)
    fields = {
        name: (dtype, length)
        for name, dtype, _, length in parser_fields.fields_from_node(node, [a.name for a in attrs])
    }
    for attr in attrs:
        conv = doctor.parser_conversion(attr)
        assert (conv.dtype, conv.length) == fields[attr.name], attr.name


# ---------------------------------------------------------------------------------------------------------
# trt tier: the created plugin against the node's tensors, through the C++ harness


def static_model(
    path: Path,
    version: str,
    *,
    x_type: int = TensorProto.FLOAT,
    y_type: int = TensorProto.FLOAT,
    y_shape: tuple[int, ...] = (2, 4, 8, 8),
    axes: tuple[int, ...] = (1,),
    outputs: tuple[str, ...] = ("y",),
) -> str:
    node = helper.make_node("MYSELU", ["x", "p"], list(outputs), name="act", domain="trtkit")
    node.attribute.extend(
        helper.make_attribute(k, v)
        for k, v in {
            "axes": list(axes),
            "gain": 1.0,
            "info": "{}",
            "plugin_version": version,
            "plugin_namespace": "trtkit",
        }.items()
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", x_type, [2, 4, 8, 8])],
        [helper.make_tensor_value_info(o, y_type, list(y_shape)) for o in outputs],
        [numpy_helper.from_array(np.ones(4, np.float32), "p")],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("trtkit", 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(path))
    return str(path)


@pytest.fixture
def harness_ready(trt_ready: None) -> None:
    try:
        from trtkit import _trt_harness
    except ImportError as e:
        pytest.skip(f"trtkit's plugin harness is not built: {e}")
    runtime = _library.tensorrt_runtime()
    if str(_trt_harness.TENSORRT_MAJOR) != runtime.__version__.split(".")[0]:
        pytest.skip("the harness and the runtime are different TensorRT majors")


@pytest.mark.trt
@pytest.mark.parametrize("version", ["1", "2"])
def test_io_matches(tmp_path: Path, harness_ready: None, version: str) -> None:
    report = doctor.diagnose(static_model(tmp_path / "m.onnx", version))
    assert report.exit_code(strict=True) == 0, doctor.format_table(report)
    messages = {f.code: f.message for f in report.all_findings()}
    assert messages["io-dtypes-ok"] == "the plugin takes (float32, float32) -> (float32)"
    assert messages["io-shapes"].endswith("[[2, 4, 8, 8]]")


@pytest.mark.trt
@pytest.mark.parametrize("version", ["1", "2"])
def test_io_mismatches(tmp_path: Path, harness_ready: None, version: str) -> None:
    def found(**kw: Any) -> dict[str, str]:
        report = doctor.diagnose(static_model(tmp_path / "m.onnx", version, **kw))
        return {f.code: f.message for f in report.all_findings()}

    assert "[2, 4, 8, 9] in the model" in found(y_shape=(2, 4, 8, 9))["output-shape-mismatch"]
    assert (
        "is float16 in the model, the plugin makes float32"
        in found(y_type=TensorProto.FLOAT16)["output-dtype-mismatch"]
    )
    assert "the node has 2 outputs, the plugin produces 1" in found(outputs=("y", "z"))["output-count"]
    shapes = found(axes=(5,))["output-shapes"]
    assert "fails for input shapes" in shapes and "axis 5 is out of range" in shapes
    ints = found(x_type=TensorProto.INT32, y_type=TensorProto.INT32)
    assert "output-dtypes" in ints or "dtype-unsupported" in ints


@pytest.mark.trt
def test_no_kit_library_means_no_kit_creators(tmp_path: Path, trt_ready: None) -> None:
    # A fresh process: this one has the kit's library registered already.
    path = myselu_model(tmp_path / "m.onnx")
    done = subprocess.run(
        [sys.executable, "-m", "trtkit.cli", "doctor", path, "--no-kit"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "creator-not-found" in done.stdout and "no creator of a similar name is loaded" in done.stdout
