"""ctypes access to bench/dcn_shim.cu: runs the deform_conv2d kernels on torch CUDA tensors.

Used by the GPU tests and the benchmark so that the kernels are exercised without the TensorRT adapter.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PRECISION = {"fp32": 0, "tf32": 1, "fp16": 2}


ALGORITHM = {"auto": 0, "fused": 1, "sampled": 2, "pipelined": 3}


def cublas_include_dir() -> Path | None:
    """Folder holding cublas_api.h: the CUDA toolkit's, else an nvidia wheel's (PyTorch installs them)."""
    cands = [Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "include"]
    try:
        import nvidia  # namespace package of the nvidia-* wheels

        for base in nvidia.__path__:
            cands += sorted(Path(base).glob("*/include"))
    except ImportError:
        pass
    return next((d for d in cands if (d / "cublas_api.h").exists()), None)


def build(out: Path | None = None, extra: tuple[str, ...] = ()) -> Path:
    out = out or ROOT / "build" / "libdcn_shim.so"
    out.parent.mkdir(parents=True, exist_ok=True)
    arch = os.environ.get("DCN_ARCH", "sm_90a")
    plugin = ROOT / "plugins" / "deform_conv2d"
    blas = []
    inc = cublas_include_dir()
    if inc is not None:
        blas = ["-DTRTKIT_HAVE_CUBLAS_HEADERS", f"-Xcompiler=-idirafter,{inc}"]
    cmd = [
        "nvcc",
        "-O3",
        "-std=c++17",
        f"-arch={arch}",
        "-shared",
        "-Xcompiler",
        "-fPIC",
        "-lineinfo",
        f"-I{plugin}",
        f"-I{ROOT / 'csrc' / 'core'}",
        *blas,
        str(ROOT / "bench" / "dcn_shim.cu"),
        *[str(f) for f in sorted(plugin.glob("*.cu"))],
        str(ROOT / "csrc" / "core" / "trtkit" / "core" / "blas.cpp"),
        "-ldl",
        "-o",
        str(out),
        *extra,
    ]
    subprocess.run(cmd, check=True)
    return out


class Shim:
    def __init__(self, path: Path):
        self.lib = ctypes.CDLL(str(path))
        self.lib.dcn_fast_divide.restype = ctypes.c_int
        self.lib.dcn_fast_divide.argtypes = [ctypes.c_int, ctypes.c_int]
        self.lib.dcn_workspace.restype = ctypes.c_int64
        self.lib.dcn_workspace.argtypes = [ctypes.POINTER(ctypes.c_int64), ctypes.c_int]
        self.lib.dcn_check.restype = ctypes.c_char_p
        self.lib.dcn_check.argtypes = [ctypes.POINTER(ctypes.c_int64)]
        self.lib.dcn_run.restype = ctypes.c_char_p
        self.lib.dcn_run.argtypes = [ctypes.POINTER(ctypes.c_int64), ctypes.c_int, ctypes.c_int] + [
            ctypes.c_void_p
        ] * 8
        self.lib.dcn_blas_status.restype = ctypes.c_char_p
        self.lib.dcn_blas_version.restype = ctypes.c_int
        self.lib.dcn_auto_algorithm.restype = ctypes.c_int
        self.lib.dcn_auto_algorithm.argtypes = [ctypes.POINTER(ctypes.c_int64), ctypes.c_int]
        self.lib.dcn_choose_algorithm.restype = ctypes.c_int
        self.lib.dcn_choose_algorithm.argtypes = [
            ctypes.POINTER(ctypes.c_int64),
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int64,
        ]
        self.lib.dcn_tactics.restype = ctypes.c_int
        self.lib.dcn_tactics.argtypes = [
            ctypes.POINTER(ctypes.c_int64),
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int32),
            ctypes.c_int,
        ]
        self.lib.dcn_prepare_tactic.restype = ctypes.c_int
        self.lib.dcn_prepare_tactic.argtypes = [ctypes.POINTER(ctypes.c_int64), ctypes.c_int, ctypes.c_int]
        self.lib.dcn_run_tactic.restype = ctypes.c_char_p
        self.lib.dcn_run_tactic.argtypes = self.lib.dcn_run.argtypes
        self.lib.dcn_offered_tactics.restype = ctypes.c_int
        self.lib.dcn_offered_tactics.argtypes = [
            ctypes.POINTER(ctypes.c_int64),
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int64,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int32),
            ctypes.c_int,
        ]
        self.lib.dcn_decode_tactic.restype = ctypes.c_int
        self.lib.dcn_decode_tactic.argtypes = [
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_int),
        ]
        self.lib.dcn_pipelined_tile_channels.restype = ctypes.c_int
        self.lib.dcn_pipelined_tile_channels.argtypes = [
            ctypes.POINTER(ctypes.c_int64),
            ctypes.c_int,
            ctypes.c_int,
        ]

    def pipelined_tile_channels(
        self, x, weight, offset, groups, offset_groups, precision: str, sms: int
    ) -> int:
        """Output channels per pipelined tile (64 or 128) on a GPU with `sms` SMs (no CUDA call)."""
        p = self.params(x, weight, offset, None, None, (1, 1), (1, 1), (1, 1), groups, offset_groups)
        return self.lib.dcn_pipelined_tile_channels(p, PRECISION[precision], sms)

    def tactics(self, x, weight, offset, groups, offset_groups, precision: str) -> list[int]:
        """The tactics the layer offers (IPluginV3::getValidTactics) for these tensors on the current GPU."""
        p = self.params(x, weight, offset, None, None, (1, 1), (1, 1), (1, 1), groups, offset_groups)
        buf = (ctypes.c_int32 * 32)()
        n = self.lib.dcn_tactics(p, PRECISION[precision], buf, 32)
        if n < 0:
            raise RuntimeError("dcn_tactics: CUDA device query failed")
        return list(buf[:n])

    def offered_tactics(
        self, x, weight, offset, groups, offset_groups, precision: str, blas: bool, lt: bool, gpu: tuple
    ) -> list[int]:
        """The tactics offered on a described GPU (major, shared bytes, SMs) and install: no CUDA call."""
        p = self.params(x, weight, offset, None, None, (1, 1), (1, 1), (1, 1), groups, offset_groups)
        buf = (ctypes.c_int32 * 32)()
        n = self.lib.dcn_offered_tactics(p, PRECISION[precision], int(blas), int(lt), *gpu, buf, 32)
        return list(buf[:n])

    def decode_tactic(self, tactic: int) -> tuple[str, int] | None:
        """(algorithm, GEMM variant) of a tactic code, or None where the layer rejects it (no CUDA call)."""
        algo, variant = ctypes.c_int(), ctypes.c_int()
        if not self.lib.dcn_decode_tactic(tactic, ctypes.byref(algo), ctypes.byref(variant)):
            return None
        return {v: k for k, v in ALGORITHM.items()}[algo.value], variant.value

    def blas_status(self) -> str:
        """ "" when the sampled algorithm can run (cuBLAS loaded), else why not."""
        return self.lib.dcn_blas_status().decode()

    def blas_version(self) -> int:
        return self.lib.dcn_blas_version()

    def auto_algorithm(self, x, weight, offset, mask, bias, groups, offset_groups, precision: str) -> str:
        """Which algorithm "auto" runs for these tensors on the current GPU."""
        p = self.params(x, weight, offset, mask, bias, (1, 1), (1, 1), (1, 1), groups, offset_groups)
        code = self.lib.dcn_auto_algorithm(p, PRECISION[precision])
        return {v: k for k, v in ALGORITHM.items()}.get(code, f"error {code}")

    def fast_divide(self, x: int, d: int) -> int:
        """x // d as the kernels compute it (multiply and shift by a run-time divisor), on the host."""
        return int(self.lib.dcn_fast_divide(x, d))

    def choose_algorithm(
        self,
        x,
        weight,
        offset,
        groups,
        offset_groups,
        precision: str,
        blas: bool,
        major: int,
        shared_bytes: int,
    ) -> str:
        """The "auto" rule for a described GPU (no CUDA call: tensors may live on the meta device)."""
        p = self.params(x, weight, offset, None, None, (1, 1), (1, 1), (1, 1), groups, offset_groups)
        code = self.lib.dcn_choose_algorithm(p, PRECISION[precision], int(blas), major, shared_bytes)
        return {v: k for k, v in ALGORITHM.items()}[code]

    @staticmethod
    def params(x, weight, offset, mask, bias, stride, padding, dilation, groups, offset_groups, kernel=None):
        """The launcher's parameters. weight is [Cout, Cin/g, kh, kw], or GEMM rows [Cout, R] (node
        weight_layout=1, deform_conv2d_kernels.hpp) when kernel=(kh, kw) is given."""
        n, cin, h, w = x.shape
        if kernel is not None:
            cout, row_elems = weight.shape
            kh, kw = kernel
        else:
            (cout, _, kh, kw), row_elems = weight.shape, 0
        ho, wo = offset.shape[2], offset.shape[3]
        vals = [
            n,
            cin,
            h,
            w,
            cout,
            kh,
            kw,
            ho,
            wo,
            stride[0],
            stride[1],
            padding[0],
            padding[1],
            dilation[0],
            dilation[1],
            groups,
            offset_groups,
            int(mask is not None),
            int(bias is not None),
            row_elems,
        ]
        return (ctypes.c_int64 * len(vals))(*vals)

    def prepare(
        self,
        x,
        weight,
        offset,
        mask,
        bias,
        stride,
        padding,
        dilation,
        groups,
        offset_groups,
        precision: str,
        algorithm: str = "auto",
        tactic: int | None = None,
        kernel: tuple[int, int] | None = None,
    ):
        """Returns a zero-argument callable that runs the op into a preallocated output (for timing).

        tactic: run as the layer does after IPluginV3::setTactic(tactic) (algorithm is then ignored); its GEMM
        variant is prepared here, once, and the callable's `variant_ran` attribute says whether every GEMM
        runs that variant.

        kernel=(kh, kw): the weight is GEMM rows [Cout, R] (what TensorRT hands the plugin for a node that
        trtkit.export pre-arranged, weight_layout=1); the bias is then not read."""
        p = self.params(
            x, weight, offset, mask, bias, stride, padding, dilation, groups, offset_groups, kernel
        )
        why = self.lib.dcn_check(p).decode()
        if why:
            raise ValueError(why)
        prec = PRECISION[precision]
        algo = ALGORITHM[algorithm]
        ws_bytes = self.lib.dcn_workspace(p, prec)
        ws = torch.empty(max(ws_bytes, 1), dtype=torch.uint8, device=x.device)
        out = torch.full(
            (x.shape[0], weight.shape[0], offset.shape[2], offset.shape[3]),
            float("nan"),
            dtype=x.dtype,
            device=x.device,
        )
        args = [t.data_ptr() if t is not None else None for t in (x, weight, offset, mask, bias)]

        prepared = None if tactic is None else self.lib.dcn_prepare_tactic(p, prec, tactic)
        if prepared == -1:
            raise ValueError(f"unknown tactic {tactic:#x}")

        def run() -> torch.Tensor:
            stream = torch.cuda.current_stream().cuda_stream
            if tactic is None:
                why = self.lib.dcn_run(p, prec, algo, *args, out.data_ptr(), ws.data_ptr(), stream)
            else:
                why = self.lib.dcn_run_tactic(p, prec, tactic, *args, out.data_ptr(), ws.data_ptr(), stream)
            if why:
                raise RuntimeError(f"dcn_run failed: {why.decode()}")
            return out

        run.variant_ran = prepared == 1  # type: ignore[attr-defined]
        return run
