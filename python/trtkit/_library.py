"""PLACEHOLDER on branch `py`: the real module is helper `trt`'s (python/trtkit/_library.py) and replaces
this file at merge. It only keeps the names importable and says clearly that they are missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_MISSING = (
    "trtkit._library is a placeholder on this branch: loading the TensorRT plugin library is provided by "
    "the `trt` branch's python/trtkit/_library.py, which is not merged here"
)


def library_path() -> Path:
    raise NotImplementedError(_MISSING)


def build_info() -> dict[str, Any]:
    raise NotImplementedError(_MISSING)


def tensorrt_runtime() -> Any:
    raise NotImplementedError(_MISSING)


def load(extra_libraries: Any = ()) -> Any:
    raise NotImplementedError(_MISSING)
