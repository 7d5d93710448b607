"""trt tier: the C++ harness drives every IPluginV2DynamicExt and IPluginV3 method of plugins made by the real
TensorRT registry, through their vtables, as TensorRT's builder and runtime would (no GPU needed: enqueue is
driven on its failure paths here; tests/trt/test_enqueue_gpu.py runs the kernels)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from trt_helpers import V2, V3, create_from_node, myselu_node, schema_or_skip

pytestmark = pytest.mark.trt

DTYPES = ["float32", "float16", "bfloat16", "int8", "int32", "int64", "bool", "uint8", "fp8"]
# MYSELU's documented (x, p, y) table; test_type_table_matches_the_schema keeps it honest where _C is built.
COMBOS = [
    ("float32", "float32", "float32"),
    ("float16", "float32", "float16"),
    ("float16", "float16", "float16"),
]
X, P, Y = ("float32", [2, 3, 4]), ("float32", [3]), ("float32", [2, 3, 4])


def test_type_table_matches_the_schema() -> None:
    schema = schema_or_skip("MYSELU")
    assert [tuple(row) for row in schema["type_combinations"]] == COMBOS


@pytest.fixture
def v2(trt: Any, registry: Any, harness: Any) -> Any:
    return harness.PluginV2(create_from_node(trt, registry, myselu_node(V2, name="n2", gain=0.5)))


@pytest.fixture
def v3(trt: Any, registry: Any, harness: Any) -> Any:
    return harness.PluginV3(create_from_node(trt, registry, myselu_node(V3, name="n3", gain=0.5)))


def expected_support(pos: int, prefix: tuple, dtype: str) -> bool:
    return any(row[:pos] == prefix and row[pos] == dtype for row in COMBOS)


def prefixes(pos: int) -> set:
    return {row[:pos] for row in COMBOS} | {("int8",) * pos}


# ---- V2 ----


def test_v2_identity(v2: Any) -> None:
    assert (v2.plugin_type, v2.plugin_version, v2.plugin_namespace) == ("MYSELU", V2, "trtkit")
    assert (v2.tensorrt_version >> 24) & 0xFF == 3  # PluginVersion::kV2_DYNAMICEXT
    assert v2.get_nb_outputs() == 1
    assert v2.initialize() == 0
    v2.terminate()
    v2.set_plugin_namespace("custom")
    assert v2.plugin_namespace == "custom"
    assert v2.clone().plugin_namespace == "custom"


def test_v2_output_data_type(v2: Any, log: Any) -> None:
    for x, p, y in COMBOS:
        assert v2.get_output_data_type(0, [x, p]) == y
    assert log() == []
    v2.get_output_data_type(0, ["int8", "int8"])  # no failure value in V2: logged, kFLOAT returned
    assert any("getOutputDataType" in m and "MYSELU" in m for m in log())


@pytest.mark.parametrize("symbolic", [False, True])
def test_v2_output_dimensions(v2: Any, log: Any, symbolic: bool) -> None:
    dims, _ = v2.get_output_dimensions(0, [[2, 3, 4], [3]], symbolic=symbolic)
    assert dims == [2, 3, 4]
    dims, _ = v2.get_output_dimensions(0, [[7, 3], [3]], symbolic=symbolic)
    assert dims == [7, 3]
    assert log() == []
    # axes=[1] needs rank >= 2: the failure value (nbDims = -1) and a message naming plugin, node and problem.
    assert v2.get_output_dimensions(0, [[5], [1]], symbolic=symbolic)[0] is None
    assert v2.get_output_dimensions(1, [[2, 3], [3]], symbolic=symbolic)[0] is None
    messages = log()
    assert len(messages) == 2 and all("MYSELU ('n2').getOutputDimensions" in m for m in messages), messages
    assert "out of range" in messages[0] and "output index 1" in messages[1]


@pytest.mark.parametrize("pos", [0, 1, 2])
def test_v2_supports_format_combination_every_position_and_dtype(v2: Any, pos: int) -> None:
    for prefix, dtype in itertools.product(sorted(prefixes(pos)), DTYPES):
        types = list(prefix) + [dtype] + ["float32"] * (2 - pos)
        got = v2.supports_format_combination(pos, types, nb_inputs=2)
        assert got == expected_support(pos, prefix, dtype), (pos, types)


def test_v2_refuses_non_linear_formats_and_bad_positions(v2: Any, log: Any) -> None:
    types = ["float32"] * 3
    assert v2.supports_format_combination(0, types, nb_inputs=2)
    assert not v2.supports_format_combination(0, types, formats=["chw32", "linear", "linear"], nb_inputs=2)
    assert not v2.supports_format_combination(2, types, formats=["linear", "linear", "hwc8"], nb_inputs=2)
    assert log() == []
    assert not v2.supports_format_combination(3, types + ["float32"], nb_inputs=3)  # wrong input count
    assert not v2.supports_format_combination(5, types, nb_inputs=2)
    assert len(log()) == 2


def test_v2_configure_workspace_serialize_clone_attach(v2: Any, log: Any) -> None:
    before = v2.serialize()
    v2.configure_plugin(
        [("float16", [-1, 3, 4], [1, 3, 4], [2, 3, 4], [8, 3, 4]), ("float32", [3])],
        [("float16", [-1, 3, 4], [1, 3, 4], [2, 3, 4], [8, 3, 4])],
    )
    assert log() == []
    after = v2.serialize()
    assert after != before  # the chosen dtypes are recorded in the config
    assert v2.get_workspace_size([("float16", [8, 3, 4]), ("float32", [3])], [("float16", [8, 3, 4])]) == 0
    clone = v2.clone()
    assert clone.serialize() == after
    clone.attach_to_context()
    clone.detach_from_context()
    # A p that does not match x's axis: configure logs the layer's own message.
    v2.configure_plugin([X, ("float32", [5])], [Y])
    messages = log()
    assert len(messages) == 1 and "configurePlugin" in messages[0] and "p has 5 elements" in messages[0]


def test_v2_enqueue_failures_are_reported_not_crashes(v2: Any, log: Any) -> None:
    # Checked before any kernel is launched, so this runs without a GPU.
    assert v2.enqueue([(0, "float32", [2, 3, 4]), (0, "float32", [5])], [(0, "float32", [2, 3, 4])]) == -1
    assert v2.enqueue([(0, "fp8", [2, 3, 4]), (0, "float32", [3])], [(0, "fp8", [2, 3, 4])]) == -1
    messages = log()
    assert len(messages) == 2 and all("MYSELU ('n2').enqueue" in m for m in messages)
    assert "p has 5 elements" in messages[0] and "kFP8" in messages[1]


# ---- V3 ----


def test_v3_capabilities_and_identity(v3: Any) -> None:
    caps = v3.capabilities()
    assert caps["plugin"] == ("PLUGIN", 1, 0)
    assert caps["core"] == ("PLUGIN_V3ONE_CORE", 1, 0)
    assert caps["build"] == ("PLUGIN_V3ONE_BUILD", 1, 0)
    assert caps["runtime"] == ("PLUGIN_V3ONE_RUNTIME", 1, 0)
    assert (v3.plugin_name, v3.plugin_version, v3.plugin_namespace) == ("MYSELU", V3, "trtkit")
    assert v3.get_nb_outputs() == 1


def test_v3_output_data_types(v3: Any, log: Any) -> None:
    for x, p, y in COMBOS:
        assert v3.get_output_data_types([x, p]) == (0, [y])
    assert log() == []
    status, _ = v3.get_output_data_types(["int8", "int8"])
    assert status != 0
    assert any("getOutputDataTypes" in m for m in log())


@pytest.mark.parametrize("symbolic", [False, True])
def test_v3_output_shapes(v3: Any, log: Any, symbolic: bool) -> None:
    assert v3.get_output_shapes([[2, 3, 4], [3]], symbolic=symbolic)[:2] == (0, [[2, 3, 4]])
    assert log() == []
    assert v3.get_output_shapes([[5], [1]], symbolic=symbolic)[0] != 0
    assert v3.get_output_shapes([[2, 3, 4]], symbolic=symbolic)[0] != 0  # one input missing
    messages = log()
    assert len(messages) == 2 and all("MYSELU ('n3').getOutputShapes" in m for m in messages), messages


@pytest.mark.parametrize("pos", [0, 1, 2])
def test_v3_supports_format_combination_every_position_and_dtype(v3: Any, pos: int) -> None:
    for prefix, dtype in itertools.product(sorted(prefixes(pos)), DTYPES):
        types = list(prefix) + [dtype] + ["float32"] * (2 - pos)
        got = v3.supports_format_combination(pos, types, nb_inputs=2)
        assert got == expected_support(pos, prefix, dtype), (pos, types)
    assert not v3.supports_format_combination(
        0, ["float32"] * 3, formats=["chw4", "linear", "linear"], nb_inputs=2
    )


def test_v3_configure_shape_change_workspace(v3: Any, log: Any) -> None:
    dyn = ("float32", [-1, 3, 4], [1, 3, 4], [2, 3, 4], [8, 3, 4])
    assert v3.configure_plugin([dyn, P], [dyn]) == 0
    assert v3.get_workspace_size([dyn, P], [dyn]) == 0
    assert v3.on_shape_change([X, P], [Y]) == 0
    assert log() == []
    assert v3.configure_plugin([dyn, ("float32", [5])], [dyn]) != 0
    assert v3.on_shape_change([X, ("float32", [5])], [Y]) != 0
    messages = log()
    assert len(messages) == 2 and all("p has 5 elements" in m for m in messages), messages
    assert "configurePlugin" in messages[0] and "onShapeChange" in messages[1]


def test_v3_fields_clone_attach(v3: Any) -> None:
    fields = v3.get_fields_to_serialize()
    assert len(fields) == 1 and fields[0][0] == "trtkit_config"
    clone = v3.clone()
    attached = v3.attach_to_context()
    assert clone is not None and attached is not None
    assert clone.get_fields_to_serialize() == fields
    assert attached.get_fields_to_serialize() == fields
    assert attached.capabilities() == v3.capabilities()
    # The collection stays valid until the next call: a second call must give equal content.
    assert v3.get_fields_to_serialize() == fields


def test_v3_enqueue_failures_are_reported_not_crashes(v3: Any, log: Any) -> None:
    assert v3.enqueue([(0, "float32", [2, 3, 4]), (0, "float32", [5])], [(0, "float32", [2, 3, 4])]) == -1
    messages = log()
    assert len(messages) == 1 and "MYSELU ('n3').enqueue" in messages[0] and "p has 5 elements" in messages[0]


def test_v3_tactics_of_a_layer_that_offers_none(v3: Any, log: Any) -> None:
    """A layer without tactics offers none, takes the default (0) and reports any other value as a failure."""
    assert v3.configure_plugin([X, P], [Y]) == 0
    assert v3.get_nb_tactics() == 0
    assert v3.get_valid_tactics(0) == (0, [])
    assert v3.set_tactic(0) == 0
    assert log() == []
    assert v3.set_tactic(7) != 0
    status, _ = v3.get_valid_tactics(3)  # more than getNbTactics offered
    assert status != 0
    messages = log()
    assert len(messages) == 2, messages
    assert "setTactic" in messages[0] and "offers no tactics, got tactic 7" in messages[0]
    assert "getValidTactics" in messages[1] and "getNbTactics offered 0" in messages[1]


def test_v3_timing_cache_id_and_metadata(trt: Any, registry: Any, harness: Any, v3: Any) -> None:
    """The timing cache ID covers the creation state (op and every attribute), so TensorRT may cache tactic
    timings across builds but never shares them between differently configured plugins."""
    meta = v3.get_metadata_string()
    assert meta.startswith("MYSELU(") and "gain=0.5" in meta, meta
    same = harness.PluginV3(create_from_node(trt, registry, myselu_node(V3, name="other", gain=0.5)))
    other = harness.PluginV3(create_from_node(trt, registry, myselu_node(V3, name="n4", gain=0.25)))
    quoted = harness.PluginV3(
        create_from_node(trt, registry, myselu_node(V3, name="n5", gain=0.5, info='{"a": "x\\ny"}'))
    )
    ids = [p.get_timing_cache_id() for p in (v3, same, other, quoted)]
    assert ids[0] == ids[1], "the node's name is not creation state"
    assert len(set(ids[1:])) == 3, ids
    assert all(i.startswith("MYSELU_2_") and i.isascii() and i.isprintable() for i in ids), ids
