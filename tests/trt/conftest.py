"""Fixtures for the trt tier: the plugin library loaded into a real TensorRT runtime, its creators, the C++
harness, and MYSELU nodes as the kit exports them. Everything skips with a reason when its requirement is
missing (library not built because no TensorRT headers were found, no TensorRT Python runtime, major
version mismatch, harness not built)."""

from __future__ import annotations

from typing import Any

import pytest
from trtkit import _library


@pytest.fixture(scope="session")
def trt() -> Any:
    try:
        return _library.tensorrt_runtime()
    except ImportError as e:
        pytest.skip(f"no TensorRT Python runtime: {e}")


@pytest.fixture(scope="session")
def library(trt: Any) -> Any:
    if not _library.library_path().is_file():
        reason = _library.build_info().get("adapter_missing_reason", "not built")
        pytest.skip(f"libtrtkit_plugins.so was not built ({reason}); build with TENSORRT_INCLUDE_DIR set")
    built = _library.build_info().get("tensorrt_major", "")
    runtime = trt.__version__.split(".")[0]
    if built != runtime:
        pytest.skip(f"the plugin library was built for TensorRT {built}, the runtime is {trt.__version__}")
    return _library.load()


@pytest.fixture(scope="session")
def harness(library: Any) -> Any:
    h = pytest.importorskip("trtkit._trt_harness", reason="trtkit._trt_harness is not built (TensorRT < 10?)")
    # Route the library's error messages to the harness so tests can assert on them.
    h.capture_log(str(_library.library_path()))
    return h


@pytest.fixture
def log(harness: Any) -> Any:
    """Returns a function giving the messages the plugin library logged since the test began."""
    harness.take_log()
    return lambda: [m for _, m in harness.take_log()]


@pytest.fixture(scope="session")
def registry(trt: Any, library: Any) -> Any:
    return trt.get_plugin_registry()
