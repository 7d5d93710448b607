"""``trtkit doctor MODEL.onnx``: will TensorRT's ONNX parser map this model's custom nodes onto plugins?

For every node that is not a standard ONNX op the doctor replays what onnx-tensorrt does with it
(see TENSORRT-FACTS.md and ``_onnx_trt_builtins``):

1. a built-in importer for the op_type wins, whatever the node's domain: a plugin of that name is never used;
2. else a model-local function of that name is inlined instead of the plugin;
3. else the plugin fallback looks a creator up by (op_type, plugin_version, plugin_namespace) — string
   attributes defaulting to "1" and "" — (newer parsers retry with the node's domain as the namespace),
   converts the node attributes the creator declares into PluginFields and calls createPlugin.

The doctor loads the kit's plugin library and any ``--lib`` libraries into the TensorRT runtime that is
installed (full ``tensorrt`` or the lean runtime), then reports per node: the creator or the near misses
(same name with another version/namespace, other spelling), declared fields missing from the node, node
attributes the parser ignores, attributes whose converted type does not fit the field, and whether the
creator actually builds a plugin from exactly the fields the parser would pass. The plugin so created is
then driven through trtkit's C++ harness (where built for this TensorRT major) against the tensors the model
gives the node: output count, dtypes (getOutputDataTypes, supportsFormatCombination) and, for static input
shapes, the output shapes it computes versus those the model declares.

Exit status: 0 no errors (warnings allowed unless ``--strict``), 1 problems found, 2 the check could not run
(model missing or not ONNX, a library missing or not loadable, no TensorRT runtime).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from trtkit import _onnx_trt_builtins as builtins

RESERVED_ATTRS = ("plugin_version", "plugin_namespace", "tensorrt_plugin_shape_input_indices")
STANDARD_DOMAINS = ("", "ai.onnx")

ERROR, WARNING, INFO = "error", "warning", "info"


class DoctorError(Exception):
    """The check cannot run at all (exit status 2); the message says why and what to do."""

    runtime: Optional[str] = None  # the TensorRT runtime, when it was found before the failure


class _StaticOnly(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------
# Report


@dataclass
class Finding:
    severity: str  # "error" | "warning" | "info"
    code: str  # stable identifier for scripts and tests, e.g. "creator-not-found"
    message: str


@dataclass
class NodeReport:
    name: str
    op_type: str
    domain: str
    where: str  # "graph", "graph/If_0.then_branch", "function LOCAL"
    plugin_version: str
    plugin_namespace: str
    creator: Optional[dict[str, Any]] = None  # name, version, namespace, interface, fields
    findings: list[Finding] = field(default_factory=list)
    checked_with_runtime: bool = False  # the creator lookup ran (else only the static checks did)

    def add(self, severity: str, code: str, message: str) -> None:
        self.findings.append(Finding(severity, code, message))

    @property
    def status(self) -> str:
        if any(f.severity == ERROR for f in self.findings):
            return "ERROR"
        if any(f.severity == WARNING for f in self.findings):
            return "warning"
        return "ok" if self.checked_with_runtime else "ok (static checks only)"


@dataclass
class Report:
    model: str
    runtime: Optional[str]
    libraries: list[dict[str, Any]]
    nodes: list[NodeReport]
    findings: list[Finding] = field(default_factory=list)  # model- or environment-wide

    def all_findings(self) -> Iterator[Finding]:
        yield from self.findings
        for n in self.nodes:
            yield from n.findings

    def count(self, severity: str) -> int:
        return sum(1 for f in self.all_findings() if f.severity == severity)

    def exit_code(self, strict: bool = False) -> int:
        if any(f.code in _ENVIRONMENT_CODES and f.severity == ERROR for f in self.findings):
            return 2
        if self.count(ERROR) or (strict and self.count(WARNING)):
            return 1
        return 0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for n, node in zip(out["nodes"], self.nodes):
            n["status"] = node.status
        out["errors"] = self.count(ERROR)
        out["warnings"] = self.count(WARNING)
        return out


_ENVIRONMENT_CODES = {"no-tensorrt-runtime", "library-not-found", "library-not-loaded"}


# ---------------------------------------------------------------------------------------------------------
# The model


def load_model(path: str | os.PathLike[str]) -> Any:
    """Loads an ONNX model without external weights (attributes are all the doctor reads)."""
    import onnx

    p = Path(path)
    if not p.exists():
        raise DoctorError(f"model file not found: {p}")
    if not p.is_file():
        raise DoctorError(f"model path is not a file: {p}")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as e:  # protobuf DecodeError and friends
        raise DoctorError(f"{p} is not a valid ONNX model: {type(e).__name__}: {e}") from None
    if not model.HasField("graph"):
        raise DoctorError(f"{p} is not a valid ONNX model: it has no graph (is it an ONNX file at all?)")
    return model


@dataclass
class _Site:
    node: Any
    where: str


def _walk_graph(graph: Any, where: str) -> Iterator[_Site]:
    import onnx

    for node in graph.node:
        yield _Site(node, where)
        for attr in node.attribute:
            label = f"{where}/{node.name or node.op_type}.{attr.name}"
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _walk_graph(attr.g, label)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for i, g in enumerate(attr.graphs):
                    yield from _walk_graph(g, f"{label}[{i}]")


def _sites(model: Any) -> Iterator[_Site]:
    """Every node the parser may import: the graph, its subgraphs, and the bodies of local functions
    (the parser inlines a function's nodes and imports each of them)."""
    yield from _walk_graph(model.graph, "graph")
    for fn in model.functions:
        for node in fn.node:
            yield _Site(node, f"function {fn.name}")


def is_standard_op(node: Any) -> bool:
    import onnx.defs

    return node.domain in STANDARD_DOMAINS and onnx.defs.has(node.op_type, "")


def _string_attr(node: Any, name: str, default: str) -> tuple[str, Optional[str]]:
    """(value, problem) of a string attribute the parser reads with attrs.get<std::string>(name, default)."""
    import onnx

    for a in node.attribute:
        if a.name == name:
            if a.type != onnx.AttributeProto.STRING:
                # The parser reads AttributeProto.s regardless of the type: "" for a non-string attribute.
                kind = onnx.AttributeProto.AttributeType.Name(a.type)
                return "", f'attribute {name!r} must be a STRING, the node has a {kind} (the parser reads "")'
            return a.s.decode("utf-8", errors="replace"), None
    return default, None


# ---------------------------------------------------------------------------------------------------------
# The parser's attribute conversion, at the level of types (bytes: trtkit.parser_fields)

_INT_TYPES = ("int8", "int16", "int32", "int64")
_FLOAT_TYPES = ("float16", "bfloat16", "float32", "float64")


def _tensor_field_types() -> dict[int, str]:
    import onnx

    t = onnx.TensorProto
    return {
        t.FLOAT: "float32",
        t.FLOAT16: "float16",
        t.BFLOAT16: "bfloat16",
        t.DOUBLE: "float64",
        t.INT8: "int8",
        t.INT16: "int16",
        t.INT32: "int32",
        t.STRING: "char",
    }


@dataclass
class _Converted:
    dtype: Optional[
        str
    ]  # the PluginField type the parser passes ("int32", "float32", "char", ...), None if none
    length: int
    problem: Optional[str] = None  # the parser cannot convert it faithfully
    note: Optional[str] = None  # converted, but with a loss worth a warning


def parser_conversion(attr: Any) -> _Converted:
    """What onnx-tensorrt's plugin fallback (loadFields) makes of one node attribute."""
    import onnx

    a = onnx.AttributeProto
    int32 = range(-(2**31), 2**31)
    if attr.type == a.INT:
        note = None if attr.i in int32 else f"{attr.i} does not fit int32: the parser truncates it"
        return _Converted("int32", 1, note=note)
    if attr.type == a.INTS:
        bad = [v for v in attr.ints if v not in int32]
        note = f"values {bad} do not fit int32: the parser truncates them" if bad else None
        return _Converted("int32", len(attr.ints), note=note)
    if attr.type == a.FLOAT:
        return _Converted("float32", 1)
    if attr.type == a.FLOATS:
        return _Converted("float32", len(attr.floats))
    if attr.type == a.STRING:
        return _Converted("char", len(attr.s) + 1)  # the trailing NUL is counted
    if attr.type == a.STRINGS:
        return _Converted("char", sum(len(s) + 1 for s in attr.strings))
    if attr.type == a.TENSOR:
        dtype = _tensor_field_types().get(attr.t.data_type)
        count = 1
        for d in attr.t.dims:
            count *= d
        if dtype is None:
            name = onnx.TensorProto.DataType.Name(attr.t.data_type)
            return _Converted(
                None,
                count,
                problem=f"an {name} tensor cannot be a plugin field: onnx-tensorrt converts only FLOAT, "
                "FLOAT16, BFLOAT16, DOUBLE, INT8, INT16, INT32 (and STRING) tensors; it does not fail the "
                "node either (the error it builds is never raised) and the creator receives the raw bytes "
                "typed FLOAT16. Store the tensor as INT32 (or FLOAT).",
            )
        return _Converted(dtype, count)
    kind = a.AttributeType.Name(attr.type)
    return _Converted(
        None,
        0,
        problem=f"{kind} attributes cannot be plugin fields (onnx-tensorrt passes an empty FLOAT16 field)",
    )


def _category(dtype: str) -> str:
    if dtype in _INT_TYPES:
        return "int"
    if dtype in _FLOAT_TYPES:
        return "float"
    return dtype  # "char", "unknown"


def compare_field_type(declared: str, given: str) -> tuple[Optional[str], str]:
    """(severity or None, explanation) for a node attribute converted to ``given`` going into a field the
    creator declares as ``declared``."""
    if declared in ("unknown", given):
        return None, ""
    dc, gc = _category(declared), _category(given)
    if dc == "float" and gc == "int":
        return WARNING, (
            f"the parser passes {given} where the creator declares {declared}; only creators that convert "
            "accept it (write the attribute as a FLOAT)"
        )
    if dc == gc == "float":
        return (
            WARNING,
            f"the parser passes {given} where the creator declares {declared}; the creator must convert",
        )
    return ERROR, f"the parser passes {given} where the creator declares {declared}"


# ---------------------------------------------------------------------------------------------------------
# The TensorRT side


@dataclass
class CreatorRef:
    name: str
    version: str
    namespace: str
    interface: str  # "IPluginCreator" (V2 plugins), "IPluginCreatorV3One", ...
    handle: Any = None


_FIELD_TYPE_NAMES = {
    "FLOAT16": "float16",
    "FLOAT32": "float32",
    "FLOAT64": "float64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "CHAR": "char",
    "BF16": "bfloat16",
    "UNKNOWN": "unknown",
}

_NUMPY_OF_FIELD = {
    "int8": ("int8", "INT8"),
    "int16": ("int16", "INT16"),
    "int32": ("int32", "INT32"),
    "int64": ("int64", "INT64"),
    "float16": ("float16", "FLOAT16"),
    "bfloat16": ("uint16", "BF16"),
    "float32": ("float32", "FLOAT32"),
    "float64": ("float64", "FLOAT64"),
    "char": ("int8", "CHAR"),
    "bytes": ("uint8", "UNKNOWN"),
}


@contextlib.contextmanager
def captured_output() -> Iterator[list[str]]:
    """Captures what native code writes to stdout/stderr (TensorRT's logger) while the block runs."""
    box: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            yield box
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            tmp.seek(0)
            box.append(tmp.read().decode("utf-8", errors="replace"))


def _last_lines(text: str, n: int = 4) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-n:])


class Registry:
    """The plugin registry of the TensorRT runtime in this process, as the doctor needs it."""

    def __init__(self, trt: Any) -> None:
        self.trt = trt
        self.registry = trt.get_plugin_registry()

    @property
    def runtime_name(self) -> str:
        return f"{self.trt.__name__} {getattr(self.trt, '__version__', '?')}"

    def creators(self) -> list[CreatorRef]:
        out = []
        for c in self.registry.all_creators:
            out.append(CreatorRef(c.name, c.plugin_version, c.plugin_namespace, type(c).__name__, c))
        return out

    def find(self, name: str, version: str, namespace: str) -> Optional[CreatorRef]:
        with captured_output():  # a failed lookup logs an error we report ourselves
            c = self.registry.get_creator(name, version, namespace)
        if c is None:
            return None
        return CreatorRef(c.name, c.plugin_version, c.plugin_namespace, type(c).__name__, c)

    def fields(self, creator: CreatorRef) -> list[tuple[str, str, int]]:
        """The creator's declared fields: (name, dtype name, declared length; 0 = any)."""
        with captured_output():
            collection = creator.handle.field_names
        out = []
        for f in collection:
            type_name = getattr(f.type, "name", str(f.type)).split(".")[-1]
            out.append((f.name, _FIELD_TYPE_NAMES.get(type_name, type_name.lower()), int(f.size)))
        return out

    def create(
        self, creator: CreatorRef, plugin_name: str, fields: Sequence[tuple[str, str, bytes, int]]
    ) -> tuple[str, Any]:
        """Calls createPlugin with these fields: ("", plugin) on success, else (the reason, None)."""
        import numpy as np

        trt = self.trt
        keep = []
        plugin_fields = []
        for name, dtype, data, length in fields:
            if dtype not in _NUMPY_OF_FIELD:
                return f"field {name!r}: no PluginField type for {dtype!r}", None
            np_type, field_type = _NUMPY_OF_FIELD[dtype]
            array = np.frombuffer(bytes(data), dtype=np_type).copy()
            if array.size != length:
                return f"field {name!r}: {len(data)} bytes of {dtype} do not make {length} elements", None
            keep.append(array)
            plugin_fields.append(trt.PluginField(name, array, getattr(trt.PluginFieldType, field_type)))
        collection = trt.PluginFieldCollection(plugin_fields)
        plugin = None
        error = ""
        with captured_output() as log:
            try:
                if creator.interface.startswith("IPluginCreatorV3"):
                    plugin = creator.handle.create_plugin(plugin_name, collection, trt.TensorRTPhase.BUILD)
                else:
                    plugin = creator.handle.create_plugin(plugin_name, collection)
            except Exception as e:  # the bindings raise for some failures, return None for others
                error = f"{type(e).__name__}: {e}"
        if plugin is not None and not error:
            return "", plugin
        message = _last_lines(log[0]) if log and log[0].strip() else ""
        return error or message or "createPlugin returned null (TensorRT logged no reason)", None


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions counted as one edit (optimal string alignment)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _close_enough(a: str, b: str) -> bool:
    """Names close enough to be a probable typo of each other (case-insensitive)."""
    limit = 1 if min(len(a), len(b)) <= 4 else 2 if min(len(a), len(b)) <= 10 else 3
    return _edit_distance(a.lower(), b.lower()) <= limit


def near_misses(op_type: str, version: str, namespace: str, creators: Sequence[CreatorRef]) -> list[str]:
    """Creators the node probably meant: same name with another version/namespace, or a close spelling."""
    out = []
    for c in creators:
        if (c.name, c.version, c.namespace) == (op_type, version, namespace):
            continue
        label = f"{c.name} (version {c.version!r}, namespace {c.namespace!r}, {c.interface})"
        if c.name == op_type:
            diffs = []
            if c.version != version:
                diffs.append(f"set plugin_version={c.version!r}")
            if c.namespace != namespace:
                diffs.append(f"set plugin_namespace={c.namespace!r}")
            out.append(f"{label}: same name; {', '.join(diffs)}")
        elif c.name.lower() == op_type.lower():
            out.append(f"{label}: differs only in case (the lookup is case-sensitive)")
        elif _close_enough(c.name, op_type):
            out.append(f"{label}: similar name")
    return out


# ---------------------------------------------------------------------------------------------------------
# Loading the runtime and libraries

_LOADED_LIBRARIES: dict[str, Any] = {}


def _mapped_in_process(path: str) -> bool:
    """True when the shared object at ``path`` is mapped into this process already (Linux)."""
    try:
        with open("/proc/self/maps") as maps:
            return any(line.rstrip().endswith(path) for line in maps)
    except OSError:
        return False


def _exports(path: str, symbol: str) -> bool:
    """True when the (already mapped) shared object exports ``symbol``."""
    import ctypes

    try:
        return hasattr(ctypes.CDLL(path), symbol)
    except OSError:
        return False


def open_runtime(libraries: Sequence[str], load_kit: bool = True) -> tuple[Registry, list[dict[str, Any]]]:
    """Imports the TensorRT runtime, loads the kit's plugin library (if built) and ``libraries``.

    Raises DoctorError when there is no runtime or a given library is missing or does not load; the kit's
    own library failing to load is reported in the returned list (the check can still run on the others)."""
    from trtkit import _library  # outside the try: a broken kit install is not "no runtime"

    try:
        trt = _library.tensorrt_runtime()
    except ImportError as e:
        raise DoctorError(
            f"no TensorRT runtime: {e} (`trtkit doctor --static` runs the checks that need none)"
        ) from None
    registry = Registry(trt)
    loaded: list[dict[str, Any]] = []
    kit_path = None
    if load_kit:
        try:
            kit_path = str(_library.library_path())
        except Exception:
            kit_path = None
        try:
            if "kit" not in _LOADED_LIBRARIES:
                with captured_output() as log:
                    _LOADED_LIBRARIES["kit"] = _library.load()
            loaded.append({"path": kit_path, "role": "kit", "loaded": True, "message": ""})
        except Exception as e:
            loaded.append({"path": kit_path, "role": "kit", "loaded": False, "message": str(e)})
    for lib in libraries:
        p = Path(lib)
        if not p.exists():
            error = DoctorError(f"plugin library not found: {p}")
            error.runtime = registry.runtime_name
            raise error
        key = str(p.resolve())
        if kit_path and key == str(Path(kit_path).resolve()) and "kit" in _LOADED_LIBRARIES:
            continue  # the kit's own library: loaded above (loading it twice fails)
        already = getattr(_library, "_loaded", {})  # registered by trtkit.load(extra_libraries=...)
        if key in already:
            _LOADED_LIBRARIES[key] = already[key]
        if key not in _LOADED_LIBRARIES:
            with captured_output() as log:
                try:
                    handle = registry.registry.load_library(key)
                except Exception as e:
                    handle, log = None, [f"{type(e).__name__}: {e}"]
            if handle is None and _mapped_in_process(key) and _exports(key, "getCreators"):
                # Loaded before by other code in this process (a plugin package's load(), say): TensorRT
                # refuses a second registration, and its creators are in the registry already.
                loaded.append({"path": key, "role": "user", "loaded": True, "message": "loaded already"})
                _LOADED_LIBRARIES[key] = "loaded elsewhere in this process"
                continue
            if handle is None:
                why = _last_lines(log[0]) if log and log[0].strip() else "TensorRT gave no reason"
                error = DoctorError(
                    f"plugin library {p} could not be loaded into {registry.runtime_name}: {why}. A TensorRT "
                    "plugin library must export getCreators (or getPluginCreators) and setLoggerFinder, be "
                    "built against this TensorRT major version, and not repeat creators loaded already."
                )
                error.runtime = registry.runtime_name
                raise error
            _LOADED_LIBRARIES[key] = handle
        loaded.append({"path": key, "role": "user", "loaded": True, "message": ""})
    return registry, loaded


# ---------------------------------------------------------------------------------------------------------
# The checks


def _declared_attrs(node: Any) -> dict[str, Any]:
    return {a.name: a for a in node.attribute if a.name not in RESERVED_ATTRS}


def check_node(
    site: _Site,
    model: Any,
    registry: Optional[Registry],
    creators: Sequence[CreatorRef],
    tensors: Optional[dict[str, tuple[Optional[int], Optional[list[Any]]]]] = None,
) -> NodeReport:
    node = site.node
    version, version_problem = _string_attr(node, "plugin_version", "1")
    namespace, namespace_problem = _string_attr(node, "plugin_namespace", "")
    report = NodeReport(node.name, node.op_type, node.domain, site.where, version, namespace)
    for problem in (version_problem, namespace_problem):
        if problem:
            report.add(ERROR, "bad-plugin-attribute", problem)

    if builtins.is_builtin(node.op_type):
        report.add(
            ERROR,
            "builtin-collision",
            f"TensorRT's ONNX parser imports {node.op_type!r} with its own built-in importer (it dispatches "
            f"on op_type alone, the domain {node.domain!r} is ignored): the plugin is never used. Rename it.",
        )
        return report
    functions = [f for f in model.functions if f.name == node.op_type]
    if functions:
        report.add(
            ERROR,
            "local-function-shadows-plugin",
            f"the model defines a local function {node.op_type!r} (domain {functions[0].domain!r}): the "
            "parser inlines it instead of using the plugin. Strip model.functions before building engines.",
        )
    if node.domain in STANDARD_DOMAINS and not is_standard_op(node):
        report.add(
            WARNING,
            "default-domain",
            f"{node.op_type!r} is in the default ONNX domain but is not an ONNX op: the ONNX checker rejects "
            "the model; give the node a custom domain",
        )
    if is_standard_op(node):
        report.add(
            WARNING,
            "standard-op-without-importer",
            f"standard ONNX op {node.op_type!r} has no TensorRT importer: the parser will look for a plugin "
            "of that name",
        )
    if registry is None:
        return report
    report.checked_with_runtime = True
    creator = registry.find(node.op_type, version, namespace)
    via_domain = False
    if creator is None and node.domain and node.domain != namespace:
        creator = registry.find(node.op_type, version, node.domain)
        via_domain = creator is not None
    if creator is None:
        misses = near_misses(node.op_type, version, namespace, creators)
        hint = (
            ("; near misses: " + "; ".join(misses)) if misses else "; no creator of a similar name is loaded"
        )
        report.add(
            ERROR,
            "creator-not-found",
            f"no plugin creator ({node.op_type!r}, version {version!r}, namespace {namespace!r}) is "
            f"registered with the loaded libraries{hint}",
        )
        return report
    if via_domain:
        report.add(
            WARNING,
            "creator-found-via-domain",
            f"the creator is found only with the node's domain {node.domain!r} as namespace: onnx-tensorrt "
            f"after 10.1 retries with the domain, older parsers do not; set plugin_namespace={node.domain!r}",
        )
    _check_fields(report, node, creator, registry, tensors)
    return report


def _check_fields(
    report: NodeReport,
    node: Any,
    creator: CreatorRef,
    registry: Registry,
    tensors: Optional[dict[str, tuple[Optional[int], Optional[list[Any]]]]] = None,
) -> None:
    import onnx

    try:
        declared = registry.fields(creator)
    except Exception as e:
        report.add(ERROR, "creator-fields-failed", f"reading the creator's field names failed: {e}")
        return
    report.creator = {
        "name": creator.name,
        "version": creator.version,
        "namespace": creator.namespace,
        "interface": creator.interface,
        "fields": [{"name": n, "type": t, "length": s} for n, t, s in declared],
    }
    attrs = _declared_attrs(node)
    declared_names = [n for n, _, _ in declared]
    parser_ok = True
    for name, dtype, size in declared:
        if name not in attrs:
            report.add(
                WARNING,
                "missing-attribute",
                f"field {name!r} ({dtype}) is not an attribute of the node: the parser passes nothing and "
                "the creator's default applies (or creation fails if it is required)",
            )
            continue
        conv = parser_conversion(attrs[name])
        if conv.problem:
            parser_ok = False
            report.add(ERROR, "unsupported-attribute-type", f"attribute {name!r}: {conv.problem}")
            continue
        if conv.note:
            report.add(WARNING, "attribute-truncated", f"attribute {name!r}: {conv.note}")
        severity, why = compare_field_type(dtype, conv.dtype or "?")
        if severity:
            kind = onnx.AttributeProto.AttributeType.Name(attrs[name].type)
            report.add(severity, "attribute-type-mismatch", f"attribute {name!r} ({kind}): {why}")
        if severity != ERROR and size > 0 and conv.length != size and dtype != "char":
            report.add(
                ERROR,
                "attribute-length-mismatch",
                f"attribute {name!r}: the creator declares {size} value(s), the node gives {conv.length}",
            )
    for name in attrs:
        if name not in declared_names:
            close = [d for d in declared_names if _close_enough(d, name)]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            report.add(
                WARNING,
                "extra-attribute",
                f"attribute {name!r} is not a field of the creator: the parser ignores it{hint}",
            )
    _check_shape_input_indices(report, node, creator)
    if parser_ok:
        _check_creation(report, node, creator, registry, declared_names, tensors)


def _check_shape_input_indices(report: NodeReport, node: Any, creator: CreatorRef) -> None:
    import onnx

    for a in node.attribute:
        if a.name != "tensorrt_plugin_shape_input_indices":
            continue
        if not creator.interface.startswith("IPluginCreatorV3"):
            report.add(
                WARNING,
                "shape-inputs-ignored",
                "tensorrt_plugin_shape_input_indices is ignored for V2 plugins",
            )
        elif a.type != onnx.AttributeProto.INTS:
            report.add(ERROR, "shape-inputs-type", "tensorrt_plugin_shape_input_indices must be INTS")
        else:
            n = len(node.input)
            bad = [i for i in a.ints if not -n <= i < n]
            if bad:
                report.add(
                    ERROR, "shape-inputs-range", f"shape input indices {bad} are out of range for {n} inputs"
                )


def _check_creation(
    report: NodeReport,
    node: Any,
    creator: CreatorRef,
    registry: Registry,
    declared: Sequence[str],
    tensors: Optional[dict[str, tuple[Optional[int], Optional[list[Any]]]]] = None,
) -> None:
    if creator.interface not in ("IPluginCreator", "IPluginCreatorV3One"):
        # e.g. IPluginCreatorV3Quick (Python-defined plugins): created through another signature
        report.add(
            INFO, "creation-check-skipped", f"createPlugin is not tried for {creator.interface} creators"
        )
        return
    try:
        from trtkit import parser_fields
    except ImportError as e:
        report.add(INFO, "creation-check-skipped", f"trtkit.parser_fields is not available ({e})")
        return
    try:
        fields = parser_fields.fields_from_node(node, list(declared))
    except Exception as e:
        report.add(ERROR, "parser-conversion-failed", f"the parser's conversion of the attributes fails: {e}")
        return
    why, plugin = registry.create(creator, node.name or node.op_type, fields)
    if why:
        report.add(ERROR, "create-plugin-failed", f"createPlugin with the parser's fields failed: {why}")
        return
    report.add(INFO, "create-plugin-ok", "createPlugin succeeds with exactly the fields the parser passes")
    if tensors is not None:
        check_io(report, node, creator, plugin, tensors, registry)


def diagnose(
    model_path: str, libraries: Sequence[str] = (), *, load_kit: bool = True, use_runtime: bool = True
) -> Report:
    """Runs every check; raises DoctorError only when the model cannot be read. ``use_runtime=False`` runs
    the checks that need no TensorRT (built-in collisions, local functions, domains) and skips the rest."""
    model = load_model(model_path)
    report = Report(str(model_path), None, [], [])
    registry: Optional[Registry] = None
    if not use_runtime:
        report.findings.append(
            Finding(INFO, "static-only", "TensorRT runtime not used: creator checks skipped")
        )
    try:
        if not use_runtime:
            raise _StaticOnly
        registry, loaded = open_runtime(libraries, load_kit=load_kit)
        report.runtime = registry.runtime_name
        report.libraries = loaded
        for lib in loaded:
            if not lib["loaded"]:
                report.findings.append(
                    Finding(
                        WARNING,
                        "kit-library-not-loaded",
                        f"the kit's plugin library is not loaded: {lib['message']}",
                    )
                )
    except _StaticOnly:
        registry = None
    except DoctorError as e:
        text = str(e)
        code = "no-tensorrt-runtime"
        if text.startswith("plugin library not found"):
            code = "library-not-found"
        elif text.startswith("plugin library"):
            code = "library-not-loaded"
        report.findings.append(Finding(ERROR, code, text))
        report.runtime = e.runtime
        registry = None
    creators = registry.creators() if registry is not None else []
    tensors = tensor_table(model) if registry is not None else None
    for site in _sites(model):
        if is_standard_op(site.node) and builtins.is_builtin(site.node.op_type):
            continue
        report.nodes.append(check_node(site, model, registry, creators, tensors))
    if not report.nodes:
        report.findings.append(
            Finding(INFO, "no-custom-nodes", "the model has no custom (non-standard) nodes")
        )
    return report


# ---------------------------------------------------------------------------------------------------------
# The plugin against the node's tensors (through the C++ harness, as TensorRT's builder would call it)

_ELEM_DTYPES = {
    1: "float32",
    10: "float16",
    16: "bfloat16",
    3: "int8",
    6: "int32",
    7: "int64",
    9: "bool",
    2: "uint8",
}


def tensor_table(model: Any) -> dict[str, tuple[Optional[int], Optional[list[Any]]]]:
    """name -> (ONNX element type or None, shape as ints/None per dim, or None): what the model says, plus
    what ONNX shape inference adds (custom ops without a registered schema stay unknown)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:
        inferred = model
    table: dict[str, tuple[Optional[int], Optional[list[Any]]]] = {}
    for m in (model, inferred):
        g = m.graph
        for init in g.initializer:
            table.setdefault(init.name, (init.data_type, list(init.dims)))
        for vi in [*g.input, *g.output, *g.value_info]:
            t = vi.type.tensor_type
            if not vi.type.HasField("tensor_type") or vi.name in table:
                continue
            shape = None
            if t.HasField("shape"):
                shape = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
            table[vi.name] = (t.elem_type or None, shape)
    return table


def _harness(registry: Registry) -> tuple[Any, str]:
    """trtkit's C++ plugin harness when it matches the runtime's major version, else (None, why not)."""
    try:
        from trtkit import _trt_harness as harness
    except ImportError as e:
        return None, f"trtkit's plugin harness is not built ({e})"
    runtime_major = str(getattr(registry.trt, "__version__", "")).split(".")[0]
    if str(harness.TENSORRT_MAJOR) != runtime_major:
        return (
            None,
            f"the harness is built for TensorRT {harness.TENSORRT_MAJOR}, the runtime is {runtime_major}",
        )
    return harness, ""


def check_io(
    report: NodeReport,
    node: Any,
    creator: CreatorRef,
    plugin: Any,
    tensors: dict[str, tuple[Optional[int], Optional[list[Any]]]],
    registry: Registry,
) -> None:
    """Output count, dtypes (supportsFormatCombination, getOutputDataTypes) and static output shapes of the
    created plugin against the tensors the model gives the node."""
    harness, why = _harness(registry)
    v3 = creator.interface.startswith("IPluginCreatorV3")
    if harness is None:
        report.add(INFO, "io-check-skipped", why)
        return
    if not v3 and creator.namespace != "trtkit":
        # The harness drives IPluginV2DynamicExt; another library's V2 creator may make plain IPluginV2s.
        report.add(
            INFO, "io-check-skipped", "tensor checks run for IPluginV3 and trtkit-made V2 plugins only"
        )
        return
    before = len(report.findings)
    with captured_output() as log:
        try:
            p = harness.PluginV3(plugin) if v3 else harness.PluginV2(plugin)
            _io_findings(report, node, p, v3, tensors)
        except Exception as e:
            report.add(WARNING, "io-check-failed", f"driving the plugin through the harness failed: {e}")
    said = _last_lines(log[0], 3) if log and log[0].strip() else ""
    errors = [f for f in report.findings[before:] if f.severity == ERROR]
    if said and errors:
        errors[-1].message += f"; the plugin says: {said}"


def _io_findings(
    report: NodeReport,
    node: Any,
    p: Any,
    v3: bool,
    tensors: dict[str, tuple[Optional[int], Optional[list[Any]]]],
) -> None:
    nb = p.get_nb_outputs()
    outputs = [o for o in node.output]
    if len(outputs) > nb:
        report.add(ERROR, "output-count", f"the node has {len(outputs)} outputs, the plugin produces {nb}")
        return
    if len(outputs) < nb:
        report.add(
            WARNING, "output-count", f"the plugin produces {nb} outputs, the node names {len(outputs)}"
        )
    inputs = list(node.input)
    if any(not name for name in inputs):
        return  # absent optional inputs: the plugin sees them as null tensors; nothing to compare
    known = [tensors.get(name, (None, None)) for name in inputs]
    elem = [k[0] for k in known]
    if all(e is not None for e in elem):
        unsupported = [(name, e) for name, e in zip(inputs, elem) if e not in _ELEM_DTYPES]
        if unsupported:
            import onnx

            names = ", ".join(f"{n} ({onnx.TensorProto.DataType.Name(e)})" for n, e in unsupported)
            report.add(ERROR, "tensor-dtype", f"TensorRT has no tensors of these types: {names}")
            return
        in_types = [_ELEM_DTYPES[e] for e in elem]
        if v3:
            status, out_types = p.get_output_data_types(in_types)
            if status != 0:
                report.add(
                    ERROR, "output-dtypes", f"getOutputDataTypes fails for inputs ({', '.join(in_types)})"
                )
                return
        else:
            out_types = [p.get_output_data_type(i, in_types) for i in range(nb)]
        types = [*in_types, *out_types]
        refused = [
            pos
            for pos in range(len(types))
            if not p.supports_format_combination(pos, types, nb_inputs=len(in_types))
        ]
        if refused:
            report.add(
                WARNING,
                "dtype-unsupported",
                f"the plugin does not take ({', '.join(in_types)}) -> ({', '.join(out_types)}) (refused at "
                f"position(s) {refused}): TensorRT inserts casts where the network is not strongly typed and "
                "fails where it is",
            )
        if not refused:
            report.add(
                INFO, "io-dtypes-ok", f"the plugin takes ({', '.join(in_types)}) -> ({', '.join(out_types)})"
            )
        for name, dtype in zip(outputs, out_types):
            said = tensors.get(name, (None, None))[0]
            if said is not None and _ELEM_DTYPES.get(said) not in (None, dtype):
                report.add(
                    WARNING,
                    "output-dtype-mismatch",
                    f"output {name!r} is {_ELEM_DTYPES.get(said)} in the model, the plugin makes {dtype}",
                )
    shapes = [k[1] for k in known]
    if not all(s is not None and all(isinstance(d, int) and d > 0 for d in s) for s in shapes):
        report.add(
            INFO, "io-shapes-skipped", "output shapes not checked: the input shapes are not all static"
        )
    else:
        if v3:
            status, got, _ = p.get_output_shapes(shapes)
            if status != 0 or got is None:
                report.add(ERROR, "output-shapes", f"getOutputShapes fails for input shapes {shapes}")
                return
        else:  # (dims or None when the plugin failed, number of expression operations)
            got = [p.get_output_dimensions(i, shapes)[0] for i in range(nb)]
            if any(g is None for g in got):
                report.add(ERROR, "output-shapes", f"getOutputDimensions fails for input shapes {shapes}")
                return
        for name, shape in zip(outputs, got):
            said = tensors.get(name, (None, None))[1]
            if said is not None and len(said) == len(shape):
                if any(a is not None and a != b for a, b in zip(said, shape)):
                    report.add(
                        WARNING,
                        "output-shape-mismatch",
                        f"output {name!r} is {said} in the model, the plugin computes {list(shape)}",
                    )
            elif said is not None:
                report.add(
                    WARNING,
                    "output-shape-mismatch",
                    f"output {name!r} has rank {len(said)} in the model, the plugin computes {list(shape)}",
                )
        report.add(
            INFO, "io-shapes", f"the plugin's output shapes for inputs {shapes}: {[list(s) for s in got]}"
        )


# ---------------------------------------------------------------------------------------------------------
# Output


def format_table(report: Report) -> str:
    lines = [f"trtkit doctor: {report.model}"]
    lines.append(f"  runtime:   {report.runtime or 'none'}")
    for lib in report.libraries:
        state = "loaded" if lib["loaded"] else f"NOT loaded ({lib['message']})"
        lines.append(f"  library:   {lib['path']} [{lib['role']}] {state}")
    for f in report.findings:
        lines.append(f"  {f.severity.upper():7s}  {f.message}")
    if report.nodes:
        head = ("NODE", "OP_TYPE", "DOMAIN", "VERSION", "NAMESPACE", "CREATOR", "STATUS")
        rows = []
        for n in report.nodes:
            c = n.creator
            creator = f"{c['interface']} [{', '.join(f['name'] for f in c['fields'])}]" if c else "-"
            rows.append(
                (
                    n.name or "-",
                    n.op_type,
                    n.domain or '""',
                    n.plugin_version,
                    n.plugin_namespace or '""',
                    creator,
                    n.status,
                )
            )
        widths = [min(40, max(len(str(r[i])) for r in [head, *rows])) for i in range(len(head))]
        lines.append("")
        lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
        for n, row in zip(report.nodes, rows):
            lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
            if n.where != "graph":
                lines.append(f"    in {n.where}")
            for f in n.findings:
                lines.append(f"    {f.severity.upper():7s} [{f.code}] {f.message}")
    lines.append("")
    errors, warnings = report.count(ERROR), report.count(WARNING)
    lines.append(f"{len(report.nodes)} custom node(s), {errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)


def add_parser(subparsers: Any) -> None:
    """Registers ``trtkit doctor`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "doctor",
        help="check that TensorRT's ONNX parser maps a model's custom nodes onto loadable plugins",
        description="Will TensorRT's ONNX parser map this model's custom nodes onto plugins it can create? "
        "Loads the kit's plugin library and --lib libraries into the installed TensorRT runtime and replays "
        "the parser for every non-standard node.",
        epilog="exit status: 0 no errors, 1 problems found, 2 the check could not run",
    )
    p.add_argument("model", help="the ONNX model")
    p.add_argument(
        "--lib", action="append", default=[], metavar="PATH", help="extra plugin library (repeatable)"
    )
    p.add_argument("--no-kit", action="store_true", help="do not load the kit's own plugin library")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--strict", action="store_true", help="warnings count as problems too (exit status 1)")
    p.add_argument(
        "--static",
        action="store_true",
        help="no TensorRT runtime: only check built-in name collisions, local functions and domains",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        report = diagnose(args.model, args.lib, load_kit=not args.no_kit, use_runtime=not args.static)
    except DoctorError as e:
        if args.json:
            print(json.dumps({"model": args.model, "error": str(e)}))
        else:
            print(f"trtkit doctor: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_json(), indent=2) if args.json else format_table(report))
    return report.exit_code(strict=args.strict)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="trtkit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
