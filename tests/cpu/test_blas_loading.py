"""cuBLAS is loaded at run time (trtkit/core/blas.hpp): the status says what was loaded or exactly why not,
and a missing library is a reported fallback, never a failure to import or load the kit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _status(env_extra: dict[str, str]) -> tuple[int, str]:
    code = "from trtkit import _C; v, why = _C.cublas_status(); print(v); print(why)"
    env = dict(os.environ, **env_extra)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "No module named" in r.stderr:
        pytest.skip(f"trtkit._C is not built: {r.stderr.strip().splitlines()[-1]}")
    assert r.returncode == 0, r.stderr
    version, why = r.stdout.split("\n", 1)
    return int(version), why.strip()


def test_status_is_a_version_or_a_reason() -> None:
    try:
        from trtkit import _C
    except ImportError as e:
        pytest.skip(f"trtkit._C is not built ({e})")
    version, why = _C.cublas_status()
    assert (version > 0) != bool(why), (version, why)
    if version:
        assert version >= 110000, version  # cuBLAS 11+ (major*10000 + minor*100 + patch)
    else:
        assert "cuBLAS" in why or "cublas" in why, why


def test_unloadable_library_is_reported_with_its_path() -> None:
    version, why = _status({"TRTKIT_CUBLAS_LIBRARY": "/nonexistent/libcublas.so.99"})
    assert version == 0
    if "built without cuBLAS headers" in why:
        pytest.skip("this build has no cuBLAS headers, so no library is ever tried")
    assert "cannot load /nonexistent/libcublas.so.99" in why, why
    assert "TRTKIT_CUBLAS_LIBRARY" in why, why


def test_a_library_without_the_symbols_is_rejected(tmp_path: Path) -> None:
    """A shared object that is not cuBLAS (here libc's libm) is refused by name, not called."""
    libm = next(
        (
            p
            for p in ("/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6", "/usr/lib/libm.so.6")
            if os.path.exists(p)
        ),
        None,
    )
    if libm is None:
        pytest.skip("no libm.so.6 at a known path")
    version, why = _status({"TRTKIT_CUBLAS_LIBRARY": libm})
    assert version == 0
    if "built without cuBLAS headers" in why:
        pytest.skip("this build has no cuBLAS headers, so no library is ever tried")
    assert "has no symbol cublasCreate_v2" in why, why
