"""trtkit: a TensorRT custom-plugin development kit.

``trtkit.ops`` holds the kit's PyTorch ops (importing it needs torch), ``trtkit.export`` exports a model
that uses them to ONNX with TensorRT plugin nodes, ``trtkit.load()`` registers the compiled plugin library
with a TensorRT runtime. ``python -m trtkit.cli demo`` (or ``trtkit demo``) walks through all of it.
"""

from __future__ import annotations

from typing import Any

from trtkit._library import build_info, library_path, load, tensorrt_runtime
from trtkit.export import export, prearrange
from trtkit.sdk import cmake_dir, include_dir, sdk_dir

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "build_info",
    "cmake_dir",
    "export",
    "include_dir",
    "library_path",
    "load",
    "nn",
    "ops",
    "prearrange",
    "sdk_dir",
    "tensorrt_runtime",
]


def __getattr__(name: str) -> Any:
    # trtkit.ops imports torch; keep `import trtkit` (and `trtkit info`) usable without it.
    if name in ("ops", "nn"):
        import importlib

        return importlib.import_module(f"trtkit.{name}")
    raise AttributeError(f"module 'trtkit' has no attribute {name!r}")
