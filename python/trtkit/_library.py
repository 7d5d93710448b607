"""Where trtkit's TensorRT plugin library lives, how it was built, and loading it into a TensorRT runtime."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Union

__all__ = ["library_path", "build_info", "tensorrt_runtime", "load"]

_PACKAGE_DIR = Path(__file__).resolve().parent
_LIBRARY_NAME = "libtrtkit_plugins.so"
_REBUILD_HINT = (
    "rebuild trtkit with TensorRT's C++ headers: "
    "TENSORRT_INCLUDE_DIR=/path/to/TensorRT-<major>.x/include pip install --no-build-isolation . "
    "(developer build: cmake ... -DTENSORRT_INCLUDE_DIR=/path/to/include -DTRTKIT_INPLACE=ON)"
)
_RUNTIME_MODULES = ("tensorrt", "tensorrt_lean_bindings", "tensorrt_lean")

# Handles of libraries this process registered, by resolved path: TensorRT refuses a second registration
# of the same creators ("Cannot register the library as plugin creator of X exists already").
_loaded: dict[str, Any] = {}


def library_path() -> Path:
    """The plugin library TensorRT loads (IPluginRegistry::loadLibrary, trtexec --dynamicPlugins)."""
    return _PACKAGE_DIR / "lib" / _LIBRARY_NAME


def build_info() -> dict[str, str]:
    """What the build recorded in trtkit/build_info.txt: tensorrt_major, tensorrt_version,
    adapter_missing_reason (when the plugin library was not built), cuda_architectures."""
    path = _PACKAGE_DIR / "build_info.txt"
    if not path.is_file():
        return {"adapter_missing_reason": f"trtkit's compiled parts were not built ({path} does not exist)"}
    info: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            info[key.strip()] = value.strip()
    return info


def tensorrt_runtime() -> ModuleType:
    """TensorRT's Python module: `tensorrt` (full), else the lean runtime (`tensorrt_lean_bindings`,
    `tensorrt_lean`)."""
    problems = []
    for name in _RUNTIME_MODULES:
        try:
            module = importlib.import_module(name)
        except (
            Exception
        ) as e:  # the PyPI `tensorrt` stub raises more than ImportError when its libs are missing
            problems.append(f"{name}: {type(e).__name__}: {e}")
            continue
        if hasattr(module, "get_plugin_registry"):
            return module
        problems.append(f"{name}: imported but has no get_plugin_registry (not a TensorRT runtime)")
    raise ImportError(
        "No TensorRT Python runtime could be imported. Install the full runtime (`pip install tensorrt`) "
        "or the lean runtime (`pip install tensorrt-lean-cu13-bindings tensorrt-lean-cu13-libs`, or "
        "`pip install 'trtkit[tensorrt-lean]'`). Tried: " + "; ".join(problems)
    )


def _runtime_major(trt: ModuleType) -> int:
    version = str(getattr(trt, "__version__", ""))
    try:
        return int(version.split(".")[0])
    except ValueError as e:
        raise RuntimeError(
            f"cannot read the TensorRT runtime's version from {trt.__name__}.__version__ ({version!r})"
        ) from e


def _check_library(trt: ModuleType) -> Path:
    path = library_path()
    info = build_info()
    if not path.is_file():
        reason = info.get("adapter_missing_reason") or "it is not in the installed package"
        raise RuntimeError(
            f"trtkit's TensorRT plugin library {path} was not built: {reason}. To get it, " + _REBUILD_HINT
        )
    built = info.get("tensorrt_major", "")
    runtime = _runtime_major(trt)
    if not built.isdigit():
        raise RuntimeError(
            f"{path} exists but {_PACKAGE_DIR / 'build_info.txt'} does not say which TensorRT "
            f"it was built for; " + _REBUILD_HINT
        )
    if int(built) != runtime:
        raise RuntimeError(
            f"{path.name} was built against TensorRT {info.get('tensorrt_version', built)} headers, but "
            f"the runtime is TensorRT {trt.__version__} ({trt.__name__}). A plugin library must be built "
            f"for the major version it runs in (TensorRT {built} and {runtime} lay out the plugin "
            f"interfaces differently). To use this runtime, {_REBUILD_HINT.replace('<major>', str(runtime))}"
        )
    return path


def _register(trt: ModuleType, path: Path) -> Any:
    key = str(path.resolve())
    if key in _loaded:
        return _loaded[key]
    handle = trt.get_plugin_registry().load_library(key)
    if handle is None:
        raise RuntimeError(
            f"TensorRT ({trt.__name__} {trt.__version__}) could not load the plugin library {key}; "
            "its log says why (a library needs getCreators and setLoggerFinder, and creators may "
            "not be registered twice)"
        )
    _loaded[key] = handle
    return handle


def load(extra_libraries: Sequence[Union[str, Path]] = ()) -> Any:
    """Registers trtkit's plugin library (then each of `extra_libraries`, e.g. a user's plugin library built
    on the kit) with the TensorRT runtime's plugin registry and returns the handle of trtkit's library.
    Loading again returns the same handle."""
    trt = tensorrt_runtime()
    handle = _register(trt, _check_library(trt))
    for extra in extra_libraries:
        extra_path = Path(extra)
        if not extra_path.is_file():
            raise FileNotFoundError(f"plugin library {extra_path} does not exist")
        _register(trt, extra_path)
    return handle
