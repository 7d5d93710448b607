"""``trtkit new NAME``: generate a plugin package of your own, built against the installed kit.

The generated op is small but real — ``outputs[j] = (j + 1) * alpha * (sum of the inputs)`` elementwise —
so the package compiles, exports, loads into TensorRT's registry and passes its generated tests before you
change a line. Then edit the kernel, the layer and the PyTorch reference (see "Your own plugin in ten
minutes" in the README).

Default: a standalone package in ``./NAME-plugin`` (outside the kit's tree) with pyproject.toml and a
CMakeLists.txt that uses ``find_package(trtkit)`` + ``trtkit_add_plugins(...)``; build it with
``pip install --no-build-isolation .``. ``--in-kit`` writes into the kit's own ``plugins/``,
``python/trtkit/ops/`` and ``tests/`` instead (for the kit's developers).
"""

from __future__ import annotations

import argparse
import builtins as _python_builtins
import json
import keyword
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from trtkit import _onnx_trt_builtins as builtins

ATTR_TYPES = ("int", "ints", "float", "floats", "string")
RESERVED_ATTRS = ("plugin_version", "plugin_namespace", "tensorrt_plugin_shape_input_indices")
MAX_TENSORS = 8
TEMPLATES = Path(__file__).resolve().parent / "templates" / "plugin"

# Names the generated code cannot take: C++ keywords and alternative tokens, torch schema type words, and
# identifiers the generated files use themselves.
_CPP_KEYWORDS = frozenset(
    """alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
    char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
    co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
    extern false float for friend goto if inline int long mutable namespace new noexcept not not_eq
    nullptr operator or or_eq private protected public register reinterpret_cast requires return
    short signed sizeof static static_assert static_cast struct switch template this thread_local
    throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t while
    xor xor_eq""".split()
)
_SCHEMA_WORDS = frozenset({"Tensor", "Scalar", "str", "bool", "int", "float", "None", "self", "out"})
_GENERATED_NAMES = frozenset({"compute", "total", "outputs", "torch", "Any", "Optional", "Sequence"})
# Names the generated class (C++ and Python), module and function would shadow: the kit's C++ types, the
# names the generated Python imports, and Python's builtins the generated code calls.
_TAKEN_CLASS_NAMES = frozenset(
    {"Layer", "LayerSchema", "LayerConfig", "LayerEntry", "LayerRegistry", "Expr", "ExprDims", "GTensor",
     "Span", "DType", "TensorDesc", "Weight", "AttrSpec", "AttrValue", "AttrType", "Error", "Format",
     "IOType", "Attr", "OpSpec", "Shape", "TensorArg", "Any", "Optional", "Sequence", "Path"}
)  # fmt: skip
_TAKEN_MODULE_NAMES = frozenset(
    {
        "torch",
        "onnx",
        "pytest",
        "trtkit",
        "numpy",
        "ops",
        "typing",
        "collections",
        "pathlib",
        "plugins",
        "tests",
    }
    | {n for n in dir(_python_builtins) if not n.startswith("_")}
)


class NewError(ValueError):
    """Bad input to ``trtkit new``; the message names the problem."""


# ---------------------------------------------------------------------------------------------------------
# Attributes


@dataclass(frozen=True)
class AttrDecl:
    name: str
    type: str
    default: Any  # int, list[int], float, list[float] or str
    doc: str

    def cpp(self) -> str:
        d = self.default
        doc = "kDeclared" if self.doc == DECLARED_DOC else _cpp_string(self.doc)
        if self.type == "int":
            return f'intAttr("{self.name}", {d}, {doc})'
        if self.type == "ints":
            return f'intsAttr("{self.name}", {{{", ".join(str(v) for v in d)}}}, {doc})'
        if self.type == "float":
            return f'floatAttr("{self.name}", {_cpp_float(d)}, {doc})'
        if self.type == "floats":
            return f'floatsAttr("{self.name}", {{{", ".join(_cpp_float(v) for v in d)}}}, {doc})'
        return f'stringAttr("{self.name}", {_cpp_string(d)}, {doc})'

    def py_default(self) -> str:
        if self.type in ("ints", "floats"):
            values = [repr(v) for v in self.default]
            return "(" + values[0] + ",)" if len(values) == 1 else "(" + ", ".join(values) + ")"
        return _q(self.default) if self.type == "string" else repr(self.default)

    def py_decl(self) -> str:
        doc = "_DECLARED" if self.doc == DECLARED_DOC else _q(self.doc)
        return f"Attr({_q(self.name)}, {_q(self.type)}, {self.py_default()}, {doc})"

    def py_param(self) -> str:
        annotation = {"int": "int", "ints": "Sequence[int]", "float": "float", "floats": "Sequence[float]"}
        return f"{self.name}: {annotation.get(self.type, 'str')} = {self.py_default()}"

    def py_call(self) -> str:
        if self.type == "ints":
            return f"{self.name}=[int(v) for v in {self.name}]"
        if self.type == "floats":
            return f"{self.name}=[float(v) for v in {self.name}]"
        cast = {"int": "int", "float": "float", "string": "str"}[self.type]
        return f"{self.name}={cast}({self.name})"

    def readme(self) -> str:
        shown = json.dumps(list(self.default) if self.type in ("ints", "floats") else self.default)
        return f"| `{self.name}` | {self.type} | `{shown}` | {self.doc} |"


def _cpp_float(v: float) -> str:
    text = repr(float(v))
    return (text if any(c in text for c in ".e") else text + ".0") + "f"


def _cpp_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _q(text: str) -> str:
    """A double-quoted Python string literal (the style ruff format keeps)."""
    return json.dumps(text)


def _py_def(name: str, params: Sequence[str], returns: str, indent: str = "") -> str:
    """A def line, exploded one parameter per line with a trailing comma (stable under ruff format)."""
    inner = indent + "    "
    body = "".join(f"{inner}{p},\n" for p in params)
    return f"{indent}def {name}(\n{body}{indent}) -> {returns}:"


def _py_list(items: Sequence[str], indent: str, width: int = 110) -> str:
    """``[a, b]`` when it fits on the line, else one item per line with a trailing comma."""
    flat = "[" + ", ".join(items) + "]"
    if len(indent) + len(flat) + 20 <= width:
        return flat
    inner = indent + "    "
    return "[\n" + "".join(f"{inner}{i},\n" for i in items) + f"{indent}]"


DECLARED_DOC = "declared with --attr: in the schema and both exporters, not used by the generated math yet"
ALPHA = AttrDecl("alpha", "float", 1.0, "scale of the sum (the generated op's own attribute)")


def _check_identifier(name: str, what: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise NewError(
            f"{what} {name!r} must be an identifier: letters, digits and '_', not starting with a digit"
        )
    if keyword.iskeyword(name) or name in _CPP_KEYWORDS:
        raise NewError(f"{what} {name!r} is a C++ or Python keyword")
    if name.startswith("__") or "__" in name or re.match(r"_[A-Z]", name):
        raise NewError(f"{what} {name!r} is reserved in C++ (double underscore, or underscore + capital)")


def _parse_number(text: str, kind: str, where: str) -> Any:
    try:
        value = int(text, 0) if kind == "int" else float(text)
    except ValueError:
        raise NewError(f"{where}: {text!r} is not a{'n' if kind == 'int' else ''} {kind}") from None
    if kind == "int" and not -(2**31) <= value < 2**31:
        raise NewError(f"{where}: {value} does not fit int32 (TensorRT passes ints as int32)")
    if kind == "float" and not math.isfinite(value):
        raise NewError(f"{where}: the default must be a finite number, got {text!r}")
    return value


def parse_attr(spec: str) -> AttrDecl:
    """Parses ``name:type[=default]`` (types: int, ints, float, floats, string; lists comma-separated,
    optionally in brackets). Without ``=default`` the default is 0, [], 0.0, [] or ""."""
    head, has_default, default_text = spec.partition("=")
    name, colon, kind = head.partition(":")
    name, kind = name.strip(), kind.strip()
    where = f"--attr {spec!r}"
    if not colon or not name or not kind:
        raise NewError(f"{where}: expected name:type=default, e.g. scale:float=0.5 or axes:ints=1,2")
    if kind not in ATTR_TYPES:
        raise NewError(f"{where}: type {kind!r} is not one of {', '.join(ATTR_TYPES)}")
    _check_identifier(name, "attribute name")
    if name in RESERVED_ATTRS:
        raise NewError(f"{where}: {name!r} is reserved: TensorRT's ONNX parser reads it itself")
    if name in _SCHEMA_WORDS or name in _GENERATED_NAMES:
        raise NewError(f"{where}: {name!r} clashes with a name of the generated code; pick another")
    if kind == "string":
        text = default_text if has_default else ""
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            text = text[1:-1]
        bad = [c for c in text if c in '"\\' or not c.isprintable()]
        if bad:
            raise NewError(f"{where}: the default must not contain quotes, backslashes or control characters")
        return AttrDecl(name, kind, text, "")
    if kind in ("int", "float"):
        if not has_default or not default_text.strip():
            return AttrDecl(name, kind, 0 if kind == "int" else 0.0, "")
        return AttrDecl(name, kind, _parse_number(default_text.strip(), kind, where), "")
    text = default_text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    items = [t.strip() for t in text.split(",")] if text.strip() else []
    if any(not t for t in items):
        raise NewError(f"{where}: empty element in the list {default_text!r}")
    return AttrDecl(name, kind, [_parse_number(t, kind[:-1], where) for t in items], "")


# ---------------------------------------------------------------------------------------------------------
# The plan


def snake_case(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return re.sub(r"_+", "_", s).strip("_").lower() or "op"


def camel_case(name: str) -> str:
    parts = [p for p in name.split("_") if p]
    if len(parts) > 1 or name.islower() or name.isupper():
        return "".join(p[:1].upper() + p[1:].lower() for p in parts)
    return name[:1].upper() + name[1:]


def kit_layer_names() -> Optional[list[str]]:
    """The kit's compiled plugins (trtkit._C.layer_names()), or None when the module is not built."""
    try:
        from trtkit import _C
    except ImportError:
        return None
    return list(_C.layer_names())


def validate_name(name: str, existing: Optional[Sequence[str]] = None) -> None:
    _check_identifier(name, "NAME")
    builtin = builtins.builtin_case_insensitive(name)
    if builtin is not None:
        raise NewError(
            f"NAME {name!r}: TensorRT's ONNX parser imports {builtin!r} natively (dispatching on op_type "
            "alone, ignoring the domain), so a plugin of that name would never be used; pick another name"
        )
    for other in existing or ():
        if other.lower() == name.lower() or snake_case(other) == snake_case(name):
            raise NewError(f"NAME {name!r}: the kit already has a plugin {other!r}; pick another name")


@dataclass
class Plan:
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: list[AttrDecl]
    target: Path
    in_kit: bool

    @property
    def snake(self) -> str:
        return snake_case(self.name)

    @property
    def pkg(self) -> str:
        return f"{self.snake}_plugins"

    @property
    def cls(self) -> str:
        return camel_case(self.name)

    def files(self) -> dict[str, str]:
        """Template (relative to templates/plugin) -> output path (relative to the target)."""
        s = self.snake
        plugin = {
            "plugins/op/op.cpp.tmpl": f"plugins/{s}/{s}.cpp",
            "plugins/op/op_kernel.cu.tmpl": f"plugins/{s}/{s}_kernel.cu",
            "plugins/op/op_kernel.cuh.tmpl": f"plugins/{s}/{s}_kernel.cuh",
            "plugins/op/README.md.tmpl": f"plugins/{s}/README.md",
            "tests/cpu/test_op.py.tmpl": f"tests/cpu/test_{s}.py",
            "tests/trt/test_op_trt.py.tmpl": f"tests/trt/test_{s}_trt.py",
            "tests/gpu/test_op_gpu.py.tmpl": f"tests/gpu/test_{s}_gpu.py",
        }
        if self.in_kit:
            plugin["python/pkg/ops.py.tmpl"] = f"python/trtkit/ops/{s}.py"
            return plugin
        plugin.update(
            {
                "pyproject.toml.tmpl": "pyproject.toml",
                "CMakeLists.txt.tmpl": "CMakeLists.txt",
                "README.md.tmpl": "README.md",
                "gitignore.tmpl": ".gitignore",
                "clang-format.tmpl": ".clang-format",
                "python/pkg/__init__.py.tmpl": f"python/{self.pkg}/__init__.py",
                "python/pkg/ops.py.tmpl": f"python/{self.pkg}/ops.py",
            }
        )
        return plugin

    def context(self) -> dict[str, str]:
        n, m = len(self.inputs), len(self.outputs)
        s, cls, pkg, in_kit = self.snake, self.cls, self.pkg, self.in_kit
        const = s.upper()
        first = self.inputs[0]
        ret = "torch.Tensor" if m == 1 else "tuple[torch.Tensor, ...]"
        tensors = [f"{x}: torch.Tensor" for x in self.inputs]
        attr_params = [a.py_param() for a in self.attrs]
        declared = any(a.doc == DECLARED_DOC for a in self.attrs)
        cpp_rows = ["        {" + ", ".join([f"D::k{t}"] * (n + m)) + "}," for t in ("Float32", "Float16")]
        py_rows = ["(" + ", ".join([_q(t)] * (n + m)) + ")" for t in ("float32", "float16")]
        layers = "trtkit" if in_kit else pkg
        ops_module = f"trtkit.ops.{s}" if in_kit else f"{pkg}.ops"
        return {
            "NAME": self.name,
            "snake": s,
            "Class": cls,
            "CONST": const,
            "kernel": cls[:1].lower() + cls[1:] + "Kernel",
            "pkg": pkg,
            "dist": s.replace("_", "-") + "-plugins",
            "doc": f"outputs[j] = (j + 1) * alpha * (sum of the {n} input(s)), elementwise (trtkit new)",
            "num_inputs": str(n),
            "num_outputs": str(m),
            "plugin_dir": f"plugins/{s}",
            "ops_file": f"python/trtkit/ops/{s}.py" if in_kit else f"python/{pkg}/ops.py",
            # C++
            "cpp_declared_doc": f"\nconstexpr const char* kDeclared = {_cpp_string(DECLARED_DOC)};\n"
            if declared
            else "",
            "cpp_inputs": ", ".join(f'"{x}"' for x in self.inputs),
            "cpp_outputs": ", ".join(f'"{y}"' for y in self.outputs),
            "cpp_attrs": "\n".join(f"        {a.cpp()}," for a in self.attrs),
            "cpp_type_rows": "\n".join(cpp_rows),
            # Python op spec
            "py_declared_doc": f"\n_DECLARED = {_q(DECLARED_DOC)}\n" if declared else "",
            "py_reference_def": _py_def(f"{s}_reference", [*tensors, "*", *attr_params], ret),
            "py_op_def": _py_def(s, [*tensors, "*", *attr_params], ret),
            "py_init_def": _py_def("__init__", ["self", "*", *attr_params], "None", "    "),
            "py_forward_def": _py_def("forward", ["self", *tensors], ret, "    "),
            "py_op_call_args": "".join(
                f"        {a},\n" for a in [*self.inputs, *(x.py_call() for x in self.attrs)]
            ).rstrip("\n"),
            "py_attr_dict_items": "\n".join(f"                {_q(a.name)}: {a.name}," for a in self.attrs),
            "py_sum": " + ".join(f"{x}.to(compute)" for x in self.inputs),
            "py_return_outputs": "outputs[0]" if m == 1 else "tuple(outputs)",
            "py_tensor_args": ", ".join(self.inputs),
            "first_input": first,
            "py_inputs": _py_list(
                [f"TensorArg({_q(x)}, {_q(f'input {i}')})" for i, x in enumerate(self.inputs)], "    "
            ),
            "py_outputs": _py_list([_q(y) for y in self.outputs], "    "),
            "py_attrs": "\n".join(f"        {a.py_decl()}," for a in self.attrs),
            "py_type_rows": _py_list(py_rows, "    "),
            # the compiled module the eager CUDA path runs the layer from
            "py_spec_extra": "" if in_kit else f"\n    module={_q(pkg + '._C')},",
            # tests
            "cpu_test_imports": _imports(
                ["onnx", "pytest", "torch", "trtkit"],
                [
                    ("trtkit", "parser_fields"),
                    (layers, "_C"),
                    (ops_module, f"{const}, {cls}, {s}, {s}_reference"),
                ],
            ),
            "gpu_test_imports": _imports(
                ["pytest", "torch"], [(layers, "_C"), (ops_module, f"{s}, {s}_reference")]
            ),
            "trt_test_imports": _imports(
                ["pytest", "trtkit"] + ([] if in_kit else [pkg]), [("trtkit", "doctor, parser_fields")]
            ),
            "ops_module": ops_module,
            "ops_trtkit_sep": "\n" if in_kit else "",
            "trt_load": _TRT_LOAD_KIT if in_kit else _TRT_LOAD_PKG.replace("PKG", pkg),
            "doctor_libs": "[]" if in_kit else f"[str({pkg}.library_path())]",
            # READMEs
            "readme_attrs": "\n".join(a.readme() for a in self.attrs),
            "readme_inputs": ", ".join(f"`{x}`" for x in self.inputs),
            "readme_outputs": ", ".join(f"`{y}`" for y in self.outputs),
            "example_args": ", ".join("torch.randn(2, 3)" for _ in self.inputs) + ("," if n == 1 else ""),
        }


def _imports(plain: Sequence[str], froms: Sequence[tuple[str, str]]) -> str:
    """One third-party import block in the order ruff's isort wants: ``import x`` lines, then ``from``."""
    merged: dict[str, set[str]] = {}
    for module, names in froms:
        merged.setdefault(module, set()).update(n.strip() for n in names.split(","))
    lines = [f"import {m}" for m in sorted(set(plain))]
    lines += [f"from {m} import {', '.join(sorted(merged[m], key=_isort_key))}" for m in sorted(merged)]
    return "\n".join(lines)


def _isort_key(name: str) -> tuple[int, str]:
    """isort's order inside one from-import: CONSTANTS, then Classes, then functions."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name.lower())


_TRT_LOAD_KIT = """    if not trtkit.library_path().is_file():
        pytest.skip(f"trtkit's plugin library is not built: {trtkit.build_info()}")
    trtkit.load()"""

_TRT_LOAD_PKG = """    if not PKG.library_path().is_file():
        pytest.skip(f"{PKG.library_path()} is not built (no TensorRT headers at build time)")
    PKG.load()"""


_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render(text: str, context: dict[str, str], template: str = "<text>") -> str:
    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in context:
            raise KeyError(f"template {template}: no value for {{{{{key}}}}}")
        return context[key]

    return _PLACEHOLDER.sub(substitute, text)


# ---------------------------------------------------------------------------------------------------------
# Where


def kit_source_root() -> Optional[Path]:
    """The kit's source tree when trtkit is imported from one (python/trtkit inside a checkout), else None."""
    import trtkit

    root = Path(trtkit.__file__).resolve().parents[2]
    markers = ("plugins", "csrc/core", "python/trtkit", "CMakeLists.txt")
    return root if all((root / m).exists() for m in markers) else None


def _is_kit_tree(root: Path) -> bool:
    return all((root / m).exists() for m in ("plugins", "csrc/core", "python/trtkit/ops", "CMakeLists.txt"))


def plan(
    name: str,
    inputs: int = 1,
    outputs: int = 1,
    attrs: Sequence[str] = (),
    directory: Optional[str] = None,
    in_kit: bool = False,
    existing: Optional[Sequence[str]] = None,
) -> Plan:
    """Validates everything and decides what goes where; writes nothing."""
    validate_name(name, existing if existing is not None else kit_layer_names())
    for count, what in ((inputs, "--inputs"), (outputs, "--outputs")):
        if not isinstance(count, int) or not 1 <= count <= MAX_TENSORS:
            raise NewError(f"{what} must be an integer in 1..{MAX_TENSORS}, got {count!r}")
    input_names = ["x"] if inputs == 1 else [f"x{i}" for i in range(inputs)]
    output_names = ["y"] if outputs == 1 else [f"y{j}" for j in range(outputs)]
    decls = [ALPHA]
    for spec in attrs:
        decl = parse_attr(spec)
        if decl.name == "alpha":
            if decl.type != "float":
                raise NewError(
                    f"--attr {spec!r}: 'alpha' is the generated op's float scale; pick another name"
                )
            decls[0] = AttrDecl("alpha", "float", decl.default, ALPHA.doc)
            continue
        if decl.name in [d.name for d in decls]:
            raise NewError(f"--attr {spec!r}: attribute {decl.name!r} is given twice")
        if decl.name in input_names + output_names:
            raise NewError(f"--attr {spec!r}: {decl.name!r} is the name of an input or output")
        decls.append(AttrDecl(decl.name, decl.type, decl.default, DECLARED_DOC))
    snake = snake_case(name)
    if keyword.iskeyword(snake) or snake in _CPP_KEYWORDS:
        raise NewError(f"NAME {name!r}: its Python/C++ module name {snake!r} is a keyword")
    if snake in _TAKEN_MODULE_NAMES:
        raise NewError(f"NAME {name!r}: the generated function/module {snake!r} would shadow a Python name")
    if camel_case(name) in _TAKEN_CLASS_NAMES:
        raise NewError(f"NAME {name!r}: the generated class {camel_case(name)!r} would clash with trtkit's")
    kit_root = kit_source_root()
    if in_kit:
        root = Path(directory).resolve() if directory else kit_root
        if root is None:
            raise NewError(
                "--in-kit needs the kit's source tree: run from a checkout (PYTHONPATH=python) or pass "
                "--dir /path/to/trtkit-checkout"
            )
        if not _is_kit_tree(root):
            raise NewError(
                f"--in-kit: {root} is not a trtkit source tree (no plugins/, csrc/core/, python/trtkit/ops/)"
            )
        target = root
    else:
        target = Path(directory or f"{name}-plugin").resolve()
        if kit_root is not None and (target == kit_root or kit_root in target.parents):
            raise NewError(
                f"{target} is inside the kit's source tree {kit_root}: a plugin package of your own belongs "
                "outside it (--dir elsewhere), or use --in-kit to add the op to the kit itself"
            )
    return Plan(name, input_names, output_names, decls, target, in_kit)


def write(p: Plan, force: bool = False) -> list[Path]:
    """Renders the templates into ``p.target``; refuses to overwrite unless ``force``."""
    files = p.files()
    outputs = {p.target / out: TEMPLATES / tmpl for tmpl, out in files.items()}
    if not p.in_kit and p.target.exists() and any(p.target.iterdir()) and not force:
        raise NewError(f"{p.target} exists and is not empty; choose another --dir (or --force to overwrite)")
    clashes = [str(o) for o in outputs if o.exists()]
    if clashes and not force:
        raise NewError("these files exist already (use --force to overwrite): " + ", ".join(clashes))
    missing = [str(t) for t in outputs.values() if not t.is_file()]
    if missing:
        raise NewError(f"trtkit's templates are missing from the installation: {', '.join(missing)}")
    context = p.context()
    written = []
    for out, tmpl in outputs.items():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(tmpl.read_text(), context, str(tmpl.relative_to(TEMPLATES))))
        written.append(out)
    if p.in_kit:
        written.append(_register_in_kit(p, context))
    _format(p, written)
    return written


def _tool(name: str) -> Optional[str]:
    """A formatter next to this Python (a virtual environment's bin/) or on PATH."""
    import shutil

    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def _format(p: Plan, written: Sequence[Path]) -> None:
    """Best effort: clang-format the C++ and ruff-format the Python that was generated (line breaks depend
    on NAME's length); the files are valid either way."""
    import subprocess

    style = p.target / ".clang-format"
    cpp = [str(f) for f in written if f.suffix in (".cpp", ".cu", ".cuh")]
    registration = p.target / "python" / "trtkit" / "ops" / "__init__.py"  # the kit's file: left as it is
    py = [str(f) for f in written if f.suffix == ".py" and not (p.in_kit and f == registration)]
    clang_format, ruff = _tool("clang-format"), _tool("ruff")
    try:
        if clang_format and cpp and style.is_file():
            subprocess.run(
                [clang_format, f"--style=file:{style}", "-i", *cpp], check=False, capture_output=True
            )
        if ruff and py:
            subprocess.run([ruff, "format", *py], check=False, capture_output=True, cwd=p.target)
    except OSError:
        pass


def _register_in_kit(p: Plan, context: dict[str, str]) -> Path:
    """Adds the op to python/trtkit/ops/__init__.py so `import trtkit.ops` registers it (idempotent)."""
    init = p.target / "python" / "trtkit" / "ops" / "__init__.py"
    names = [context["CONST"], context["Class"], context["snake"], f"{context['snake']}_reference"]
    ordered = sorted(names, key=_isort_key)
    first = f"from trtkit.ops.{context['snake']} import (  # noqa: E402 (added by trtkit new)"
    text = init.read_text() if init.exists() else ""
    if first not in text:
        body = "".join(f"    {n},\n" for n in ordered)
        text = text.rstrip("\n") + f"\n\n{first}\n{body})\n\n__all__ += {json.dumps(ordered)}\n"
        init.write_text(text)
    return init


def generate(
    name: str,
    inputs: int = 1,
    outputs: int = 1,
    attrs: Sequence[str] = (),
    directory: Optional[str] = None,
    in_kit: bool = False,
    force: bool = False,
    existing: Optional[Sequence[str]] = None,
) -> tuple[Plan, list[Path]]:
    p = plan(name, inputs, outputs, attrs, directory, in_kit, existing)
    return p, write(p, force)


# ---------------------------------------------------------------------------------------------------------
# CLI


def add_parser(subparsers: Any) -> None:
    """Registers ``trtkit new`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "new",
        help="generate a plugin package of your own (kernel, layer, op spec, tests, build files)",
        description="Generate a plugin package of your own, built against the installed kit: CUDA kernel, "
        "layer, PyTorch op spec, three test tiers, README, pyproject.toml and CMakeLists.txt. The generated "
        "op (outputs[j] = (j + 1) * alpha * sum of the inputs) builds and passes its tests as generated.",
        epilog="exit status: 0 written, 2 invalid NAME/options or an existing target",
    )
    p.add_argument("name", help="plugin name == ONNX op_type (a C++ identifier, e.g. ScaledSum)")
    p.add_argument("--inputs", type=int, default=1, help="number of tensor inputs (1..8, default 1)")
    p.add_argument("--outputs", type=int, default=1, help="number of outputs (1..8, default 1)")
    p.add_argument(
        "--attr",
        action="append",
        default=[],
        metavar="NAME:TYPE=DEFAULT",
        help="extra attribute (repeatable); TYPE: int, ints, float, floats, string; lists comma-separated",
    )
    p.add_argument("--dir", help="where to write (default ./NAME-plugin; with --in-kit: the kit's checkout)")
    p.add_argument("--in-kit", action="store_true", help="add the op to the kit's own tree (kit developers)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        p, written = generate(
            args.name, args.inputs, args.outputs, args.attr, args.dir, args.in_kit, args.force
        )
    except NewError as e:
        print(f"trtkit new: error: {e}", file=sys.stderr)
        return 2
    if kit_layer_names() is None:
        print("trtkit new: note: trtkit._C is not built, so NAME was not checked against the kit's plugins")
    print(f"trtkit new: {p.name} ({len(p.inputs)} input(s), {len(p.outputs)} output(s)) in {p.target}")
    for path in written:
        print(f"  {path.relative_to(p.target)}")
    if p.in_kit:
        print("\nRebuild the kit (cmake --build build/dev) and run: python -m pytest tests -k " + p.snake)
    else:
        print(
            f"\nNext:\n  cd {p.target}\n"
            "  TENSORRT_INCLUDE_DIR=/path/to/TensorRT/include pip install --no-build-isolation .\n"
            "  python -m pytest tests -ra"
        )
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="trtkit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
