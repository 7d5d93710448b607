"""The op spec framework: one :class:`OpSpec` per op is the single source of truth on the Python side.

From an OpSpec the kit derives, with no per-op glue:

* the ``torch.library`` op ``trtkit::<op>`` (schema string generated from the attrs): eager CPU runs the
  PyTorch reference, eager CUDA runs the plugin's own kernel through ``trtkit._C.Layer.enqueue`` on the
  tensors' pointers and the current stream, a fake kernel (export, ``torch.compile``) and autograd;
* the ONNX ``OpSchema`` (``trtkit/onnx_schema.py``) with type-and-shape inference;
* the legacy exporter's symbolic (``torch.onnx.register_custom_op_symbolic``, registered once) and the dynamo
  exporter's translation function (an onnxscript ``Op`` built on that OpSchema), which emit identical nodes:
  op_type = plugin name, domain ``trtkit``, attributes named like the creator's fields, plus
  ``plugin_version`` and ``plugin_namespace``.

A test checks that every OpSpec agrees with the compiled library's schema (``trtkit._C.schema``), so the C++
``LayerSchema`` and this file cannot drift apart silently.

Adding an op: write ``ops/<op>.py`` holding one ``OpSpec(...)`` and call ``spec.register()``; see
``ops/myselu.py``. Ops that should also catch a third-party op at export time (torchvision's deform_conv2d,
say) list :class:`Reroute` entries; ``trtkit.export(..., reroute_torchvision=True)`` applies them.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import math
import numbers
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Optional, Union

PLUGIN_NAMESPACE = "trtkit"  # == trtkit::kPluginNamespace (core/layer.hpp); also the ONNX domain
PLUGIN_VERSIONS = {"v2": "1", "v3": "2"}  # IPluginV2DynamicExt creator "1", IPluginV3 creator "2"
ONNX_DOMAIN = PLUGIN_NAMESPACE
ONNX_DOMAIN_VERSION = 1
TORCH_NAMESPACE = "trtkit"

ATTR_TYPES = ("int", "ints", "float", "floats", "string")

# dtype names as the core's dtypeName() spells them.
DTYPE_NAMES = ("float32", "float16", "bfloat16", "int8", "int32", "int64", "bool", "uint8")


# ---------------------------------------------------------------------------------------------------------
# Declarations


@dataclass(frozen=True)
class Attr:
    """One attribute: an ONNX attribute, a creator PluginField and a keyword argument of the torch op.

    ``type`` is one of "int", "ints", "float", "floats", "string" (the PluginField kinds the ONNX parser
    produces: int32, int32[], float32, float32[], char[]). ``default`` is used when the node/caller omits it.
    """

    name: str
    type: str
    default: Any = None
    doc: str = ""
    required: bool = False

    def __post_init__(self) -> None:
        if self.type not in ATTR_TYPES:
            raise ValueError(f"attribute {self.name!r}: type {self.type!r} is not one of {ATTR_TYPES}")
        if not self.name.isidentifier():
            raise ValueError(f"attribute name {self.name!r} is not an identifier")
        if not self.required:
            object.__setattr__(self, "default", self.normalize(self.default, op="<spec>"))

    def normalize(self, value: Any, op: str) -> Any:
        """The canonical Python value (int, tuple[int], float, tuple[float], str) or a TypeError/ValueError.

        Values are made exactly what the plugin will see: ints must fit int32 and floats are rounded to
        float32 (the ONNX attribute and the PluginField are float32), so the eager reference, the ONNX node
        and the TensorRT plugin compute with the same numbers."""
        where = f"{op}: attribute {self.name!r}"
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{where} must be an int, got {value!r}")
            if not -(2**31) <= int(value) < 2**31:
                raise ValueError(f"{where} = {value} does not fit in int32")
            return int(value)
        if self.type == "float":
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{where} must be a float, got {value!r}")
            return _to_float32(float(value), where)
        if self.type == "string":
            if not isinstance(value, str):
                raise TypeError(f"{where} must be a str, got {value!r}")
            if "\0" in value:
                raise ValueError(
                    f"{where} must not contain NUL characters (TensorRT passes strings NUL-ended)"
                )
            return value
        if isinstance(value, (str, bytes, dict)):
            raise TypeError(f"{where} must be a sequence of {self.type[:-1]}s, got {value!r}")
        try:
            items = list(value)
        except TypeError:
            raise TypeError(f"{where} must be a sequence of {self.type[:-1]}s, got {value!r}") from None
        element = Attr(self.name, self.type[:-1], required=True)
        return tuple(element.normalize(v, op) for v in items)

    @property
    def torch_type(self) -> str:
        return {"int": "int", "ints": "int[]", "float": "float", "floats": "float[]", "string": "str"}[
            self.type
        ]

    def torch_default(self) -> str:
        """The default as a literal of the torch.library schema language."""
        d = self.default
        if self.type == "string":
            if '"' in d or "\\" in d:
                raise ValueError(
                    f"attribute {self.name!r}: default {d!r} cannot be written in a torch schema"
                )
            return f'"{d}"'
        if self.type in ("ints", "floats"):
            return "[" + ", ".join(repr(v) for v in d) + "]"
        return repr(d)


def _to_float32(value: float, where: str) -> float:
    if _compiling():  # under torch.compile the value was normalized when the graph was first traced
        return value
    if math.isnan(value) or math.isinf(value):
        return value
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        raise ValueError(f"{where} = {value} does not fit in float32") from None


def _compiling() -> bool:
    try:
        import torch

        return bool(torch.compiler.is_compiling())
    except (ImportError, AttributeError):
        return False


@dataclass(frozen=True)
class TensorArg:
    """One tensor input. ``weight`` marks inputs that usually come from parameters (ONNX initializers)."""

    name: str
    doc: str = ""
    weight: bool = False


class UnknownDim:
    """A dimension the ONNX shape inference does not know as a number.

    Shape functions see these in place of ints: passing one through unchanged keeps its symbolic name
    (e.g. "batch"); any arithmetic gives an unnamed unknown. Shape functions must therefore only do
    arithmetic on dims, not branch on their values (put value checks in ``OpSpec.validate``).
    """

    def __init__(self, name: Optional[str] = None) -> None:
        self.name = name

    def _unknown(self, *_: Any) -> UnknownDim:
        return UnknownDim()

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _unknown
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __neg__ = _unknown

    def __repr__(self) -> str:
        return f"UnknownDim({self.name!r})"


Dim = Union[int, Any]  # int, torch.SymInt, or UnknownDim
Shape = Sequence[Dim]
ShapeFn = Callable[[Sequence[Shape], dict[str, Any]], list[list[Dim]]]


@dataclass(frozen=True)
class Reroute:
    """Routes a third-party op (e.g. ``torchvision::deform_conv2d``) to this kit op at export time.

    ``qualname``: the op's "namespace::name" for the legacy exporter; ``overload``: returns the OpOverload
    (``torch.ops.torchvision.deform_conv2d.default``), called lazily since the library may be absent;
    ``adapt(args, const)``: maps the op's positional arguments (schema order) to ``(tensors, attrs)`` of
    this spec. ``const(value, kind)`` turns a legacy-exporter graph constant into a Python value (kind as
    torch's symbolic_helper: "i", "is", "f", "fs", "s", "b"); under the dynamo exporter it is the identity.
    Trailing ``tensors`` entries may be None: those inputs are left out of the node.
    """

    qualname: str
    overload: Callable[[], Any]
    adapt: Callable[[Sequence[Any], Callable[[Any, str], Any]], tuple[list[Any], dict[str, Any]]]
    doc: str = ""


@dataclass
class OpSpec:
    """Everything the Python side knows about one op; mirrors the C++ ``LayerSchema`` of the plugin.

    name:       plugin name == ONNX op_type (must not be an op TensorRT's ONNX parser imports natively).
    op:         the torch op name: ``torch.ops.trtkit.<op>``.
    inputs / outputs / attrs / type_combinations: as the C++ LayerSchema (type rows: inputs then outputs).
    reference:  ``reference(*tensors, **attrs)`` in plain PyTorch: the eager CPU kernel, the ground truth
                of every test, and what the default backward differentiates.
    output_shapes: ``output_shapes(input_shapes, attrs) -> [shape per output]``; dims are ints, SymInts
                (fake tensors) or :class:`UnknownDim` (ONNX inference).
    validate:   ``validate(attrs, input_shapes)`` raises ValueError naming the problem; the shapes may hold
                UnknownDim or be None (unknown rank). Runs in every kernel and in ONNX shape inference.
    backward:   ``backward(tensors, attrs, outputs, grad_outputs) -> [grad per tensor input or None]``;
                None differentiates ``reference`` with torch.autograd.
    reroutes:   see :class:`Reroute`.
    prearrange: ``prearrange(model, node) -> bool``: trtkit.export's rewrite of an exported node of this op
                (onnx protos) into the form the plugin runs fastest with, e.g. constant weights re-laid once
                into new initializers instead of on every inference; True if it changed the model.
    module:     the pybind11 module compiled with the op's layer (or its name, imported when first needed):
                "trtkit._C" for the kit's ops, "<pkg>._C" for a plugin package built on the installed SDK
                (trtkit_add_plugins(PYTHON_PACKAGE <pkg>)).
    """

    name: str
    op: str
    doc: str
    inputs: Sequence[TensorArg]
    outputs: Sequence[str]
    attrs: Sequence[Attr]
    type_combinations: Sequence[Sequence[str]]
    reference: Callable[..., Any]
    output_shapes: ShapeFn
    validate: Optional[Callable[[dict[str, Any], Optional[Sequence[Optional[Shape]]]], None]] = None
    backward: Optional[Callable[..., Sequence[Any]]] = None
    reroutes: Sequence[Reroute] = ()
    prearrange: Optional[Callable[[Any, Any], bool]] = None
    module: Union[str, ModuleType] = "trtkit._C"
    _registered: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.inputs = tuple(TensorArg(i) if isinstance(i, str) else i for i in self.inputs)
        self.outputs = tuple(self.outputs)
        self.attrs = tuple(self.attrs)
        self.type_combinations = tuple(tuple(row) for row in self.type_combinations)
        width = len(self.inputs) + len(self.outputs)
        names = [a.name for a in self.attrs]
        reserved = {"plugin_version", "plugin_namespace"}
        if len(set(names)) != len(names) or reserved & set(names):
            raise ValueError(
                f"{self.name}: attribute names must be unique and not {sorted(reserved)}: {names}"
            )
        for row in self.type_combinations:
            if len(row) != width or any(t not in DTYPE_NAMES for t in row):
                raise ValueError(f"{self.name}: type row {row} must name {width} dtypes out of {DTYPE_NAMES}")

    # ---- attributes ------------------------------------------------------------------------------------

    @property
    def attr_names(self) -> list[str]:
        return [a.name for a in self.attrs]

    def find_attr(self, name: str) -> Attr:
        for a in self.attrs:
            if a.name == name:
                return a
        raise KeyError(name)

    def bind_attrs(self, given: dict[str, Any]) -> dict[str, Any]:
        """Fills defaults, checks names and types; returns canonical values in schema order."""
        unknown = set(given) - set(self.attr_names)
        if unknown:
            raise ValueError(f"{self.name}: unknown attribute(s) {sorted(unknown)}; known: {self.attr_names}")
        out: dict[str, Any] = {}
        for a in self.attrs:
            if a.name in given and given[a.name] is not None:
                out[a.name] = a.normalize(given[a.name], self.name)
            elif a.required:
                raise ValueError(f"{self.name}: required attribute {a.name!r} is missing")
            else:
                out[a.name] = a.default
        return out

    def check(self, attrs: dict[str, Any], shapes: Optional[Sequence[Optional[Shape]]]) -> None:
        if self.validate is not None:
            self.validate(attrs, shapes)

    # ---- dtypes --------------------------------------------------------------------------------------------

    def plugin_output_dtypes(self, input_dtypes: Sequence[str]) -> Optional[list[str]]:
        """Output dtypes from the first type row matching the inputs (as the C++ core), else None."""
        n = len(self.inputs)
        for row in self.type_combinations:
            if tuple(row[:n]) == tuple(input_dtypes):
                return list(row[n:])
        return None

    def describe_type_table(self) -> str:
        n = len(self.inputs)
        return "; ".join(f"({', '.join(r[:n])}) -> ({', '.join(r[n:])})" for r in self.type_combinations)

    # ---- torch -------------------------------------------------------------------------------------------

    @property
    def qualname(self) -> str:
        return f"{TORCH_NAMESPACE}::{self.op}"

    def torch_schema(self) -> str:
        tensors = ", ".join(f"Tensor {t.name}" for t in self.inputs)
        attrs = ", ".join(
            f"{a.torch_type} {a.name}" + ("" if a.required else f"={a.torch_default()}") for a in self.attrs
        )
        outs = "Tensor" if len(self.outputs) == 1 else "(" + ", ".join("Tensor" for _ in self.outputs) + ")"
        return f"{self.op}({tensors}{', *, ' + attrs if attrs else ''}) -> {outs}"

    def split_args(self, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """(tensors, canonical attrs) from a call ``op(*tensors, **attrs)`` as the dispatcher makes it."""
        n = len(self.inputs)
        if len(args) < n:
            raise TypeError(
                f"{self.name} takes {n} tensor inputs {[t.name for t in self.inputs]}, got {len(args)}"
            )
        given = dict(kwargs)
        for a, v in zip(self.attrs, args[n:]):  # attrs passed positionally (legacy exporter, graph replays)
            given[a.name] = v
        return list(args[:n]), self.bind_attrs(given)

    @property
    def torch_op(self) -> Any:
        """``torch.ops.trtkit.<op>`` (registers on first use)."""
        self.register()
        import torch

        return getattr(getattr(torch.ops, TORCH_NAMESPACE), self.op)

    def __call__(self, *tensors: Any, **attrs: Any) -> Any:
        """Calls the torch op with the attributes checked first (clear errors, float32-exact values)."""
        bound = self.bind_attrs(attrs)
        return self.torch_op(*tensors, **{k: _to_c(v) for k, v in bound.items()})

    def register(self) -> OpSpec:
        """Registers the torch op, kernels, autograd, ONNX schema and legacy symbolic. Idempotent."""
        with _REGISTRY_LOCK:
            if self._registered:
                return self
            if self.name in _SPECS and _SPECS[self.name] is not self:
                raise ValueError(f"an op named {self.name!r} is registered already")
            from trtkit import onnx_schema

            onnx_schema.register(self)
            _register_torch(self)
            _register_legacy_symbolic(self)
            _SPECS[self.name] = self
            self._registered = True
        return self

    # ---- ONNX ----------------------------------------------------------------------------------------------

    def node_attributes(self, attrs: dict[str, Any], plugin: str) -> dict[str, Any]:
        """The node's attributes in canonical order: the op's, then plugin_version, plugin_namespace."""
        if plugin not in PLUGIN_VERSIONS:
            raise ValueError(f"plugin must be one of {sorted(PLUGIN_VERSIONS)}, got {plugin!r}")
        out = {
            a.name: (list(attrs[a.name]) if a.type in ("ints", "floats") else attrs[a.name])
            for a in self.attrs
        }
        out["plugin_version"] = PLUGIN_VERSIONS[plugin]
        out["plugin_namespace"] = PLUGIN_NAMESPACE
        return out


_SPECS: dict[str, OpSpec] = {}
_REGISTRY_LOCK = threading.RLock()


def fields_from_compiled(schema: dict[str, Any]) -> dict[str, Any]:
    """The declarative part of an OpSpec (name, doc, inputs, outputs, attrs, type_combinations) from a
    compiled layer's schema (``<module>._C.schema(name)``): the starting point of a new ops/<op>.py, for a
    person or a template generator. The PyTorch side (op, reference, output_shapes, validate, backward)
    is what must be added by hand."""
    weights = [a["name"] for a in schema["attrs"] if a["type"] == "weights"]
    if weights:
        raise ValueError(
            f"{schema['name']}: plugin-held weight attributes {weights} have no torch op argument; pass "
            "weights as inputs (the kit's default) to give the op a PyTorch front end"
        )
    return {
        "name": schema["name"],
        "doc": schema["doc"],
        "inputs": [TensorArg(n) for n in schema["inputs"]],
        "outputs": list(schema["outputs"]),
        "attrs": [
            Attr(a["name"], a["type"], None if a["required"] else a["default"], a["doc"], a["required"])
            for a in schema["attrs"]
        ],
        "type_combinations": [tuple(row) for row in schema["type_combinations"]],
    }


def all_specs() -> list[OpSpec]:
    """Every registered op spec (importing trtkit.ops registers the kit's own)."""
    return list(_SPECS.values())


def get_spec(name: str) -> OpSpec:
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(f"no trtkit op named {name!r}; registered: {sorted(_SPECS)}") from None


# ---------------------------------------------------------------------------------------------------------
# Export context: which plugin flavour the (global, registered once) legacy symbolic emits.

_EXPORT_PLUGIN: contextvars.ContextVar[str] = contextvars.ContextVar("trtkit_export_plugin", default="v3")


@contextlib.contextmanager
def plugin_flavour(plugin: str) -> Iterator[None]:
    if plugin not in PLUGIN_VERSIONS:
        raise ValueError(f"plugin must be one of {sorted(PLUGIN_VERSIONS)}, got {plugin!r}")
    token = _EXPORT_PLUGIN.set(plugin)
    try:
        yield
    finally:
        _EXPORT_PLUGIN.reset(token)


def current_plugin_flavour() -> str:
    return _EXPORT_PLUGIN.get()


# ---------------------------------------------------------------------------------------------------------
# dtype names


def torch_dtype_name(dtype: Any) -> str:
    import torch

    names = {
        torch.float32: "float32",
        torch.float16: "float16",
        torch.bfloat16: "bfloat16",
        torch.int8: "int8",
        torch.int32: "int32",
        torch.int64: "int64",
        torch.bool: "bool",
        torch.uint8: "uint8",
        torch.float64: "float64",  # reference-only: no plugin takes it
    }
    if dtype not in names:
        raise TypeError(f"dtype {dtype} has no trtkit equivalent")
    return names[dtype]


def torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, name)


# ---------------------------------------------------------------------------------------------------------
# torch.library registration


def _output_dtypes(spec: OpSpec, tensors: Sequence[Any]) -> list[Any]:
    """Output torch dtypes: the plugin's table when it has a row for the inputs; otherwise (float64 for
    gradcheck, say) the reference decides: every output takes the first input's dtype."""
    names = [torch_dtype_name(t.dtype) if t is not None else "" for t in tensors]
    row = spec.plugin_output_dtypes(names)
    if row is not None:
        return [torch_dtype(n) for n in row]
    return [tensors[0].dtype for _ in spec.outputs]


def _shapes(tensors: Sequence[Any]) -> list[Optional[list[Any]]]:
    return [list(t.shape) if t is not None else None for t in tensors]


def _as_tuple(result: Any) -> tuple[Any, ...]:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def _single_or_tuple(spec: OpSpec, outs: Sequence[Any]) -> Any:
    return outs[0] if len(spec.outputs) == 1 else tuple(outs)


def _cpu_kernel(spec: OpSpec) -> Callable[..., Any]:
    def kernel(*args: Any, **kwargs: Any) -> Any:
        tensors, attrs = spec.split_args(args, kwargs)
        spec.check(attrs, _shapes(tensors))
        outs = _as_tuple(spec.reference(*tensors, **attrs))
        dtypes = _output_dtypes(spec, tensors)
        # Custom ops must not return views of their inputs; the reference may well do that.
        fixed = [
            o.to(d) if o.dtype != d else o.clone() if _aliases(o, tensors) else o
            for o, d in zip(outs, dtypes)
        ]
        return _single_or_tuple(spec, [o.contiguous() for o in fixed])

    return kernel


def _aliases(out: Any, tensors: Sequence[Any]) -> bool:
    return any(
        t is not None and out.untyped_storage().data_ptr() == t.untyped_storage().data_ptr() for t in tensors
    )


def _fake_kernel(spec: OpSpec) -> Callable[..., Any]:
    def fake(*args: Any, **kwargs: Any) -> Any:
        tensors, attrs = spec.split_args(args, kwargs)
        spec.check(attrs, _shapes(tensors))
        shapes = spec.output_shapes(_shapes(tensors), attrs)
        dtypes = _output_dtypes(spec, tensors)
        device = tensors[0].device
        return _single_or_tuple(
            spec, [tensors[0].new_empty(s, dtype=d, device=device) for s, d in zip(shapes, dtypes)]
        )

    return fake


class _LayerCache:
    """Bounded cache of compiled layers for the eager CUDA path: building one validates the attributes
    (JSON parsing and all), which must not happen on every call."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_LAYERS = _LayerCache()


def compiled_module(spec: OpSpec) -> Any:
    """The pybind11 module holding the op's compiled layer (``spec.module``, trtkit._C for the kit's ops)."""
    import importlib

    if not isinstance(spec.module, str):
        return spec.module
    try:
        return importlib.import_module(spec.module)
    except ImportError as e:
        raise RuntimeError(
            f"{spec.name}: running it on CUDA tensors needs the compiled module {spec.module}, which "
            f"failed to import ({e}). Build it (pip install . or the developer build in README.md), or run "
            "on CPU, where the PyTorch reference runs."
        ) from e


def _cuda_kernel(spec: OpSpec) -> Callable[..., Any]:
    def kernel(*args: Any, **kwargs: Any) -> Any:
        import torch

        tensors, attrs = spec.split_args(args, kwargs)
        spec.check(attrs, _shapes(tensors))
        present = [t for t in tensors if t is not None]
        device = present[0].device
        if any(t.device != device for t in present):
            raise ValueError(
                f"{spec.name}: all inputs must be on one device, got {[str(t.device) for t in present]}"
            )
        in_names = [torch_dtype_name(t.dtype) for t in present]
        out_names = spec.plugin_output_dtypes(in_names)
        if out_names is None:
            raise TypeError(
                f"{spec.name}: the plugin kernel has no variant for input dtypes ({', '.join(in_names)}); "
                f"supported: {spec.describe_type_table()}. Cast the inputs, or run on CPU "
                "(PyTorch reference)."
            )
        _C = compiled_module(spec)
        key = (spec.name, tuple(attrs.items()), device.index)
        layer = _LAYERS.get(key, lambda: _C.Layer(spec.name, {k: _to_c(v) for k, v in attrs.items()}))
        inputs = [t.contiguous() for t in present]
        in_shapes = [list(t.shape) for t in inputs]
        out_shapes = layer.output_shapes(in_shapes)
        outputs = [torch.empty(s, dtype=torch_dtype(d), device=device) for s, d in zip(out_shapes, out_names)]
        in_desc = [(n, s) for n, s in zip(in_names, in_shapes)]
        out_desc = [(n, s) for n, s in zip(out_names, out_shapes)]
        layer.configure(in_desc, out_desc)
        if all(o.numel() > 0 for o in outputs) and all(t.numel() > 0 for t in inputs):
            ws_bytes = layer.workspace_size(in_desc, out_desc)
            workspace = torch.empty(ws_bytes, dtype=torch.uint8, device=device) if ws_bytes else None
            with torch.cuda.device(device):
                stream = torch.cuda.current_stream(device).cuda_stream
                layer.enqueue(
                    [(t.data_ptr(), n, s) for t, n, s in zip(inputs, in_names, in_shapes)],
                    [(o.data_ptr(), n, s) for o, n, s in zip(outputs, out_names, out_shapes)],
                    workspace.data_ptr() if workspace is not None else 0,
                    stream,
                )
        return _single_or_tuple(spec, outputs)

    return kernel


def _to_c(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _reference_backward(spec: OpSpec) -> Callable[..., Sequence[Any]]:
    """Default backward: differentiate the PyTorch reference (create_graph keeps double backward)."""

    def backward(
        tensors: Sequence[Any], attrs: dict[str, Any], outputs: Any, grads: Sequence[Any]
    ) -> list[Any]:
        import torch

        create_graph = torch.is_grad_enabled()  # True when the caller asked for double backward
        with torch.enable_grad():
            # Inputs that require grad are used as they are, so that with create_graph the gradients stay
            # connected to them (double backward); the others become fresh leaves.
            leaves = [
                t if t is None or t.requires_grad else t.detach().requires_grad_(t.is_floating_point())
                for t in tensors
            ]
            outs = _as_tuple(spec.reference(*leaves, **attrs))
            wrt = [t for t in leaves if t is not None and t.requires_grad]
            pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
            if not wrt or not pairs:
                return [None] * len(tensors)
            found = torch.autograd.grad(
                [o for o, _ in pairs],
                wrt,
                [g.to(o.dtype) for o, g in pairs],
                allow_unused=True,
                create_graph=create_graph,
            )
        it = iter(found)
        result = [next(it) if t is not None and t.requires_grad else None for t in leaves]
        return [g.to(t.dtype) if g is not None else None for g, t in zip(result, tensors)]

    return backward


def _register_torch(spec: OpSpec) -> None:
    import torch

    lib = _library()
    lib.define(spec.torch_schema())
    lib.impl(spec.op, _cpu_kernel(spec), "CPU")
    lib.impl(spec.op, _cuda_kernel(spec), "CUDA")
    torch.library.register_fake(spec.qualname, _fake_kernel(spec), lib=lib)

    backward_fn = spec.backward or _reference_backward(spec)
    n = len(spec.inputs)

    def setup_context(
        ctx: Any, inputs: tuple[Any, ...], output: Any, keyword_only_inputs: Optional[dict[str, Any]] = None
    ) -> None:
        tensors, attrs = spec.split_args(inputs, dict(keyword_only_inputs or {}))
        ctx.save_for_backward(*[t for t in tensors if t is not None], *_as_tuple(output))
        ctx.present = [t is not None for t in tensors]
        ctx.attrs = attrs

    def backward(ctx: Any, *grads: Any) -> tuple[Any, ...]:
        saved = list(ctx.saved_tensors)
        k = sum(ctx.present)
        it = iter(saved[:k])
        tensors = [next(it) if p else None for p in ctx.present]
        outputs = saved[k:]
        result = list(backward_fn(tensors, ctx.attrs, _single_or_tuple(spec, outputs), grads))
        if len(result) != n:
            raise RuntimeError(f"{spec.name}: backward returned {len(result)} gradients for {n} inputs")
        return tuple(result)  # attrs are keyword-only: torch wants gradients for the tensor inputs only

    torch.library.register_autograd(spec.qualname, backward, setup_context=setup_context, lib=lib)


_LIB: Any = None


def _library() -> Any:
    global _LIB
    if _LIB is None:
        import torch

        _LIB = torch.library.Library(TORCH_NAMESPACE, "FRAGMENT")
    return _LIB


# ---------------------------------------------------------------------------------------------------------
# Legacy (TorchScript) exporter


def _legacy_const(value: Any, kind: str) -> Any:
    """A Python value from a legacy-exporter argument (graph constant or plain value)."""
    from torch.onnx import symbolic_helper

    return symbolic_helper._maybe_get_const(value, kind)  # noqa: SLF001 - the exporter's own helper


_LEGACY_KIND = {"int": "i", "ints": "is", "float": "f", "floats": "fs", "string": "s"}
_LEGACY_SUFFIX = {"int": "i", "ints": "i", "float": "f", "floats": "f", "string": "s"}


def emit_legacy_node(spec: OpSpec, g: Any, tensors: Sequence[Any], attrs: dict[str, Any]) -> Any:
    """Emits the kit node in a legacy-exporter graph ``g``; typed outputs (setType) so shapes survive."""
    kwargs: dict[str, Any] = {}
    node_attrs = spec.node_attributes(attrs, current_plugin_flavour())
    for name, value in node_attrs.items():
        kind = spec.find_attr(name).type if name in spec.attr_names else "string"
        kwargs[f"{name}_{_LEGACY_SUFFIX[kind]}"] = value
    inputs = _present_inputs(spec, tensors)
    outs = g.op(f"{ONNX_DOMAIN}::{spec.name}", *inputs, outputs=len(spec.outputs), **kwargs)
    outs = list(_as_tuple(outs))
    _legacy_set_types(spec, tensors, attrs, outs)
    return _single_or_tuple(spec, outs)


def _present_inputs(spec: OpSpec, tensors: Sequence[Any]) -> list[Any]:
    """Trailing absent inputs (None) are left out of the node. An absent input before a present one cannot
    be expressed to a TensorRT plugin (it sees only the inputs present, by position), so it is an error."""
    inputs = list(tensors)
    while inputs and inputs[-1] is None:
        inputs.pop()
    if any(t is None for t in inputs):
        missing = [a.name for a, t in zip(spec.inputs, inputs) if t is None]
        raise ValueError(f"{spec.name}: inputs {missing} are absent but later inputs are present")
    return inputs


def _legacy_set_types(
    spec: OpSpec, tensors: Sequence[Any], attrs: dict[str, Any], outs: Sequence[Any]
) -> None:
    """Gives each output of a legacy node its dtype and (where known) shape, as the fake kernel would."""
    import torch

    present = [t for t in tensors if t is not None]
    types = [t.type() for t in present]
    if not types or not all(isinstance(t, torch._C.TensorType) for t in types):  # noqa: SLF001
        return
    out_dtypes: list[Any] = [None] * len(outs)
    try:
        names = [torch_dtype_name(t.dtype()) if t.dtype() is not None else None for t in types]
    except TypeError:
        names = [None]
    if None not in names:
        row = spec.plugin_output_dtypes(names)  # type: ignore[arg-type]
        out_dtypes = [torch_dtype(n) for n in row] if row else [types[0].dtype()] * len(outs)
    shapes = _legacy_shapes(tensors)
    out_shapes: list[Optional[list[Any]]] = [None] * len(outs)
    if all(s is not None for s, t in zip(shapes, tensors) if t is not None):
        out_shapes = [list(s) for s in spec.output_shapes(shapes, attrs)]  # type: ignore[arg-type]
    for out, dtype, shape in zip(outs, out_dtypes, out_shapes):
        ty = types[0]
        if dtype is not None:
            ty = ty.with_dtype(dtype)
        if shape is not None:
            ty = ty.with_sizes([d if isinstance(d, int) else None for d in shape])
        out.setType(ty)


def _legacy_symbolic(spec: OpSpec) -> Callable[..., Any]:
    n = len(spec.inputs)

    def symbolic(g: Any, *args: Any) -> Any:
        # No @parse_args: it would drop inputs of a *args function silently. Constants are read one by one.
        tensors = [None if _is_none(a) else a for a in args[:n]]
        given = {a.name: _legacy_const(v, _LEGACY_KIND[a.type]) for a, v in zip(spec.attrs, args[n:])}
        attrs = spec.bind_attrs(given)
        shapes = _legacy_shapes(tensors)
        spec.check(attrs, shapes)
        return emit_legacy_node(spec, g, tensors, attrs)

    symbolic.__name__ = f"symbolic_{spec.op}"
    return symbolic


def _is_none(value: Any) -> bool:
    from torch.onnx import symbolic_helper

    return value is None or symbolic_helper._is_none(value)  # noqa: SLF001


def _legacy_shapes(tensors: Sequence[Any]) -> list[Optional[list[Any]]]:
    import torch

    shapes: list[Optional[list[Any]]] = []
    for t in tensors:
        ty = t.type() if t is not None else None
        sizes = ty.varyingSizes() if isinstance(ty, torch._C.TensorType) else None  # noqa: SLF001
        shapes.append(None if sizes is None else [UnknownDim() if s is None else s for s in sizes])
    return shapes


LEGACY_SYMBOLIC_OPSET = 9  # the lowest opset the symbolic is valid for; it serves every opset above


def _register_legacy_symbolic(spec: OpSpec) -> None:
    import torch

    torch.onnx.register_custom_op_symbolic(spec.qualname, _legacy_symbolic(spec), LEGACY_SYMBOLIC_OPSET)


def legacy_reroute_symbolic(spec: OpSpec, reroute: Reroute) -> Callable[..., Any]:
    """A legacy symbolic for a third-party op that emits this spec's node (see :class:`Reroute`)."""

    def symbolic(g: Any, *args: Any) -> Any:
        tensors, given = reroute.adapt(list(args), _legacy_const)
        attrs = spec.bind_attrs(given)
        tensors = [None if t is None or _is_none(t) else t for t in tensors]
        spec.check(attrs, _legacy_shapes(tensors))
        return emit_legacy_node(spec, g, tensors, attrs)

    return symbolic


# ---------------------------------------------------------------------------------------------------------
# Dynamo exporter


def dynamo_translation(spec: OpSpec, plugin: str) -> Callable[..., Any]:
    """The ``custom_translation_table`` function for ``torch.ops.trtkit.<op>.default``.

    Its signature mirrors the torch op (positional tensors, keyword attrs with defaults) so the exporter
    binds the fx node's arguments the same way the dispatcher would."""
    from trtkit import onnx_schema

    onnx_op = onnx_schema.onnxscript_op(spec)

    def translate(*args: Any, **kwargs: Any) -> Any:
        tensors, attrs = spec.split_args(args, kwargs)
        return _call_onnx_op(spec, onnx_op, tensors, attrs, plugin)

    params = [inspect.Parameter(t.name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for t in spec.inputs]
    params += [
        inspect.Parameter(
            a.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=(list(a.default) if isinstance(a.default, tuple) else a.default)
            if not a.required
            else inspect.Parameter.empty,
        )
        for a in spec.attrs
    ]
    translate.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    translate.__name__ = f"trtkit_{spec.op}"
    return translate


def _call_onnx_op(
    spec: OpSpec, onnx_op: Any, tensors: Sequence[Any], attrs: dict[str, Any], plugin: str
) -> Any:
    return onnx_op(*_present_inputs(spec, tensors), **spec.node_attributes(attrs, plugin))


def dynamo_reroute_translation(spec: OpSpec, reroute: Reroute, plugin: str) -> Callable[..., Any]:
    from trtkit import onnx_schema

    onnx_op = onnx_schema.onnxscript_op(spec)

    def translate(*args: Any, **kwargs: Any) -> Any:
        tensors, given = reroute.adapt(_positional(reroute, args, kwargs), lambda v, _kind: v)
        return _call_onnx_op(spec, onnx_op, tensors, spec.bind_attrs(given), plugin)

    translate.__name__ = f"trtkit_reroute_{reroute.qualname.replace('::', '_')}"
    return translate


def _positional(reroute: Reroute, args: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
    """The op's arguments in schema order, defaults filled, however the fx node passed them."""
    schema = reroute.overload()._schema  # noqa: SLF001
    out = list(args)
    for arg in schema.arguments[len(out) :]:
        if arg.name in kwargs:
            out.append(kwargs[arg.name])
        elif arg.has_default_value():
            out.append(arg.default_value)
        else:
            raise TypeError(f"{reroute.qualname}: argument {arg.name!r} is missing")
    return out


def prod(values: Sequence[Any]) -> Any:
    """Product of dims (ints, SymInts or UnknownDim) for shape functions and validators."""
    return math.prod(values) if all(isinstance(v, int) for v in values) else _prod_symbolic(values)


def _prod_symbolic(values: Sequence[Any]) -> Any:
    result: Any = 1
    for v in values:
        result = result * v
    return result
