"""CPU tier: each op's Python OpSpec agrees with the compiled library's LayerSchema (trtkit._C.schema), op
by op: names, inputs, outputs, attributes (name, type, default, required, order) and the dtype table. The C++
schema is what the TensorRT creators declare, so a mismatch would make exported nodes and plugins disagree."""

from __future__ import annotations

import math
from typing import Any

import pytest

pytest.importorskip("torch")
_C = pytest.importorskip("trtkit._C", reason="trtkit._C is not built (cmake --build, or pip install .)")

import trtkit.ops  # noqa: E402,F401 - registers the kit's op specs
from trtkit.spec import OpSpec, all_specs, compiled_module, get_spec  # noqa: E402


def test_library_registered_cleanly() -> None:
    assert _C.registry_problems() == []


def test_every_compiled_layer_has_a_python_spec_and_vice_versa() -> None:
    compiled = set(_C.layer_names())
    python = {s.name for s in all_specs() if compiled_module(s) is _C}
    assert compiled, "the module has no layers"
    assert compiled - python == set(), (
        "compiled layers without a Python op spec (add python/trtkit/ops/<op>.py)"
    )
    assert python - compiled == set(), "Python op specs without a compiled layer"


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        # The library stores float32; the spec's default must survive that rounding unchanged.
        import struct

        return math.isclose(struct.unpack("f", struct.pack("f", float(b)))[0], float(a), rel_tol=0, abs_tol=0)
    return a == b


@pytest.mark.parametrize("name", sorted(s.name for s in all_specs()))
def test_spec_matches_compiled_schema(name: str) -> None:
    spec: OpSpec = get_spec(name)
    module = compiled_module(spec)
    if name not in module.layer_names():
        pytest.fail(f"{name} has a Python spec but is not compiled into {spec.module}")
    c = module.schema(name)
    assert c["name"] == spec.name
    assert c["inputs"] == [t.name for t in spec.inputs]
    assert c["outputs"] == list(spec.outputs)
    assert [a["name"] for a in c["attrs"]] == spec.attr_names, "attribute names/order differ"
    for ca in c["attrs"]:
        pa = spec.find_attr(ca["name"])
        assert ca["type"] == pa.type, f"{name}.{pa.name}: type {ca['type']} (C++) vs {pa.type} (Python)"
        assert ca["required"] == pa.required, f"{name}.{pa.name}: required differs"
        if not pa.required:
            assert same_value(ca["default"], pa.default), (
                f"{name}.{pa.name}: default {ca['default']} vs {pa.default}"
            )
    assert [tuple(r) for r in c["type_combinations"]] == [tuple(r) for r in spec.type_combinations]


@pytest.mark.parametrize("name", sorted(s.name for s in all_specs()))
def test_default_config_agrees(name: str) -> None:
    """A layer built with no attributes holds exactly the spec's defaults (the creator with no fields)."""
    spec = get_spec(name)
    if any(a.required for a in spec.attrs):
        pytest.skip(f"{name} has required attributes")
    layer = compiled_module(spec).Layer(name, {})
    assert list(layer.attrs) == spec.attr_names
    for a in spec.attrs:
        assert same_value(layer.attrs[a.name], a.default)


@pytest.mark.parametrize("name", sorted(s.name for s in all_specs()))
def test_fields_from_compiled_rebuild_the_spec(name: str) -> None:
    """What a template generator starts from: the compiled schema gives back the spec's declarative part."""
    from trtkit.spec import fields_from_compiled

    spec = get_spec(name)
    fields = fields_from_compiled(compiled_module(spec).schema(name))
    assert fields["name"] == spec.name
    assert [t.name for t in fields["inputs"]] == [t.name for t in spec.inputs]
    assert fields["outputs"] == list(spec.outputs)
    assert [(a.name, a.type, a.default, a.required) for a in fields["attrs"]] == [
        (a.name, a.type, a.default, a.required) for a in spec.attrs
    ]
    assert fields["type_combinations"] == list(spec.type_combinations)
