"""GPU tier: every kernel's sanitizer script (tests/gpu/sanitize_*.py) runs clean under compute-sanitizer's
memcheck and racecheck."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.gpu

SCRIPTS = sorted(Path(__file__).parent.glob("sanitize_*.py"))


def sanitizer() -> str:
    exe = shutil.which("compute-sanitizer") or "/usr/local/cuda/bin/compute-sanitizer"
    if not os.path.exists(exe):
        pytest.skip("compute-sanitizer is not installed")
    return exe


# Each script as it runs by default; the deform_conv2d one again without cuBLAS (its fused fallback kernel).
RUNS = [(s, {}) for s in SCRIPTS] + [
    (s, {"TRTKIT_CUBLAS_LIBRARY": "/nonexistent/libcublas.so"}) for s in SCRIPTS if "deform_conv2d" in s.name
]


@pytest.mark.parametrize("tool", ["memcheck", "racecheck"])
@pytest.mark.parametrize("script,env", RUNS, ids=[s.stem + ("-without-cublas" if e else "") for s, e in RUNS])
def test_kernels_are_sanitizer_clean(script: Path, env: dict, tool: str) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    exe = sanitizer()
    cmd = [exe, "--tool", tool, "--error-exitcode", "99"]
    if tool == "memcheck":
        cmd += ["--leak-check", "no"]
    proc = subprocess.run(
        cmd + [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, **env),
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # memcheck: "ERROR SUMMARY: 0 errors"
    # racecheck: "RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)"
    summary = re.findall(r"ERROR SUMMARY: (\d+) error", out) + re.findall(r"SUMMARY: .*\((\d+) errors?", out)
    assert summary and all(n == "0" for n in summary), out[-4000:]
    assert "done" in out
    if env:
        assert "fused (cuBLAS unavailable" in out, out[-2000:]
