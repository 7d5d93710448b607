"""Where the installed C++ SDK lives, for plugin packages of your own (find_package(trtkit) in CMake)."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _existing(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"trtkit's {what} is not at {path}: it is installed with the wheel (`pip install .`), "
            "not present in a source tree used through PYTHONPATH"
        )
    return path


def cmake_dir() -> Path:
    """Folder of trtkitConfig.cmake: pass it as -Dtrtkit_DIR=... to CMake."""
    return _existing(_PKG / "cmake", "CMake package")


def include_dir() -> Path:
    """Folder holding trtkit/core/*.hpp and trtkit/trt/*.hpp."""
    return _existing(_PKG / "include", "C++ headers")


def sdk_dir() -> Path:
    """Folder holding the SDK's sources (csrc/) and build logic (cmake/TrtkitBuild.cmake)."""
    return _existing(_PKG / "sdk", "SDK sources")
