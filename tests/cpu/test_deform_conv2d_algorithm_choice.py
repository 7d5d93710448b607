"""DeformConv2d's "auto" rule (chooseAlgorithm) for GPUs and installs the GPU machine is not: the rule is pure
logic, so the stand-alone shim (bench/dcn_shim.cu, built with nvcc) answers it without a GPU. The GPU tier
checks the same rule on the H100 through the real device query (test_auto_picks_the_measured_fastest)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

H100 = (9, 227 * 1024)  # compute capability major, opt-in shared memory per block
A100 = (8, 163 * 1024)
RTX_4090 = (8, 99 * 1024)  # sm_89 (and sm_86): 99 KB
T4 = (7, 64 * 1024)  # sm_75


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not found: needed to build bench/dcn_shim.cu")
    import dcn_shim

    return dcn_shim.Shim(dcn_shim.build(tmp_path_factory.mktemp("shim") / "libdcn_shim.so"))


def choose(shim, cin: int, cout: int, precision: str, gpu: tuple[int, int], blas: bool, og: int = 1) -> str:
    meta = dict(device="meta")
    x = torch.empty(2, cin, 16, 16, **meta)
    weight = torch.empty(cout, cin, 3, 3, **meta)
    offset = torch.empty(2, 2 * og * 9, 16, 16, **meta)
    return shim.choose_algorithm(x, weight, offset, 1, og, precision, blas, *gpu)


@pytest.mark.parametrize("precision", ["fp16", "tf32"])
def test_64_output_channels_run_pipelined_with_or_without_cublas(shim, precision):
    for gpu in (H100, A100, RTX_4090):
        assert choose(shim, 64, 64, precision, gpu, blas=True) == "pipelined", gpu
        assert choose(shim, 64, 64, precision, gpu, blas=False) == "pipelined", gpu


def test_more_output_channels_run_sampled_where_cublas_loads(shim):
    assert choose(shim, 256, 256, "fp16", H100, blas=True) == "sampled"
    assert choose(shim, 256, 256, "tf32", A100, blas=True) == "sampled"
    # without cuBLAS the pipelined kernel (faster than the fused one everywhere it runs) takes them
    assert choose(shim, 256, 256, "fp16", H100, blas=False) == "pipelined"
    assert choose(shim, 256, 256, "fp16", A100, blas=False) == "pipelined"


def test_128_channel_tiles_need_more_shared_memory_than_sm86_has(shim):
    """128-output-channel tiles take ~103 KB: sm_86/89 (99 KB) fall back; 64-channel tiles (~78 KB) fit."""
    assert choose(shim, 256, 256, "fp16", RTX_4090, blas=False) == "fused"
    assert choose(shim, 256, 256, "fp16", RTX_4090, blas=True) == "sampled"
    assert choose(shim, 256, 64, "fp16", RTX_4090, blas=False) == "pipelined"
    # corner tables for 8 offset groups per stage add 28 KB: still within an A100's 163 KB
    assert choose(shim, 64, 128, "fp16", A100, blas=False, og=8) == "pipelined"


def test_strict_fp32_runs_pipelined_on_hopper_only(shim):
    """On Hopper the consumers multiply on the fp64 tensor cores (DMMA), measured faster than the sampled
    algorithm at every benchmark shape; elsewhere FFMA consumers would spill (no setmaxnreg) and fp64 MMAs
    are no faster than FFMA."""
    assert choose(shim, 64, 64, "fp32", H100, blas=True) == "pipelined"
    assert choose(shim, 64, 64, "fp32", H100, blas=False) == "pipelined"
    assert choose(shim, 256, 256, "fp32", H100, blas=True) == "pipelined"  # DMMA consumers: every width
    assert choose(shim, 256, 256, "fp32", H100, blas=False) == "pipelined"
    assert choose(shim, 64, 64, "fp32", A100, blas=True) == "sampled"
    assert choose(shim, 64, 64, "fp32", A100, blas=False) == "fused"


def test_old_gpus_never_run_pipelined(shim):
    assert choose(shim, 64, 64, "fp16", T4, blas=True) == "sampled"
    assert choose(shim, 64, 64, "fp16", T4, blas=False) == "fused"


def test_shapes_the_pipelined_kernel_cannot_take(shim):
    assert choose(shim, 96, 64, "fp16", H100, blas=False) == "fused"  # 96 channels: not in 64s
    assert choose(shim, 96, 64, "tf32", H100, blas=False) == "pipelined"  # TF32 stages are 32 channels
    assert choose(shim, 64, 96, "fp16", H100, blas=True) == "sampled"  # 96 output channels: not in 64s
    assert choose(shim, 64, 64, "fp16", H100, blas=False, og=16) == "fused"  # 4 channels per offset group


def tile_channels(shim, n: int, cin: int, cout: int, hw: int, sms: int, groups: int = 1) -> int:
    meta = dict(device="meta")
    x = torch.empty(n, cin, hw, hw, **meta)
    weight = torch.empty(cout, cin // groups, 3, 3, **meta)
    offset = torch.empty(n, 18, hw, hw, **meta)  # pad 1: output hw x hw
    return shim.pipelined_tile_channels(x, weight, offset, groups, 1, "fp16", sms)


def test_pipelined_tiles_are_narrow_only_where_wide_ones_fill_at_most_half_the_sms(shim):
    """128-output-channel tiles halve the gathers; 64-channel ones only where they still fit one wave
    (measured on the H100: one 64x64 image with 256 outputs 0.067 -> 0.060 ms, two waves of them slower)."""
    h100 = 132
    assert tile_channels(shim, 1, 256, 256, 64, h100) == 64  # 32 pixel tiles x 2 wide tiles = 64 <= 66
    assert tile_channels(shim, 1, 256, 256, 64, 108) == 128  # A100: 64 > 54
    assert tile_channels(shim, 4, 512, 512, 32, h100) == 128  # 8 x 4 images x 4 = 128 wide tiles
    assert tile_channels(shim, 8, 256, 256, 64, h100) == 128
    assert tile_channels(shim, 1, 64, 192, 64, h100) == 64  # 192 is not a multiple of 128
    assert tile_channels(shim, 1, 128, 512, 32, h100, groups=2) == 64  # 8 x 2 groups x 2 = 32 wide tiles


def test_goals_table_of_the_recorded_run_uses_this_rule(shim):
    """bench/deform_conv2d_goals.py rebuilds the README's goals table from the recorded H100 run with this
    rule: every row has a measured time for the algorithm the rule picks, and the picks are the ones the
    README states (pipelined at 64 output channels and for strict fp32 on Hopper, sampled elsewhere)."""
    import json

    import deform_conv2d_goals

    recorded = ROOT / "bench" / "results" / "deform_conv2d_NVIDIA_H100_80GB_HBM3.json"
    rows = deform_conv2d_goals.rows(json.loads(recorded.read_text()), shim, *H100)
    assert len(rows) == 4 * 2 * 3  # shapes x offset groups x (strict fp32, TF32, fp16)
    picks = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        shape, og, mode, auto, ms = cells[:5]
        assert float(ms) > 0, row
        picks[(shape, og, mode)] = auto
    for (shape, _, mode), auto in picks.items():
        expected = "pipelined" if shape.startswith("N16") or mode == "fp32" else "sampled"
        assert auto == expected, (shape, mode, auto)


def offered(shim, cin: int, cout: int, precision: str, gpu: tuple, blas: bool, lt: bool) -> list:
    meta = dict(device="meta")
    x = torch.empty(2, cin, 16, 16, **meta)
    weight = torch.empty(cout, cin, 3, 3, **meta)
    offset = torch.empty(2, 18, 16, 16, **meta)
    return [
        shim.decode_tactic(t) for t in shim.offered_tactics(x, weight, offset, 1, 1, precision, blas, lt, gpu)
    ]


SAMPLED = [("sampled", v) for v in range(5)]  # cuBLAS's own GEMM choice, cuBLASLt's candidates #1-#4


def test_tactics_offered_for_timing(shim):
    """IPluginV3 tactics: every way the layer can run a shape, for TensorRT's builder to time."""
    h100 = (*H100, 132)
    assert offered(shim, 64, 64, "fp16", h100, blas=True, lt=True) == [*SAMPLED, ("pipelined", 0)]
    assert offered(shim, 64, 64, "fp16", h100, blas=True, lt=False) == [("sampled", 0), ("pipelined", 0)]
    assert offered(shim, 64, 64, "fp32", h100, blas=True, lt=True) == [*SAMPLED, ("pipelined", 0)]
    assert offered(shim, 64, 64, "tf32", h100, blas=True, lt=True) == [*SAMPLED, ("pipelined", 0)]
    # one way to run leaves nothing to time: the default (kAuto) runs it
    assert offered(shim, 64, 64, "fp16", h100, blas=False, lt=False) == []
    assert offered(shim, 48, 64, "fp32", h100, blas=True, lt=False) == []  # 48 channels: not in 32s
    # the pipelined kernel needs 64 channels per group and sm_80+ shared memory
    assert offered(shim, 48, 64, "fp16", h100, blas=True, lt=True) == SAMPLED
    assert offered(shim, 64, 64, "fp16", (*T4, 40), blas=True, lt=True) == SAMPLED


def test_malformed_tactics_are_refused(shim):
    for bad in (1, 15, 0x10, 0x25, 0x2F, 0x31, 0x40, -32):
        assert shim.decode_tactic(bad) is None, hex(bad)
    assert shim.decode_tactic(0) == ("auto", 0)
    assert shim.decode_tactic(0x24) == ("sampled", 4)


def test_fast_division_matches_integer_division(shim):
    """The sampled and pipelined kernels divide by run-time divisors (kernel width, taps, channels per offset
    group) with a multiply and a shift; the host copy of that arithmetic against Python's // over its whole
    stated range: every divisor up to 1024 with dividends around multiples of it, powers of two and their
    neighbours, and random pairs up to 2^31 - 1."""
    import random

    rng = random.Random(7)
    top = 2**31 - 1
    divisors = list(range(1, 1025)) + [2**k + e for k in range(10, 31) for e in (-1, 0, 1)] + [top]
    divisors += [rng.randrange(1, top + 1) for _ in range(200)]
    wrong = []
    for d in divisors:
        xs = {0, 1, d - 1, d, d + 1, top, top - 1, top - (top % d), rng.randrange(0, top + 1)}
        xs |= {m * d + e for m in (1, 2, 3, 1000, top // d) for e in (-1, 0, 1)}
        for x in sorted(v for v in xs if 0 <= v <= top):
            if shim.fast_divide(x, d) != x // d:
                wrong.append((x, d))
    assert not wrong, f"{len(wrong)} wrong quotients, first: {wrong[:5]}"
