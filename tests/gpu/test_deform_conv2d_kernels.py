"""deform_conv2d CUDA kernels against the float64 PyTorch reference over random configurations.

The three algorithms (fused implicit GEMM; sampling + cuBLAS; the pipelined fp16 kernel where channels come in
64s) run through bench/dcn_shim.cu (ctypes, no TensorRT
adapter needed), built with nvcc on first use. Outputs are poisoned with NaN before every run.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))

from trtkit.ops._deform_reference import deform_conv2d_reference, output_size  # noqa: E402
from trtkit.ops.deform_conv2d import weight_rows  # noqa: E402

pytestmark = pytest.mark.gpu

# ‖out − ref‖ / ‖ref‖ bounds: fp32 FFMA sums; TF32 products (10-bit mantissa); fp16 operands and output.
TOLERANCE = {"fp32": 2e-5, "tf32": 4e-3, "fp16": 4e-3}
NUM_RANDOM = int(os.environ.get("DCN_NUM_CONFIGS", "220"))


@pytest.fixture(scope="module")
def shim():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU: the deform_conv2d kernels need one")
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not found: needed to build bench/dcn_shim.cu")
    import dcn_shim

    path = Path(os.environ.get("DCN_SHIM", ROOT / "build" / "libdcn_shim.so"))
    if not path.exists():
        dcn_shim.build(path)
    return dcn_shim.Shim(path)


@pytest.fixture(scope="module")
def small_chunk_shim(shim, tmp_path_factory):
    """The shim with 1 MiB sampled chunks, so that batches run as many chunks (the default is 256 MiB)."""
    import dcn_shim

    path = tmp_path_factory.mktemp("shim") / "libdcn_shim_small_chunks.so"
    dcn_shim.build(path, extra=("-DTRTKIT_DCN_SAMPLED_CHUNK_BYTES=(size_t{1}<<20)",))
    return dcn_shim.Shim(path)


@pytest.fixture(scope="module")
def eight_producer_shim(shim, tmp_path_factory):
    """The shim as GPUs other than Hopper run fp16 64-channel pipelined tiles: 8 producer + 8 consumer warps
    and 32-byte corner-table entries (on Hopper: 16 + 4 and split tables)."""
    import dcn_shim

    path = tmp_path_factory.mktemp("shim") / "libdcn_shim_eight_producers.so"
    dcn_shim.build(path, extra=("-DTRTKIT_DCN_PIPE_MANY_MAJOR=0",))
    return dcn_shim.Shim(path)


ALGORITHMS = ["fused", "sampled"]


def need(shim, algorithm: str) -> None:
    if algorithm == "sampled" and shim.blas_status():
        pytest.skip(f"sampled algorithm needs cuBLAS: {shim.blas_status()}")


def random_pipelined_config(rng: random.Random, precision: str = "fp16") -> dict:
    """What the pipelined kernel takes: channels per group in 64s (fp16) or 32s (TF32), outputs per group in
    64s, channels per offset group in 8s (fp16) or 4s (TF32)."""
    cfg = random_config(rng)
    row, vec = (64, 8) if precision == "fp16" else (32, 4)
    groups, og = rng.choice([1, 1, 2, 3]), rng.choice([1, 1, 2, 3, 4, 8])
    base = row * groups * (vec * og) // _gcd(row * groups, vec * og)
    cin = base * rng.choice([1, 1, 2]) if base <= 256 else base
    return dict(
        cfg,
        cin=cin,
        cout=groups * 64 * rng.choice([1, 1, 2, 3, 4]),
        groups=groups,
        offset_groups=og,
        **_valid_geometry(cfg, rng),
    )


def _valid_geometry(cfg: dict, rng: random.Random) -> dict:
    """Kernel, stride, padding and dilation of cfg, the spatial size redrawn until the output is non-empty."""
    kh, kw = cfg["kernel"]
    while True:
        h, w = rng.randint(1, 24), rng.randint(1, 24)
        ho = output_size(h, kh, cfg["stride"][0], cfg["padding"][0], cfg["dilation"][0])
        wo = output_size(w, kw, cfg["stride"][1], cfg["padding"][1], cfg["dilation"][1])
        if ho > 0 and wo > 0:
            return dict(h=h, w=w)


def random_config(rng: random.Random) -> dict:
    while True:
        kh, kw = rng.randint(1, 5), rng.randint(1, 5)
        stride = (rng.randint(1, 3), rng.randint(1, 3))
        padding = (rng.randint(0, 2), rng.randint(0, 2))
        dilation = (rng.randint(1, 3), rng.randint(1, 3))
        groups = rng.choice([1, 1, 2, 3])
        offset_groups = rng.choice([1, 1, 2, 3, 4])
        base = groups * offset_groups // _gcd(groups, offset_groups)
        cin = base * rng.randint(1, max(1, 48 // base))
        cout = groups * rng.choice([1, 2, 5, 16, 33, 70])
        n = rng.choice([1, 1, 2, 3])
        h, w = rng.randint(1, 19), rng.randint(1, 19)
        ho = output_size(h, kh, stride[0], padding[0], dilation[0])
        wo = output_size(w, kw, stride[1], padding[1], dilation[1])
        if ho > 0 and wo > 0:
            break
    return dict(
        n=n,
        cin=cin,
        cout=cout,
        h=h,
        w=w,
        kernel=(kh, kw),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        offset_groups=offset_groups,
        mask=rng.random() < 0.6,
        bias=rng.random() < 0.6,
        offset_scale=rng.choice([0.5, 2.0, 6.0, 60.0]),
    )


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


LARGE = [  # every tile choice of the launcher (64/128/256 channels, 1 or 2 CTAs per SM), chunks and units
    dict(
        n=2,
        cin=64,
        cout=160,
        h=40,
        w=44,
        kernel=(3, 3),
        stride=(1, 1),
        padding=(1, 1),
        dilation=(1, 1),
        groups=1,
        offset_groups=4,
        mask=True,
        bias=True,
        offset_scale=2.0,
    ),
    dict(
        n=3,
        cin=72,
        cout=96,
        h=37,
        w=61,
        kernel=(3, 3),
        stride=(1, 1),
        padding=(1, 1),
        dilation=(2, 2),
        groups=2,
        offset_groups=3,
        mask=False,
        bias=True,
        offset_scale=4.0,
    ),
    dict(  # 256-channel tiles, about one wave
        n=2,
        cin=32,
        cout=256,
        h=64,
        w=64,
        kernel=(3, 3),
        stride=(1, 1),
        padding=(1, 1),
        dilation=(1, 1),
        groups=1,
        offset_groups=2,
        mask=True,
        bias=True,
        offset_scale=2.0,
    ),
    dict(  # 256-channel tiles (200 used), many waves: two CTAs per SM
        n=4,
        cin=48,
        cout=200,
        h=80,
        w=80,
        kernel=(3, 3),
        stride=(1, 1),
        padding=(1, 1),
        dilation=(1, 1),
        groups=1,
        offset_groups=2,
        mask=False,
        bias=True,
        offset_scale=3.0,
    ),
    dict(  # 256-channel tiles per group, two groups, non-square kernel
        n=5,
        cin=24,
        cout=300,
        h=41,
        w=57,
        kernel=(3, 2),
        stride=(1, 1),
        padding=(1, 0),
        dilation=(1, 1),
        groups=2,
        offset_groups=3,
        mask=True,
        bias=False,
        offset_scale=8.0,
    ),
    dict(  # kh*kw = 100 taps of 8 channels: one weight row per relayout block all the same
        n=2,
        cin=8,
        cout=12,
        h=14,
        w=15,
        kernel=(10, 10),
        stride=(1, 1),
        padding=(4, 4),
        dilation=(1, 1),
        groups=1,
        offset_groups=2,
        mask=True,
        bias=True,
        offset_scale=2.0,
    ),
    dict(  # weight rows of 384 x 25 elements (over 32 KB in fp32): the element-wise weight relayout
        n=1,
        cin=384,
        cout=8,
        h=9,
        w=7,
        kernel=(5, 5),
        stride=(1, 1),
        padding=(2, 2),
        dilation=(1, 1),
        groups=1,
        offset_groups=1,
        mask=True,
        bias=True,
        offset_scale=2.0,
    ),
    dict(
        n=1,
        cin=256,
        cout=256,
        h=64,
        w=64,
        kernel=(3, 3),
        stride=(1, 1),
        padding=(1, 1),
        dilation=(1, 1),
        groups=1,
        offset_groups=1,
        mask=True,
        bias=False,
        offset_scale=1.0,
    ),
]


def make_inputs(cfg: dict, dtype, seed: int):
    g = torch.Generator(device="cuda").manual_seed(seed)
    kh, kw = cfg["kernel"]
    ho = output_size(cfg["h"], kh, cfg["stride"][0], cfg["padding"][0], cfg["dilation"][0])
    wo = output_size(cfg["w"], kw, cfg["stride"][1], cfg["padding"][1], cfg["dilation"][1])
    og = cfg["offset_groups"]

    def rnd(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, device="cuda", dtype=torch.float64) * scale).to(dtype)

    x = rnd(cfg["n"], cfg["cin"], cfg["h"], cfg["w"])
    weight = rnd(cfg["cout"], cfg["cin"] // cfg["groups"], kh, kw, scale=0.3)
    offset = rnd(cfg["n"], 2 * og * kh * kw, ho, wo, scale=cfg["offset_scale"])
    mask = None
    if cfg["mask"]:
        mask = torch.rand(cfg["n"], og * kh * kw, ho, wo, generator=g, device="cuda").to(dtype)
    bias = rnd(cfg["cout"]) if cfg["bias"] else None
    return x, weight, offset, mask, bias


def check(
    shim,
    cfg: dict,
    precision: str,
    seed: int,
    algorithm: str = "auto",
    misalign: bool = False,
    tactic: int | None = None,
    gemm_rows: bool = False,
):
    """Runs cfg (with `algorithm`, or as the layer does after setTactic(tactic)) and compares with the float64
    reference. gemm_rows: the kernels get the weight as GEMM rows [Cout, R] (weight_layout=1, as trtkit.export
    writes it; the row length for this precision) and a NaN bias input, which they must not read. Returns the
    run callable (its variant_ran attribute is set for tactics)."""
    dtype = torch.float16 if precision == "fp16" else torch.float32
    x, weight, offset, mask, bias = make_inputs(cfg, dtype, seed)
    given, given_bias, kernel = weight, bias, None
    if gemm_rows:
        given = weight_rows(weight, bias, allow_tf32=precision == "tf32")
        given_bias = None if bias is None else torch.full_like(bias, float("nan"))
        kernel = tuple(cfg["kernel"])
    if misalign:  # input and weight: the same values one element past a 16-byte boundary

        def shifted(t: torch.Tensor) -> torch.Tensor:
            buffer = torch.empty(t.numel() + 1, dtype=dtype, device=t.device)
            buffer[1:].copy_(t.flatten())
            assert buffer[1:].data_ptr() % 16 != 0
            return buffer[1:].view_as(t)

        x, given = shifted(x), shifted(given)
    run = shim.prepare(
        x,
        given,
        offset,
        mask,
        given_bias,
        cfg["stride"],
        cfg["padding"],
        cfg["dilation"],
        cfg["groups"],
        cfg["offset_groups"],
        precision,
        algorithm,
        tactic,
        kernel,
    )
    out = run().clone()
    torch.cuda.synchronize()
    d = lambda t: None if t is None else t.double()  # noqa: E731
    ref = deform_conv2d_reference(
        d(x),
        d(weight),
        d(offset),
        d(mask),
        d(bias),
        cfg["stride"],
        cfg["padding"],
        cfg["dilation"],
        cfg["groups"],
        cfg["offset_groups"],
    )
    assert torch.isfinite(out).all(), f"non-finite or unwritten outputs for {cfg} {precision}"
    err = (out.double() - ref).norm() / ref.norm().clamp_min(1e-30)
    worst = (out.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-30)
    tol = TOLERANCE[precision]
    label = f"{algorithm if tactic is None else f'tactic {tactic:#x}'} {precision}" + (
        " GEMM rows" * gemm_rows
    )
    assert err < tol and worst < 10 * tol, f"{label} rel err {err:.3g} worst {worst:.3g} for {cfg}"
    return run


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("precision", ["fp32", "tf32", "fp16"])
def test_random_configs(shim, precision, algorithm):
    need(shim, algorithm)
    rng = random.Random(1234 + len(precision))
    failures = []
    for i in range(NUM_RANDOM):
        cfg = random_config(rng)
        try:
            check(shim, cfg, precision, seed=i, algorithm=algorithm)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, f"{len(failures)}/{NUM_RANDOM} failed; first: " + "\n".join(failures[:5])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("precision", ["fp32", "tf32", "fp16"])
@pytest.mark.parametrize("index", range(len(LARGE)))
def test_large_configs(shim, precision, index, algorithm):
    need(shim, algorithm)
    check(shim, LARGE[index], precision, seed=100 + index, algorithm=algorithm)


NUM_GEMM_ROWS = int(os.environ.get("DCN_NUM_GEMM_ROWS_CONFIGS", str(max(NUM_RANDOM // 2, 1))))


@pytest.mark.parametrize("algorithm", [*ALGORITHMS, "pipelined"])
@pytest.mark.parametrize("precision", ["fp32", "tf32", "fp16"])
def test_gemm_row_weights(shim, precision, algorithm):
    """weight_layout=1 (GEMM rows [Cout, R], as trtkit.export writes them): the sampled GEMM and the pipelined
    kernel read them in place, the fused kernel re-lays them; none reads the (NaN) bias input. Random geometry
    as test_random_configs (kernel sizes 1-5, strides, dilations, groups, offset groups, with and without
    mask and bias, offsets far outside, batch 1, odd sizes), plus the large shapes."""
    need(shim, algorithm)
    rng = random.Random(555 + len(precision) + len(algorithm))
    if algorithm == "pipelined":
        configs = [random_pipelined_config(rng, precision) for _ in range(NUM_GEMM_ROWS // 2)]
        configs += PIPELINED_LARGE
    else:
        configs = [random_config(rng) for _ in range(NUM_GEMM_ROWS)] + LARGE
    failures = []
    for i, cfg in enumerate(configs):
        try:
            check(shim, cfg, precision, seed=700 + i, algorithm=algorithm, gemm_rows=True)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, f"{len(failures)}/{len(configs)} failed; first: " + "\n".join(failures[:5])


# With 1 MiB chunks: 11 images per chunk and a short last chunk (30 = 11 + 11 + 8) at fp32, 21 + 9 at fp16.
MANY_SMALL_IMAGES = dict(LARGE[0], n=30, cin=16, cout=24, h=12, w=12, offset_groups=2)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("index", range(len(LARGE) + 1))
def test_sampled_many_chunks(small_chunk_shim, precision, index):
    """Batches split into several chunks, and images larger than the chunk budget, give the same result."""
    need(small_chunk_shim, "sampled")
    cfg = MANY_SMALL_IMAGES if index == len(LARGE) else dict(LARGE[index], n=max(LARGE[index]["n"], 3))
    check(small_chunk_shim, cfg, precision, seed=200 + index, algorithm="sampled")
    check(small_chunk_shim, cfg, precision, seed=250 + index, algorithm="sampled", gemm_rows=True)


def capture_and_replay(run):
    """Captures run() into a CUDA graph on a side stream, poisons its output with NaN, replays the graph."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(side), torch.cuda.graph(graph, stream=side):
        out = run()
    torch.cuda.current_stream().wait_stream(side)
    out.fill_(float("nan"))
    graph.replay()
    torch.cuda.synchronize()
    return graph, out


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_sampled_run_is_graph_capturable(shim, precision):
    """TensorRT may capture enqueue into a CUDA graph (trtexec --useCudaGraph): the sampled algorithm, cuBLAS
    included, must allocate nothing and sync nothing while captured, and the replay must recompute."""
    need(shim, "sampled")
    cfg = dict(LARGE[0], n=3)
    dtype = torch.float16 if precision == "fp16" else torch.float32
    x, weight, offset, mask, bias = make_inputs(cfg, dtype, seed=11)
    args = (cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"], cfg["offset_groups"])
    run = shim.prepare(x, weight, offset, mask, bias, *args, precision, "sampled")
    expected = run().clone()  # eager run (also warms cuBLAS up outside the capture)
    graph, out = capture_and_replay(run)
    # cuBLAS may pick another kernel while capturing: equal up to summation order, never stale or NaN
    tol = dict(rtol=2e-3, atol=2e-3) if precision == "fp16" else dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out, expected, **tol)
    x.mul_(-1)  # new input values, same buffers: the replay must recompute, not replay stale results
    expected_neg = run().clone()
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(out, expected_neg, **tol)
    assert not torch.allclose(expected_neg, expected, **tol)


NUM_PIPELINED = int(os.environ.get("DCN_NUM_PIPELINED_CONFIGS", "200"))

PIPELINED_LARGE = [  # both tile widths, the bench's shapes scaled down, odd pixel counts, several waves
    dict(LARGE[0], n=2, cin=256, cout=256, h=33, w=37, offset_groups=1),
    dict(LARGE[0], n=3, cin=64, cout=64, h=61, w=67, offset_groups=1, bias=False),
    dict(LARGE[0], n=2, cin=64, cout=64, h=45, w=50, offset_groups=4),  # 16 channels per offset group
    dict(
        LARGE[0], n=1, cin=192, cout=128, h=23, w=29, offset_groups=6, offset_scale=6.0
    ),  # 32, across stages
    dict(LARGE[0], n=1, cin=512, cout=128, h=19, w=21, offset_groups=4, mask=False),
    dict(LARGE[0], n=2, cin=128, cout=192, h=40, w=44, groups=1, offset_groups=2, offset_scale=60.0),
    dict(
        LARGE[0], n=1, cin=256, cout=256, h=16, w=16, groups=2, offset_groups=4, kernel=(5, 5), padding=(2, 2)
    ),
    # Enough pixel tiles for 128-channel tiles on an H100 (> 66 of them), 2-4 output-channel tiles per group.
    dict(LARGE[0], n=4, cin=64, cout=256, h=64, w=66, offset_groups=2),
    dict(LARGE[0], n=2, cin=64, cout=512, h=48, w=49, offset_groups=1, bias=False),
    dict(LARGE[0], n=3, cin=64, cout=384, h=64, w=64, groups=1, offset_groups=8, offset_scale=6.0),
    # Two groups of 256 output channels, few tiles: 64-channel tiles.
    dict(LARGE[0], n=1, cin=128, cout=512, h=20, w=30, groups=2, offset_groups=2),
]


@pytest.mark.parametrize("precision", ["fp16", "tf32", "fp32"])
def test_pipelined_random_configs(shim, precision):
    """The pipelined kernel (fp16, TF32, strict fp32) over random geometry: kernel sizes 1-5, strides,
    dilations, groups, offset groups, with and without mask and bias, offsets far outside, batch 1, odd
    sizes."""
    rng = random.Random(4321 + len(precision))
    failures = []
    for i in range(NUM_PIPELINED):
        cfg = random_pipelined_config(rng, precision)
        try:
            check(shim, cfg, precision, seed=300 + i, algorithm="pipelined")
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, f"{len(failures)}/{NUM_PIPELINED} failed; first: " + "\n".join(failures[:5])


@pytest.mark.parametrize("precision", ["fp16", "tf32", "fp32"])
@pytest.mark.parametrize("index", range(len(PIPELINED_LARGE)))
def test_pipelined_large_configs(shim, index, precision):
    check(shim, PIPELINED_LARGE[index], precision, seed=400 + index, algorithm="pipelined")


@pytest.mark.parametrize("misalign", [False, True])
@pytest.mark.parametrize(
    "algorithm, precision, change",
    [
        ("sampled", "fp16", dict(cin=200, cout=72, h=12, w=20)),  # a partial tile of 8 channels, of 48 pixels
        ("sampled", "fp32", dict(cin=200, cout=72, h=12, w=20)),
        ("pipelined", "fp16", dict(cin=128, cout=128, h=16, w=20, offset_groups=2)),
    ],
)
def test_transpose_vector_and_fallback(shim, algorithm, precision, change, misalign):
    """Aligned inputs are transposed to NHWC in 16-byte vectors (fp16: channels and H*W multiples of 8) or
    element pairs (fp32), and weight rows are read in 16-byte vectors; input and weight one element off take
    the element-wise paths: both as the reference."""
    need(shim, algorithm)
    cfg = dict(LARGE[0], n=2, groups=1, **change)
    check(shim, cfg, precision, seed=460, algorithm=algorithm, misalign=misalign)
    # GEMM rows one element off: the pipelined kernel copies them, cuBLAS reads them where they are
    check(shim, cfg, precision, seed=461, algorithm=algorithm, misalign=misalign, gemm_rows=True)


def test_pipelined_eight_producer_tiles(eight_producer_shim):
    """fp16 64-channel tiles with 8 + 8 warps (the layout of GPUs other than Hopper, run here through a shim
    built for it): random configurations and the large shapes, against the reference."""
    rng = random.Random(4399)
    failures = []
    for i in range(max(NUM_PIPELINED // 4, 1)):
        cfg = random_pipelined_config(rng, "fp16")
        try:
            check(eight_producer_shim, cfg, "fp16", seed=700 + i, algorithm="pipelined")
        except AssertionError as e:
            failures.append(str(e))
    for i, cfg in enumerate(PIPELINED_LARGE):
        try:
            check(eight_producer_shim, cfg, "fp16", seed=750 + i, algorithm="pipelined", gemm_rows=i % 2 == 1)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, f"{len(failures)} failed; first: " + "\n".join(failures[:5])


def test_pipelined_many_chunks(small_chunk_shim):
    """1 MiB of channels-last input per chunk: 5 images of 64 x 40 x 44 run as chunks of 4 and 1."""
    cfg = dict(PIPELINED_LARGE[1], n=5, h=40, w=44)
    check(small_chunk_shim, cfg, "fp16", seed=450, algorithm="pipelined")


@pytest.mark.parametrize(
    "precision, change, message",
    [
        ("fp32", {"cin": 48}, "multiples of 64 \\(fp16\\) or 32"),
        ("tf32", {"cin": 48}, "multiples of 64 \\(fp16\\) or 32"),
        ("fp16", {"cin": 96}, "multiples of 64"),
        ("fp16", {"offset_groups": 16}, "per offset group in multiples of 8"),
        ("tf32", {"offset_groups": 32}, "per offset group in multiples of 8 \\(fp16\\) or 4"),
        ("fp16", {"cout": 96}, "multiples of 64"),
    ],
)
def test_pipelined_rejects_what_it_cannot_run(shim, precision, change, message):
    cfg = dict(PIPELINED_LARGE[1], **change)
    with pytest.raises(RuntimeError, match=message):
        check(shim, cfg, precision, seed=0, algorithm="pipelined")


def test_pipelined_run_is_graph_capturable(shim):
    cfg = dict(PIPELINED_LARGE[0], n=2)
    x, weight, offset, mask, bias = make_inputs(cfg, torch.float16, seed=12)
    args = (cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"], cfg["offset_groups"])
    run = shim.prepare(x, weight, offset, mask, bias, *args, "fp16", "pipelined")
    expected = run().clone()
    graph, out = capture_and_replay(run)
    assert torch.equal(out, expected)  # same kernels, same order of sums: bit for bit
    x.mul_(-1)
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(out, run().clone())
    assert not torch.equal(out, expected)


def _auto(shim, cfg: dict, precision: str) -> str:
    dtype = torch.float16 if precision == "fp16" else torch.float32
    x, weight, offset, mask, bias = make_inputs(cfg, dtype, 0)
    return shim.auto_algorithm(x, weight, offset, mask, bias, cfg["groups"], cfg["offset_groups"], precision)


def test_auto_picks_the_measured_fastest(shim):
    """64 output channels per group: pipelined; strict fp32 on Hopper: pipelined at every width (fp64
    tensor cores); more output channels and shapes the pipelined kernel cannot take: sampled (cuBLAS;
    measurements behind it: bench/results)."""
    need(shim, "sampled")
    major = torch.cuda.get_device_capability()[0]
    c64 = PIPELINED_LARGE[1]  # 64 -> 64 channels
    assert _auto(shim, c64, "fp16") == ("pipelined" if major >= 8 else "sampled")
    assert _auto(shim, c64, "tf32") == ("pipelined" if major >= 8 else "sampled")
    assert _auto(shim, PIPELINED_LARGE[0], "fp16") == "sampled"  # 256 -> 256 channels
    assert _auto(shim, PIPELINED_LARGE[0], "tf32") == "sampled"
    assert _auto(shim, c64, "fp32") == ("pipelined" if major == 9 else "sampled")  # DMMA consumers (Hopper)
    assert _auto(shim, PIPELINED_LARGE[0], "fp32") == ("pipelined" if major == 9 else "sampled")
    assert _auto(shim, LARGE[0], "fp16") == "sampled"  # 160 output channels: not in 64s


def test_auto_uses_cublas_where_it_loads(shim):
    need(shim, "sampled")
    assert shim.blas_version() >= 10000, "the shim reports no loaded cuBLAS version"


def test_fallback_without_cublas(shim):
    """With cuBLAS unloadable, the status says why and "auto" still computes the right result (fused)."""
    code = f"""
import os, sys, random
sys.path[:0] = [{str(ROOT / "bench")!r}, {str(Path(__file__).parent)!r}]
import dcn_shim, test_deform_conv2d_kernels as t
shim = dcn_shim.Shim(dcn_shim.Path({str(os.environ.get("DCN_SHIM", ROOT / "build" / "libdcn_shim.so"))!r}))
status = shim.blas_status()
assert "cannot load /nonexistent/libcublas.so" in status, status
t.check(shim, t.LARGE[0], "fp16", seed=7, algorithm="auto")
t.check(shim, t.LARGE[1], "fp32", seed=8, algorithm="auto")
assert t._auto(shim, t.LARGE[0], "fp16") == "fused", t._auto(shim, t.LARGE[0], "fp16")
# without cuBLAS the pipelined kernel takes every fp16 shape it supports, 256 output channels included
import torch
if torch.cuda.get_device_capability()[0] >= 8:
    assert t._auto(shim, t.PIPELINED_LARGE[0], "fp16") == "pipelined"
    t.check(shim, t.PIPELINED_LARGE[0], "fp16", seed=9, algorithm="auto")
try:
    t.check(shim, t.LARGE[0], "fp32", seed=7, algorithm="sampled")
    raise SystemExit("the sampled algorithm ran without cuBLAS")
except RuntimeError as e:
    assert "needs cuBLAS" in str(e), e
print("ok")
"""
    env = dict(os.environ, TRTKIT_CUBLAS_LIBRARY="/nonexistent/libcublas.so")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("algorithm", [*ALGORITHMS, "pipelined"])
def test_empty_batch_writes_nothing(shim, algorithm):
    need(shim, algorithm)
    cfg = dict(LARGE[0], n=0)
    precision = "fp16" if algorithm == "pipelined" else "fp32"
    dtype = torch.float16 if algorithm == "pipelined" else torch.float32
    x, weight, offset, mask, bias = make_inputs(cfg, dtype, 0)
    run = shim.prepare(
        x,
        weight,
        offset,
        mask,
        bias,
        cfg["stride"],
        cfg["padding"],
        cfg["dilation"],
        cfg["groups"],
        cfg["offset_groups"],
        precision,
        algorithm,
    )
    assert run().numel() == 0


def test_invalid_params_rejected(shim):
    cfg = dict(LARGE[1])
    x, weight, offset, mask, bias = make_inputs(cfg, torch.float32, 0)
    with pytest.raises(ValueError, match="groups must divide"):
        shim.prepare(
            x,
            weight,
            offset,
            mask,
            bias,
            cfg["stride"],
            cfg["padding"],
            cfg["dilation"],
            5,
            cfg["offset_groups"],
            "fp32",
        )


# ---- tactics (IPluginV3: TensorRT's builder times every tactic the layer offers and keeps the fastest) ----

BENCH_SHAPES = [  # the benchmark's shapes, at reduced batch where the GEMM shape class stays the same
    dict(LARGE[0], n=1, cin=256, cout=256, h=64, w=64, groups=1, offset_groups=1, mask=True, bias=True),
    dict(LARGE[0], n=2, cin=512, cout=512, h=32, w=32, groups=1, offset_groups=4, mask=True, bias=True),
    dict(LARGE[0], n=2, cin=64, cout=64, h=128, w=128, groups=1, offset_groups=4, mask=True, bias=True),
]


def _tactics(shim, cfg: dict, precision: str) -> list[int]:
    dtype = torch.float16 if precision == "fp16" else torch.float32
    x, weight, offset, *_ = make_inputs(cfg, dtype, seed=0)
    return shim.tactics(x, weight, offset, cfg["groups"], cfg["offset_groups"], precision)


@pytest.mark.parametrize("precision", ["fp32", "tf32", "fp16"])
def test_every_offered_tactic_is_correct(shim, precision):
    """Every tactic offered for random configurations and the benchmark's shapes computes the op; the GEMM
    variants really run cuBLASLt's candidates (not silently cuBLAS's own choice) on the benchmark's shapes."""
    need(shim, "sampled")
    rng = random.Random(77 + len(precision))
    configs = [random_config(rng) for _ in range(int(os.environ.get("DCN_NUM_TACTIC_CONFIGS", "24")))]
    configs += [random_pipelined_config(rng, "fp16" if precision == "fp16" else "tf32") for _ in range(6)]
    failures, variants_run, variants_offered = [], 0, 0
    for i, cfg in enumerate([*BENCH_SHAPES, *configs]):
        tactics = _tactics(shim, cfg, precision)
        assert len(set(tactics)) == len(tactics) and 0 not in tactics, tactics
        assert tactics == [] or len(tactics) >= 2, tactics  # one way to run: nothing to time
        for t in tactics:
            algorithm, variant = shim.decode_tactic(t)
            assert algorithm in ("sampled", "pipelined"), (t, algorithm)
            try:
                run = check(shim, cfg, precision, seed=300 + i, tactic=t)
            except AssertionError as e:
                failures.append(str(e))
                continue
            if variant and i < len(BENCH_SHAPES):
                variants_offered += 1
                variants_run += int(run.variant_ran)
            if i < len(BENCH_SHAPES):  # the GEMM variants reading GEMM rows where they are
                try:
                    run = check(shim, cfg, precision, seed=300 + i, tactic=t, gemm_rows=True)
                except AssertionError as e:
                    failures.append(str(e))
                    continue
                if variant:
                    variants_offered += 1
                    variants_run += int(run.variant_ran)
    assert not failures, f"{len(failures)} failed; first: " + "\n".join(failures[:5])
    # cuBLASLt may offer fewer candidates for some shape; most of the benchmark shapes' variants must exist.
    assert variants_offered > 0 and variants_run >= variants_offered // 2, (variants_run, variants_offered)


def test_tactics_offered_for_the_benchmark_shapes(shim):
    """fp16 and strict fp32 offer the pipelined kernel and the sampled GEMM variants (cuBLAS's own choice and
    cuBLASLt's candidates, numbered from 0 without gaps)."""
    need(shim, "sampled")
    fp16 = [shim.decode_tactic(t) for t in _tactics(shim, BENCH_SHAPES[2], "fp16")]
    assert ("pipelined", 0) in fp16 and ("sampled", 0) in fp16, fp16
    fp32 = [shim.decode_tactic(t) for t in _tactics(shim, BENCH_SHAPES[0], "fp32")]
    assert ("pipelined", 0) in fp32, fp32
    sampled = sorted(v for a, v in fp32 if a == "sampled")
    assert sampled == list(range(len(sampled))) and sampled, fp32


def test_decode_rejects_malformed_tactics(shim):
    for bad in (1, 15, 16, 0x25, 0x2F, 0x31, 0x40, -32):
        assert shim.decode_tactic(bad) is None, bad
    assert shim.decode_tactic(0) == ("auto", 0)
    assert shim.decode_tactic(0x22) == ("sampled", 2)
    assert shim.decode_tactic(0x30) == ("pipelined", 0)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_gemm_variant_is_graph_capturable(shim, precision):
    """A GEMM variant (cublasLtMatmul with a prepared plan) allocates nothing while captured, and replays."""
    need(shim, "sampled")
    cfg = dict(LARGE[0], n=3)
    dtype = torch.float16 if precision == "fp16" else torch.float32
    x, weight, offset, mask, bias = make_inputs(cfg, dtype, seed=12)
    args = (cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"], cfg["offset_groups"])
    variants = [t for t in _tactics(shim, cfg, precision) if shim.decode_tactic(t)[1] > 0]
    if not variants:
        pytest.skip("cuBLASLt offers no GEMM variant here")
    run = shim.prepare(x, weight, offset, mask, bias, *args, precision, tactic=variants[0])
    expected = run().clone()  # the plan was made by shim.prepare, outside the capture
    graph, out = capture_and_replay(run)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def cuda_kernels_of(run) -> list[str]:
    """Names of the CUDA kernels one call of run() launches (torch.profiler, after a warm-up call)."""
    from torch.profiler import ProfilerActivity, profile

    run()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run()
        torch.cuda.synchronize()
    return [e.key for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA]


# Sampler grids of several waves at 4 blocks per SM, even per 1 MiB chunk of one image (the weight relayout
# runs behind the sampler on sm_90+), and of one wave (it runs in the prepare pass); two weight groups, bias,
# masks, offsets far out. With 1 MiB chunks the relayout must happen once, before the first chunk's GEMM.
RELAYOUT_CASES = {
    "several waves": dict(LARGE[0], n=2, cin=64, cout=96, h=160, w=160, groups=2, offset_groups=2, bias=True),
    "one wave": dict(LARGE[0], n=1, cin=32, cout=48, h=16, w=16, groups=2, offset_groups=1, bias=True),
}


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("case", sorted(RELAYOUT_CASES))
def test_sampled_weight_relayout_placement(shim, small_chunk_shim, precision, case):
    """The weight relayout goes behind the sampler (a dependent launch filling the last wave's idle SMs, that
    waits for the sampler before it completes) only where the sampler takes more than one wave and the GPU has
    programmatic dependent launch; either way, with one chunk or many, the result matches float64."""
    need(shim, "sampled")
    cfg = RELAYOUT_CASES[case]
    expected = case == "several waves" and torch.cuda.get_device_capability()[0] >= 9
    for which, s in (("one chunk", shim), ("1 MiB chunks", small_chunk_shim)):
        run = check(s, cfg, precision, seed=300 + len(case), algorithm="sampled")
        behind = [k for k in cuda_kernels_of(run) if "relayoutWeightBehindSampler" in k]
        assert bool(behind) == expected, f"{case}, {which}: relayout launched behind the sampler: {behind}"
