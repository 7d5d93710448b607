"""The ``trtkit`` command: ``trtkit demo`` (export, check, and run what this machine allows) and
``trtkit info`` (what is built and installed, and how to get what is missing)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional


def _version(module: str) -> Optional[str]:
    try:
        return str(getattr(importlib.import_module(module), "__version__", "installed"))
    except Exception:  # noqa: BLE001 - an import may fail in many ways (stub packages raise odd errors)
        return None


def info() -> int:
    """Prints one line per component: what is there, or what is missing and how to get it."""
    import trtkit

    print(f"trtkit {trtkit.__version__} at {Path(trtkit.__file__).parent}")
    for module, hint in (
        ("torch", "pip install torch"),
        ("onnx", "pip install onnx"),
        ("onnxscript", "pip install onnxscript (the dynamo exporter needs it)"),
    ):
        v = _version(module)
        print(f"  {module:<22} {v if v else 'MISSING: ' + hint}")

    try:
        from trtkit import _C

        layers = ", ".join(_C.layer_names()) or "none"
        print(f"  {'trtkit._C':<22} built; layers: {layers}")
        for problem in _C.registry_problems():
            print(f"  {'':<22} REJECTED LAYER: {problem}")
        version, why = _C.cublas_status()
        if version:
            blas = f"{version // 10000}.{version // 100 % 100}.{version % 100} (loaded at run time)"
        else:
            blas = f"not loaded: {why} (DeformConv2d then runs its slower fused kernel)"
        print(f"  {'cuBLAS':<22} {blas}")
    except ImportError as e:
        print(f"  {'trtkit._C':<22} MISSING ({e}): build trtkit (pip install . or the developer build)")

    try:
        build = trtkit.build_info()
        path = trtkit.library_path()
    except NotImplementedError as e:
        print(f"  {'plugin library':<22} UNKNOWN: {e}")
    else:
        if path.is_file():
            print(f"  {'plugin library':<22} {path} (TensorRT {build.get('tensorrt_version', '?')} headers)")
        else:
            reason = build.get("adapter_missing_reason") or "not built"
            print(f"  {'plugin library':<22} MISSING: {reason}; build with TENSORRT_INCLUDE_DIR set")
        if build.get("cuda_architectures"):
            print(f"  {'CUDA architectures':<22} {build['cuda_architectures']}")

    try:
        from trtkit._library import tensorrt_runtime

        trt = tensorrt_runtime()
        print(f"  {'TensorRT runtime':<22} {trt.__name__} {getattr(trt, '__version__', '?')}")
    except (ImportError, NotImplementedError) as e:
        print(f"  {'TensorRT runtime':<22} MISSING: {e}")

    harness = _version("trtkit._trt_harness")
    print(
        f"  {'test harness':<22} "
        + ("built" if harness else "MISSING: built with the plugin library (TensorRT 10+ headers)")
    )
    try:
        import torch

        if torch.cuda.is_available():
            print(f"  {'GPU':<22} {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})")
        else:
            print(f"  {'GPU':<22} none: eager CUDA ops and the enqueue tests need an NVIDIA GPU")
    except ImportError:
        pass
    return 0


def _add_tool_commands(sub: Any) -> None:
    """`trtkit doctor` and `trtkit new` (issue 5): each module registers its own subcommand."""
    from trtkit import doctor, new

    doctor.add_parser(sub)
    new.add_parser(sub)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="trtkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="export a MYSELU model under both exporters, check it, run what is possible"
    )
    demo.add_argument("--out", type=Path, default=Path("trtkit-demo"), help="folder for the ONNX files")
    sub.add_parser("info", help="what is built and installed")
    _add_tool_commands(sub)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is not None:  # commands that register a handler (doctor, new)
        return int(args.func(args))
    if args.command == "info":
        return info()
    from trtkit.demo import run_demo

    return run_demo(args.out)


if __name__ == "__main__":
    sys.exit(main())
