"""cpu tier: the TensorRT adapter (csrc/trt) builds warning-free (-Wall -Wextra -Werror) against every
TensorRT header set on this machine, and each resulting plugin library exports exactly its entry points and
needs no TensorRT or CUDA runtime library.

Header sets: TRTKIT_HEADER_SETS (colon-separated include dirs), default /opt/trt-headers/*/include. Only the
adapter and a small C++-only probe layer are compiled (tests/cpu/build_matrix), in build/test_build_matrix
(incremental across runs)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).resolve().parent / "build_matrix"
BUILD = ROOT / "build" / "test_build_matrix"


def header_sets() -> list[Path]:
    env = os.environ.get("TRTKIT_HEADER_SETS")
    dirs = (
        [Path(p) for p in env.split(":") if p] if env else sorted(Path("/opt/trt-headers").glob("*/include"))
    )
    return [d for d in dirs if (d / "NvInferRuntime.h").is_file() and (d / "NvInferVersion.h").is_file()]


def major_of(include: Path) -> int:
    text = (include / "NvInferVersion.h").read_text()
    m = re.search(r"#define TRT_MAJOR_ENTERPRISE +(\d+)", text) or re.search(
        r"#define NV_TENSORRT_MAJOR +(\d+)", text
    )
    assert m, f"no major version in {include / 'NvInferVersion.h'}"
    return int(m.group(1))


SETS = header_sets()


@pytest.fixture(scope="module")
def libraries() -> dict[str, Path]:
    if not SETS:
        pytest.skip(
            "no TensorRT header set found (set TRTKIT_HEADER_SETS or install headers in /opt/trt-headers)"
        )
    for tool in ("cmake", "nm", "readelf"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    BUILD.mkdir(parents=True, exist_ok=True)
    configure = [
        "cmake",
        "-S",
        str(PROJECT),
        "-B",
        str(BUILD),
        f"-DTRT_HEADER_SETS={';'.join(map(str, SETS))}",
    ]
    if shutil.which("ninja") and not (BUILD / "CMakeCache.txt").exists():
        configure += ["-G", "Ninja"]
    proc = subprocess.run(configure, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    proc = subprocess.run(["cmake", "--build", str(BUILD), "-j2"], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "warning:" not in out, out[-6000:]
    found = {}
    for i in range(len(SETS)):
        include, library = (BUILD / f"library_{i}.txt").read_text().splitlines()[:2]
        found[include] = Path(library)
    return found


def dynamic_symbols(library: Path, *flags: str) -> list[str]:
    out = subprocess.run(
        ["nm", "-D", *flags, str(library)], capture_output=True, text=True, check=True
    ).stdout
    return sorted(line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip())


@pytest.mark.parametrize("include", SETS or [None], ids=[p.parent.name for p in SETS] or ["none"])
def test_adapter_builds_and_exports_only_its_entry_points(libraries: dict[str, Path], include: Path) -> None:
    assert include is not None  # the libraries fixture skips when no header set exists
    library = libraries[str(include)]
    assert library.is_file()
    exported = dynamic_symbols(library, "--defined-only")
    if major_of(include) >= 10:
        assert exported == ["getCreators", "getPluginCreators", "setLoggerFinder"]
    else:  # 8.x: no IPluginV3, loaded through getPluginCreators
        assert exported == ["getPluginCreators", "setLoggerFinder"]
    undefined = dynamic_symbols(library, "--undefined-only")
    assert not [s for s in undefined if "nvinfer" in s.lower() or "PluginRegistry" in s], undefined
    assert not [s for s in undefined if s.startswith("cuda")], "cudart must be linked statically"
    needed = subprocess.run(
        ["readelf", "-d", str(library)], capture_output=True, text=True, check=True
    ).stdout
    assert "libnvinfer" not in needed and "libcudart" not in needed and "libcublas" not in needed, needed


LOAD_SCRIPT = r"""
import sys
import numpy as np
try:
    import tensorrt as trt
    trt.get_plugin_registry
except Exception:
    import tensorrt_lean_bindings as trt
registry = trt.get_plugin_registry()
assert registry.load_library(sys.argv[1]) is not None, "load_library failed"
T = trt.PluginFieldType
for version in ("1", "2"):
    creator = registry.get_creator("TKPROBE", version, "trtkit")
    assert creator is not None, version
    fields = [(f.name, f.type) for f in creator.field_names]
    assert fields == [("i", T.INT32), ("is", T.INT32), ("f", T.FLOAT32), ("fs", T.FLOAT32), ("s", T.CHAR),
                      ("w", T.FLOAT32)], fields
fc = trt.PluginFieldCollection([trt.PluginField("w", np.arange(4, dtype=np.float32), T.FLOAT32),
                                trt.PluginField("is", np.array([3, 4, 5], np.int32), T.INT32)])
plugin = registry.get_creator("TKPROBE", "1", "trtkit").create_plugin("probe", fc)
assert plugin is not None
data = bytes(plugin.serialize())
assert np.arange(4, dtype=np.float32).tobytes() in data
print("loaded", trt.__version__)

# Every shape-expression operation through IExprBuilder, constant-folded and symbolic.
try:
    from trtkit import _trt_harness as H
except ImportError:
    H = None
if H is not None and H.TENSORRT_MAJOR == int(trt.__version__.split(".")[0]):
    p3 = registry.get_creator("TKPROBE", "2", "trtkit").create_plugin("probe", fc, trt.TensorRTPhase.BUILD)
    v2, v3 = H.PluginV2(plugin), H.PluginV3(p3)
    for x0, x1 in ((5, 9), (1, 1), (8, 2), (3, 0)):
        z = [max(x0, 2), min(x1, 3), -(-(x0 * x1) // 4), (x1 - 1) // 2 + 7]
        for symbolic in (False, True):
            dims, ops = v2.get_output_dimensions(1, [[x0, x1]], symbolic=symbolic)
            assert dims == z and (ops > 0) == symbolic, (x0, x1, symbolic, dims, ops, z)
            status, shapes, ops = v3.get_output_shapes([[x0, x1]], symbolic=symbolic)
            assert status == 0 and shapes == [[x0, x1], z] and (ops > 0) == symbolic, (shapes, ops, z)
    assert v2.get_output_dimensions(1, [[2, 3, 4]])[0] is None  # rank 3: the layer's error, nbDims = -1
    print("harness checked")

    # enqueue's success path on empty tensors (no GPU needed), counting heap allocations when the
    # malloc counter is preloaded: the adapters must allocate nothing.
    x, z = [0, 4], [2, 3, 0, 8]
    ins, outs = [(0, "float32", x)], [(0, "float32", x), (0, "float32", z)]
    counts = []
    v2.configure_plugin([("float32", x)], [("float32", x), ("float32", z)])
    runner = v2.clone()
    runner.attach_to_context()
    for _ in range(2):
        assert runner.enqueue(ins, outs) == 0
        counts.append(H.last_enqueue_allocations())
    assert v3.configure_plugin([("float32", x)], [("float32", x), ("float32", z)]) == 0
    ((name, _, data, _),) = v3.get_fields_to_serialize()
    field = trt.PluginField(name, np.frombuffer(data, np.uint8).copy(), T.UNKNOWN)
    creator = registry.get_creator("TKPROBE", "2", "trtkit")
    restored = creator.create_plugin("probe", trt.PluginFieldCollection([field]), trt.TensorRTPhase.RUNTIME)
    runner3 = H.PluginV3(restored).attach_to_context()
    assert runner3.on_shape_change([("float32", x)], [("float32", x), ("float32", z)]) == 0
    for _ in range(2):
        assert runner3.enqueue(ins, outs) == 0
        counts.append(H.last_enqueue_allocations())
    print("enqueue allocations", counts)
"""


def runtime_major() -> int | None:
    code = (
        "try:\n import tensorrt as t; t.get_plugin_registry\n"
        "except Exception:\n import tensorrt_lean_bindings as t\n"
        "print(t.__version__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return int(proc.stdout.split(".")[0]) if proc.returncode == 0 else None


def test_library_of_the_runtimes_major_loads_and_creates_plugins(libraries: dict[str, Path]) -> None:
    major = runtime_major()
    if major is None:
        pytest.skip(
            "no TensorRT Python runtime (tensorrt or tensorrt_lean_bindings) to load the library into"
        )
    matching = [inc for inc in SETS if major_of(inc) == major]
    if not matching:
        pytest.skip(f"no header set of TensorRT {major}.x (the runtime's major) was built")
    harness = importlib.util.find_spec("trtkit._trt_harness") is not None
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    counter = BUILD / "libmalloc_counter.so"
    env["LD_PRELOAD"] = " ".join(filter(None, [os.environ.get("LD_PRELOAD", ""), str(counter)]))
    for include in matching:
        proc = subprocess.run(
            [sys.executable, "-c", LOAD_SCRIPT, str(libraries[str(include)])],
            capture_output=True,
            text=True,
            env=env,
        )
        assert proc.returncode == 0 and "loaded" in proc.stdout, proc.stdout + proc.stderr
        if harness:
            assert "harness checked" in proc.stdout, proc.stdout + proc.stderr
            assert "enqueue allocations [0, 0, 0, 0]" in proc.stdout, proc.stdout + proc.stderr
