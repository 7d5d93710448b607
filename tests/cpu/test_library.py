"""cpu tier: trtkit._library's paths, build info and load() decisions, against a stand-in TensorRT module (the
real runtime is exercised in tests/trt)."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
from trtkit import _library


class FakeRegistry:
    def __init__(self, handle: Any = "handle") -> None:
        self.loaded: list[str] = []
        self.handle = handle

    def load_library(self, path: str) -> Any:
        self.loaded.append(path)
        return self.handle


def fake_trt(version: str, registry: FakeRegistry) -> types.ModuleType:
    module = types.ModuleType("tensorrt_fake")
    module.__version__ = version
    module.get_plugin_registry = lambda: registry
    return module


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in installed package folder holding build_info.txt and lib/libtrtkit_plugins.so."""
    monkeypatch.setattr(_library, "_PACKAGE_DIR", tmp_path)
    monkeypatch.setattr(_library, "_loaded", {})
    (tmp_path / "lib").mkdir()
    return tmp_path


def write_build(package: Path, major: str = "11", library: bool = True) -> None:
    (package / "build_info.txt").write_text(
        f"tensorrt_major={major}\ntensorrt_version={major}.1.0\ncuda_architectures=90\n"
    )
    if library:
        (package / "lib" / "libtrtkit_plugins.so").write_bytes(b"\x7fELF")


def use_runtime(monkeypatch: pytest.MonkeyPatch, version: str, registry: FakeRegistry) -> None:
    monkeypatch.setattr(_library, "tensorrt_runtime", lambda: fake_trt(version, registry))


def test_paths_and_build_info(package: Path) -> None:
    assert _library.library_path() == package / "lib" / "libtrtkit_plugins.so"
    assert "adapter_missing_reason" in _library.build_info()  # no build_info.txt yet
    write_build(package)
    assert _library.build_info() == {
        "tensorrt_major": "11",
        "tensorrt_version": "11.1.0",
        "cuda_architectures": "90",
    }


def test_load_registers_once_and_returns_the_handle(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_build(package)
    registry = FakeRegistry()
    use_runtime(monkeypatch, "11.4.0.106", registry)
    assert _library.load() == "handle"
    assert _library.load() == "handle"
    assert registry.loaded == [str(_library.library_path().resolve())]


def test_load_explains_a_missing_library(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (package / "build_info.txt").write_text("tensorrt_major=\nadapter_missing_reason=no NvInfer.h found\n")
    use_runtime(monkeypatch, "11.4.0", FakeRegistry())
    with pytest.raises(RuntimeError, match="was not built: no NvInfer.h found.*TENSORRT_INCLUDE_DIR"):
        _library.load()


def test_load_refuses_another_major(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_build(package, major="10")
    registry = FakeRegistry()
    use_runtime(monkeypatch, "11.4.0.106", registry)
    with pytest.raises(RuntimeError) as e:
        _library.load()
    msg = str(e.value)
    assert (
        "TensorRT 10.1.0" in msg and "11.4.0.106" in msg and "TENSORRT_INCLUDE_DIR" in msg and "11.x" in msg
    )
    assert registry.loaded == []  # refused before TensorRT sees the library


def test_load_reports_a_registry_failure(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_build(package)
    use_runtime(monkeypatch, "11.4.0", FakeRegistry(handle=None))
    with pytest.raises(RuntimeError, match="could not load the plugin library"):
        _library.load()


def test_load_extra_libraries(package: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_build(package)
    registry = FakeRegistry()
    use_runtime(monkeypatch, "11.4.0", registry)
    extra = tmp_path / "libmine.so"
    with pytest.raises(FileNotFoundError, match="libmine.so"):
        _library.load([extra])
    extra.write_bytes(b"\x7fELF")
    _library.load([extra])
    assert registry.loaded[-1] == str(extra.resolve())


def test_tensorrt_runtime_names_the_packages_when_none_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str) -> Any:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(_library.importlib, "import_module", refuse)
    with pytest.raises(ImportError, match="tensorrt-lean-cu13-bindings") as e:
        _library.tensorrt_runtime()
    assert "tensorrt_lean_bindings" in str(e.value)
