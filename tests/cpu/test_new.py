"""`trtkit new`: validation, the generated tree, and (slow) the generated package built against the installed
kit passing its own generated tests."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trtkit
from trtkit import new

KIT_ROOT = Path(__file__).resolve().parents[2]


def make(tmp_path: Path, name: str = "ScaledSum", **kw: Any) -> tuple[new.Plan, list[Path]]:
    kw.setdefault("directory", str(tmp_path / f"{name}-plugin"))
    kw.setdefault("existing", ["MYSELU"])
    return new.generate(name, **kw)


# ---------------------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("1abc", "must be an identifier"),
        ("my-op", "must be an identifier"),
        ("", "must be an identifier"),
        ("class", "keyword"),
        ("lambda", "keyword"),
        ("my__op", "reserved in C++"),
        ("_Foo", "reserved in C++"),
        ("GridSample", "imports 'GridSample' natively"),
        ("gridsample", "imports 'GridSample' natively"),  # case-insensitive
        ("DEFORMCONV", "imports 'DeformConv' natively"),
        ("TRT_PluginV2", "natively"),
        ("MYSELU", "already has a plugin 'MYSELU'"),
        ("MySelu", "already has a plugin 'MYSELU'"),
        ("Layer", "would clash with trtkit's"),
        ("OpSpec", "would clash with trtkit's"),
        ("Zip", "would shadow a Python name"),
        ("Torch", "would shadow a Python name"),
    ],
)
def test_bad_names_are_rejected(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(new.NewError, match=message):
        make(tmp_path, name)
    assert not (tmp_path / f"{name}-plugin").exists()


def test_existing_kit_plugins_come_from_the_compiled_module(tmp_path: Path) -> None:
    names = new.kit_layer_names()
    if names is None:
        pytest.skip("trtkit._C is not built: the kit's plugin names are unknown")
    assert "MYSELU" in names
    with pytest.raises(new.NewError, match="already has a plugin"):
        new.plan("myselu", directory=str(tmp_path / "x"))


@pytest.mark.parametrize(("inputs", "outputs"), [(0, 1), (9, 1), (1, 0), (1, 9)])
def test_tensor_counts_are_bounded(tmp_path: Path, inputs: int, outputs: int) -> None:
    with pytest.raises(new.NewError, match=r"must be an integer in 1\.\.8"):
        make(tmp_path, inputs=inputs, outputs=outputs)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("k", "expected name:type=default"),
        ("k:", "expected name:type=default"),
        (":int=1", "expected name:type=default"),
        ("k:double=1", "is not one of int, ints, float, floats, string"),
        ("k:int=abc", "is not an int"),
        ("k:int=1.5", "is not an int"),
        ("k:int=99999999999", "does not fit int32"),
        ("k:float=x", "is not a float"),
        ("k:float=inf", "finite"),
        ("k:ints=1,,2", "empty element"),
        ("k:floats=[1,nan]", "finite"),
        ('s:string=a"b', "quotes"),
        ("plugin_version:string=1", "reserved"),
        ("plugin_namespace:string=x", "reserved"),
        ("1k:int=1", "must be an identifier"),
        ("for:int=1", "keyword"),
        ("self:int=1", "clashes"),
        ("alpha:int=2", "'alpha' is the generated op's float scale"),
        ("x0:int=1", "name of an input or output"),
        ("y1:int=1", "name of an input or output"),
    ],
)
def test_bad_attribute_specs_are_rejected(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(new.NewError, match=message):
        make(tmp_path, inputs=2, outputs=2, attrs=[spec])


def test_duplicate_attributes_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(new.NewError, match="given twice"):
        make(tmp_path, attrs=["k:int=1", "k:float=2"])


def test_attribute_specs_parse() -> None:
    p = new.parse_attr
    assert p("k:int=3") == new.AttrDecl("k", "int", 3, "")
    assert p("k:int=0x10").default == 16
    assert p("k:int").default == 0
    assert p("axes:ints=1, -2,3").default == [1, -2, 3]
    assert p("axes:ints=[1,2]").default == [1, 2]
    assert p("axes:ints=").default == []
    assert p("eps:float=1e-3").default == pytest.approx(1e-3)
    assert p("w:floats=[0.5,2]").default == [0.5, 2.0]
    assert p("s:string=hello world").default == "hello world"
    assert p("s:string='quoted'").default == "quoted"
    assert p("s:string").default == ""
    assert p("s:string=a=b").default == "a=b"


def test_names_map_to_identifiers() -> None:
    assert new.snake_case("ScaledSum") == "scaled_sum"
    assert new.snake_case("MYOP") == "myop"
    assert new.snake_case("HTTPServer2") == "http_server2"
    assert new.camel_case("my_op") == "MyOp"
    assert new.camel_case("MYOP") == "Myop"
    assert new.camel_case("ScaledSum") == "ScaledSum"


# ---------------------------------------------------------------------------------------------------------
# The generated tree

EXPECTED = [
    "pyproject.toml",
    "CMakeLists.txt",
    "README.md",
    ".gitignore",
    ".clang-format",
    "plugins/scaled_sum/scaled_sum.cpp",
    "plugins/scaled_sum/scaled_sum_kernel.cu",
    "plugins/scaled_sum/scaled_sum_kernel.cuh",
    "plugins/scaled_sum/README.md",
    "python/scaled_sum_plugins/__init__.py",
    "python/scaled_sum_plugins/ops.py",
    "tests/cpu/test_scaled_sum.py",
    "tests/trt/test_scaled_sum_trt.py",
    "tests/gpu/test_scaled_sum_gpu.py",
]

ATTRS = ["k:int=3", "axes:ints=1,2", "eps:floats=0.5,1e-3", "note:string=hello", "alpha:float=0.5"]


def test_generated_tree_is_complete(tmp_path: Path) -> None:
    plan, written = make(tmp_path, inputs=2, outputs=3, attrs=ATTRS)
    root = tmp_path / "ScaledSum-plugin"
    assert plan.target == root
    assert sorted(str(p.relative_to(root)) for p in written) == sorted(EXPECTED)
    for rel in EXPECTED:
        text = (root / rel).read_text()
        assert not re.search(r"\{\{\w+\}\}", text), f"{rel}: a placeholder was left"
        if rel.endswith(".py"):
            ast.parse(text, rel)
    cpp = (root / "plugins/scaled_sum/scaled_sum.cpp").read_text()
    assert 's.name = "ScaledSum";' in cpp and 's.inputs = {"x0", "x1"};' in cpp
    assert 's.outputs = {"y0", "y1", "y2"};' in cpp and "TRTKIT_REGISTER_LAYER(ScaledSum);" in cpp
    assert 'intsAttr("axes", {1, 2}' in cpp and 'floatsAttr("eps", {0.5f, 0.001f}' in cpp
    assert 'floatAttr("alpha", 0.5f' in cpp and 'stringAttr("note", "hello"' in cpp
    assert "{D::kFloat16, D::kFloat16, D::kFloat16, D::kFloat16, D::kFloat16}" in cpp
    cmake = (root / "CMakeLists.txt").read_text()
    assert "find_package(trtkit CONFIG REQUIRED)" in cmake and "trtkit_add_plugins(" in cmake
    assert "PYTHON_PACKAGE scaled_sum_plugins" in cmake
    assert "plugins/scaled_sum/scaled_sum.cpp plugins/scaled_sum/scaled_sum_kernel.cu" in cmake
    ops = (root / "python/scaled_sum_plugins/ops.py").read_text()
    assert 'Attr("axes", "ints", (1, 2), _DECLARED)' in ops and 'name="ScaledSum"' in ops
    pyproject = (root / "pyproject.toml").read_text()
    assert 'wheel.packages = ["python/scaled_sum_plugins"]' in pyproject


def test_generated_code_is_lint_clean(tmp_path: Path) -> None:
    make(tmp_path, inputs=2, outputs=2, attrs=ATTRS)
    make(tmp_path, "Unary")
    ruff = new._tool("ruff")
    clang_format = new._tool("clang-format")
    if not ruff or not clang_format:
        pytest.skip("ruff and clang-format are needed to check the generated code's style")
    for root in (tmp_path / "ScaledSum-plugin", tmp_path / "Unary-plugin"):
        for args in (["check", "python", "tests"], ["format", "--check", "python", "tests"]):
            done = subprocess.run([ruff, *args], cwd=root, capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
        for f in sorted(root.glob("plugins/*/*.c*")):
            done = subprocess.run([clang_format, "--style=file", "--dry-run", "-Werror", str(f)], cwd=root)
            assert done.returncode == 0, f


def test_existing_target_is_not_overwritten(tmp_path: Path) -> None:
    make(tmp_path)
    with pytest.raises(new.NewError, match="exists and is not empty"):
        make(tmp_path)
    _, written = make(tmp_path, force=True)
    assert len(written) == len(EXPECTED)


def test_default_target_is_outside_the_kits_tree(tmp_path: Path, monkeypatch: Any) -> None:
    if new.kit_source_root() is None:
        pytest.skip("trtkit is not imported from a source checkout here")
    monkeypatch.chdir(new.kit_source_root())
    with pytest.raises(new.NewError, match="inside the kit's source tree"):
        new.plan("ScaledSum", existing=[])
    plan = new.plan("ScaledSum", existing=[], directory=str(tmp_path / "elsewhere"))
    assert plan.target == tmp_path / "elsewhere"


def fake_kit(root: Path) -> Path:
    for d in ("plugins/myselu", "csrc/core", "python/trtkit/ops", "tests/cpu"):
        (root / d).mkdir(parents=True)
    (root / "CMakeLists.txt").write_text("# kit\n")
    (root / "python/trtkit/ops/__init__.py").write_text(
        'from trtkit.ops.myselu import MYSELU\n\n__all__ = ["MYSELU"]\n'
    )
    return root


def test_in_kit_writes_into_the_kit(tmp_path: Path) -> None:
    root = fake_kit(tmp_path / "kit")
    plan, written = new.generate("ScaledSum", 2, 1, ["k:int=1"], str(root), in_kit=True, existing=["MYSELU"])
    rel = sorted(str(p.relative_to(root)) for p in written)
    assert "python/trtkit/ops/scaled_sum.py" in rel and "plugins/scaled_sum/scaled_sum.cpp" in rel
    assert "pyproject.toml" not in rel and "CMakeLists.txt" not in rel
    ops = (root / "python/trtkit/ops/scaled_sum.py").read_text()
    assert "from trtkit.ops.scaled_sum import" in (root / "tests/cpu/test_scaled_sum.py").read_text()
    assert "import torch\n\nfrom trtkit.spec import" in ops  # first-party inside the kit
    init = (root / "python/trtkit/ops/__init__.py").read_text()
    assert init.count("from trtkit.ops.scaled_sum import") == 1 and '__all__ += ["SCALED_SUM"' in init
    new._register_in_kit(plan, plan.context())  # idempotent
    assert (root / "python/trtkit/ops/__init__.py").read_text() == init
    with pytest.raises(new.NewError, match="exist already"):
        new.generate("ScaledSum", 2, 1, [], str(root), in_kit=True, existing=["MYSELU"])


def test_in_kit_needs_a_kit_tree(tmp_path: Path) -> None:
    with pytest.raises(new.NewError, match="is not a trtkit source tree"):
        new.plan("ScaledSum", directory=str(tmp_path), in_kit=True, existing=[])


def test_cli_reports_errors_and_files(tmp_path: Path, capsys: Any) -> None:
    assert new.main(["new", "GridSample", "--dir", str(tmp_path / "g")]) == 2
    assert "natively" in capsys.readouterr().err
    code = new.main(["new", "Twice", "--outputs", "2", "--attr", "k:int=2", "--dir", str(tmp_path / "t")])
    out = capsys.readouterr().out
    assert code == 0 and "plugins/twice/twice.cpp" in out and "pip install --no-build-isolation ." in out


# ---------------------------------------------------------------------------------------------------------
# The real proof: build the generated package against the installed kit and run its generated tests


def _tools() -> dict[str, str]:
    tools = {t: shutil.which(t) or new._tool(t) for t in ("nvcc", "cmake", "ninja")}
    missing = [t for t, path in tools.items() if not path]
    if missing:
        pytest.skip(f"building a plugin package needs {', '.join(missing)}")
    return {t: str(p) for t, p in tools.items()}


def _pip_install(source: Path, target: Path, build_dir: Path, env: dict[str, str]) -> None:
    """pip install --no-build-isolation --target (one CUDA arch; TensorRT headers where they are here)."""
    defines = ["-Ccmake.define.CMAKE_CUDA_ARCHITECTURES=80", f"-Cbuild-dir={build_dir}"]
    headers = os.environ.get("TENSORRT_INCLUDE_DIR") or "/opt/trt-headers/11.1/include"
    if Path(headers, "NvInfer.h").is_file():
        defines.append(f"-Ccmake.define.TENSORRT_INCLUDE_DIR={headers}")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--target", str(target),
         *defines, "."],
        cwd=source, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, f"pip install {source} failed:\n" + done.stdout[-4000:] + done.stderr[-4000:]


def _installed_kit(tmp_path: Path, env: dict[str, str]) -> Path:
    """A folder holding an installed trtkit with its SDK: this one if it is installed, else this checkout
    built and installed into tmp_path (what `pip install .` gives a user)."""
    try:
        trtkit.cmake_dir()
        return Path(trtkit.__file__).resolve().parents[1]
    except (AttributeError, FileNotFoundError):
        pass
    if not (KIT_ROOT / "pyproject.toml").is_file() or not (KIT_ROOT / "csrc").is_dir():
        pytest.skip("trtkit is neither installed with its SDK nor imported from a source checkout")
    site = tmp_path / "kit-site"
    _pip_install(KIT_ROOT, site, tmp_path / "kit-build", env)
    assert (site / "trtkit" / "cmake" / "trtkitConfig.cmake").is_file(), (
        "the kit's wheel has no CMake package"
    )
    return site


@pytest.mark.slow
def test_generated_package_builds_and_passes_its_tests(tmp_path: Path) -> None:
    """The real proof: generate a package, build it with pip against the installed kit (find_package(trtkit)
    + trtkit_add_plugins), install it, and run its generated cpu and trt tests without editing anything."""
    _tools()
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL="2")
    kit_site = _installed_kit(tmp_path, env)
    env["PYTHONPATH"] = str(kit_site)
    generator = subprocess.run(
        [sys.executable, "-m", "trtkit.cli", "new", "ScaledSum", "--inputs", "2", "--outputs", "2",
         "--attr", "k:int=3", "--attr", "note:string=hello", "--dir", str(tmp_path / "ScaledSum-plugin")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert generator.returncode == 0, generator.stderr
    root = tmp_path / "ScaledSum-plugin"
    site = tmp_path / "site"
    _pip_install(root, site, tmp_path / "build", env)
    assert list((site / "scaled_sum_plugins").glob("_C*.so")), "the package's Python module was not installed"
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(kit_site)])
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", "tests/cpu", "tests/trt"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and " failed" not in tests.stdout
    if (site / "scaled_sum_plugins" / "lib" / "libscaled_sum_plugins.so").is_file():  # built with headers
        skipped = [line for line in tests.stdout.splitlines() if line.startswith("SKIPPED")]
        assert not any("tests/trt" in line for line in skipped), tests.stdout


KIT_SOURCES = ("CMakeLists.txt", "pyproject.toml", "cmake", "csrc", "plugins", "python")


@pytest.mark.slow
def test_generated_in_kit_op_builds_and_passes_its_tests(tmp_path: Path) -> None:
    """--in-kit into a copy of this checkout, then the kit's own build (one CUDA arch) and the generated
    cpu and trt tests: proves the generated kernel, layer and op spec work with the kit's core as it is."""
    if not (KIT_ROOT / "csrc" / "core").is_dir():
        pytest.skip("not running from a trtkit source checkout")
    tools = _tools()
    pybind11 = pytest.importorskip("pybind11")
    kit = tmp_path / "kit"
    kit.mkdir()
    ignore = shutil.ignore_patterns("build", "*.so", "__pycache__", "build_info.txt", "lib")
    for name in KIT_SOURCES:
        src = KIT_ROOT / name
        if src.is_dir():
            shutil.copytree(src, kit / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, kit / name)
    new.generate(
        "ScaledSum", 2, 2, ["k:int=3", "note:string=hello"], str(kit), in_kit=True, existing=["MYSELU"]
    )
    configure = [
        str(tools["cmake"]), "-S", str(kit), "-B", str(kit / "build"), "-G", "Ninja",
        "-DCMAKE_CUDA_ARCHITECTURES=80", "-DTRTKIT_INPLACE=ON", f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
        f"-DPython_EXECUTABLE={sys.executable}", f"-DCMAKE_MAKE_PROGRAM={tools['ninja']}",
    ]  # fmt: skip
    headers = os.environ.get("TENSORRT_INCLUDE_DIR") or "/opt/trt-headers/11.1/include"
    if Path(headers, "NvInfer.h").is_file():
        configure.append(f"-DTENSORRT_INCLUDE_DIR={headers}")
    for cmd in (configure, [str(tools["cmake"]), "--build", str(kit / "build"), "-j2"]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    env = dict(os.environ, PYTHONPATH=str(kit / "python"))
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider",
         "tests/cpu/test_scaled_sum.py", "tests/trt/test_scaled_sum_trt.py"],
        cwd=kit, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and " failed" not in tests.stdout
