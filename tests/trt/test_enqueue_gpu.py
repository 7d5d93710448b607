"""trt + gpu tier: MYSELU enqueued through the plugin vtables (V2 and V3, made by the real TensorRT registry
from the parser's fields, configured as TensorRT would) on PyTorch's stream, against a PyTorch reference;
V2 and V3 must produce identical bytes. One command on a GPU machine: tools/gpu_trt_tier.sh."""

from __future__ import annotations

from typing import Any

import pytest
from trt_helpers import NAMESPACE, V2, V3, create_from_node, myselu_node

pytestmark = [pytest.mark.trt, pytest.mark.gpu]

torch = pytest.importorskip("torch")

# (x shape, axes, x dtype, p dtype, gain)
CASES = [
    ([2, 3, 4], [1], "float32", "float32", 1.0),
    ([4, 16, 9, 7], [1], "float32", "float32", 0.5),
    ([2, 3, 5, 6], [1, 2], "float16", "float32", 1.25),
    ([5, 7, 11], [-1], "float16", "float16", -2.0),
    ([3, 1000], [], "float32", "float32", 1.0),
    ([8, 64, 33, 17], [1], "float16", "float16", 1.0),
    ([1], [0], "float32", "float32", 3.0),
]
TORCH = {"float32": torch.float32, "float16": torch.float16}


@pytest.fixture(scope="module")
def cuda() -> Any:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    return torch.device("cuda")


def reference(x: Any, p: Any, axes: list[int], gain: float) -> Any:
    rank = x.dim()
    axes = [a + rank if a < 0 else a for a in axes]
    shape = [1] * rank
    for a in axes:
        shape[a] = x.shape[a]
    beta = p.float().reshape(shape)
    xf = x.float()
    return (gain * xf * torch.sigmoid(beta * xf)).to(x.dtype)


def inputs(case: tuple, device: Any) -> tuple[Any, Any]:
    shape, axes, xt, pt, _ = case
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=g) * 3).to(device=device, dtype=TORCH[xt])
    rank = len(shape)
    pshape = [shape[a + rank if a < 0 else a] for a in axes] or [1]
    p = torch.randn(pshape, generator=g).to(device=device, dtype=TORCH[pt])
    return x, p


def tensor(t: Any) -> tuple[int, str, list[int]]:
    return (t.data_ptr(), str(t.dtype).replace("torch.", ""), list(t.shape))


def desc(t: Any) -> tuple[str, list[int]]:
    return (str(t.dtype).replace("torch.", ""), list(t.shape))


def run_v2(trt: Any, registry: Any, harness: Any, case: tuple, x: Any, p: Any, sync: bool = True) -> Any:
    _, axes, _, _, gain = case
    plugin = harness.PluginV2(create_from_node(trt, registry, myselu_node(V2, axes=axes, gain=gain)))
    y = torch.empty_like(x)
    plugin.configure_plugin([desc(x), desc(p)], [desc(y)])
    ws = plugin.get_workspace_size([desc(x), desc(p)], [desc(y)])
    workspace = torch.empty(max(ws, 1), dtype=torch.uint8, device=x.device)
    runner = plugin.clone()  # TensorRT runs clones
    runner.attach_to_context()
    stream = torch.cuda.current_stream().cuda_stream
    assert runner.enqueue([tensor(x), tensor(p)], [tensor(y)], workspace.data_ptr(), stream) == 0
    if sync:
        torch.cuda.synchronize()
    return y


def run_v3(trt: Any, registry: Any, harness: Any, case: tuple, x: Any, p: Any) -> Any:
    import numpy as np

    _, axes, _, _, gain = case
    built = harness.PluginV3(create_from_node(trt, registry, myselu_node(V3, axes=axes, gain=gain)))
    y = torch.empty_like(x)
    assert built.configure_plugin([desc(x), desc(p)], [desc(y)]) == 0
    # As an engine would: serialize at build, recreate at runtime from the field, attach, onShapeChange.
    ((name, _, data, _),) = built.get_fields_to_serialize()
    creator = registry.get_creator("MYSELU", V3, NAMESPACE)
    fc = trt.PluginFieldCollection(
        [trt.PluginField(name, np.frombuffer(data, np.uint8).copy(), trt.PluginFieldType.UNKNOWN)]
    )
    restored = harness.PluginV3(creator.create_plugin("myselu_0", fc, trt.TensorRTPhase.RUNTIME))
    runner = restored.attach_to_context()
    assert runner.on_shape_change([desc(x), desc(p)], [desc(y)]) == 0
    ws = runner.get_workspace_size([desc(x), desc(p)], [desc(y)])
    workspace = torch.empty(max(ws, 1), dtype=torch.uint8, device=x.device)
    stream = torch.cuda.current_stream().cuda_stream
    assert runner.enqueue([tensor(x), tensor(p)], [tensor(y)], workspace.data_ptr(), stream) == 0
    torch.cuda.synchronize()
    return y


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-axes{c[1]}-{c[2]}-{c[3]}" for c in CASES])
def test_v2_and_v3_enqueue_match_pytorch_and_each_other(
    cuda: Any, trt: Any, registry: Any, harness: Any, log: Any, case: tuple
) -> None:
    x, p = inputs(case, cuda)
    want = reference(x, p, case[1], case[4])
    y2 = run_v2(trt, registry, harness, case, x, p)
    y3 = run_v3(trt, registry, harness, case, x, p)
    tol = {"float32": (1e-5, 1e-6), "float16": (2e-3, 2e-3)}[case[2]]
    torch.testing.assert_close(y2, want, rtol=tol[0], atol=tol[1])
    torch.testing.assert_close(y3, want, rtol=tol[0], atol=tol[1])
    assert torch.equal(y2, y3), "the V2 and V3 adapters must run the same kernel with the same arguments"
    assert log() == []


def test_enqueue_runs_on_the_stream_it_is_given(cuda: Any, trt: Any, registry: Any, harness: Any) -> None:
    # On a non-blocking side stream: a long spin, then x is written, then the plugin runs. A plugin that
    # ignored the stream (ran on the legacy default stream) would read x before the write: zeros out.
    if not hasattr(torch.cuda, "_sleep"):
        pytest.skip("torch.cuda._sleep is not available")
    case = CASES[1]
    source, p = inputs(case, cuda)
    x = torch.zeros_like(source)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        torch.cuda._sleep(100_000_000)
        x.copy_(source)
        y = run_v2(trt, registry, harness, case, x, p, sync=False)
    torch.cuda.synchronize()
    torch.testing.assert_close(y, reference(source, p, case[1], case[4]), rtol=1e-5, atol=1e-6)


ALLOC_SCRIPT = r"""
import torch
import trtkit
from trtkit import _trt_harness as H
from trt_helpers import V2, V3, create_from_node, myselu_node

trt = trtkit.tensorrt_runtime()
trtkit.load()
registry = trt.get_plugin_registry()
info = '{"layer": "a source-layer name long enough to leave any small-string buffer"}'
x = torch.randn(4, 16, 8, 8, device="cuda")
p = torch.randn(16, device="cuda")
y = torch.empty_like(x)
d = lambda t: (str(t.dtype).replace("torch.", ""), list(t.shape))
ptr = lambda t: (t.data_ptr(),) + d(t)
stream = torch.cuda.current_stream().cuda_stream
counts = []

v2 = H.PluginV2(create_from_node(trt, registry, myselu_node(V2, info=info)))
v2.configure_plugin([d(x), d(p)], [d(y)])
r2 = v2.clone()
r2.attach_to_context()
v3 = H.PluginV3(create_from_node(trt, registry, myselu_node(V3, info=info)))
assert v3.configure_plugin([d(x), d(p)], [d(y)]) == 0
r3 = v3.attach_to_context()
assert r3.on_shape_change([d(x), d(p)], [d(y)]) == 0
for runner in (r2, r3):
    assert runner.enqueue([ptr(x), ptr(p)], [ptr(y)], 0, stream) == 0  # warm-up: CUDA loads the kernel lazily
    for _ in range(3):
        assert runner.enqueue([ptr(x), ptr(p)], [ptr(y)], 0, stream) == 0
        counts.append(H.last_enqueue_allocations())

# DeformConv2d, with its workspace, created from the fields the parser would pass.
import numpy as np

F, T = trt.PluginField, trt.PluginFieldType
ints = {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1]}
ints.update(groups=[1], offset_groups=[1], use_mask=[1])


def dcn_plugin(version):
    fc = trt.PluginFieldCollection([F(k, np.array(v, np.int32), T.INT32) for k, v in ints.items()])
    creator = registry.get_creator("DeformConv2d", version, "trtkit")
    if version == V2:
        return H.PluginV2(creator.create_plugin("dcn", fc))
    return H.PluginV3(creator.create_plugin("dcn", fc, trt.TensorRTPhase.BUILD))


ins = [torch.randn(2, 8, 9, 9, device="cuda"), torch.randn(16, 8, 3, 3, device="cuda"),
       torch.randn(2, 18, 9, 9, device="cuda"), torch.rand(2, 9, 9, 9, device="cuda"),
       torch.randn(16, device="cuda")]
o = torch.empty(2, 16, 9, 9, device="cuda")
dv2 = dcn_plugin(V2)
dv2.configure_plugin([d(t) for t in ins], [d(o)])
q2 = dv2.clone()
q2.attach_to_context()
dv3 = dcn_plugin(V3)
assert dv3.configure_plugin([d(t) for t in ins], [d(o)]) == 0
q3 = dv3.attach_to_context()
assert q3.on_shape_change([d(t) for t in ins], [d(o)]) == 0
for runner in (q2, q3):
    ws = torch.empty(max(runner.get_workspace_size([d(t) for t in ins], [d(o)]), 1), dtype=torch.uint8,
                     device="cuda")
    args = ([ptr(t) for t in ins], [ptr(o)], ws.data_ptr(), stream)
    assert runner.enqueue(*args) == 0  # warm-up
    for _ in range(3):
        assert runner.enqueue(*args) == 0
        counts.append(H.last_enqueue_allocations())
torch.cuda.synchronize()
print("enqueue allocations", counts)
"""


def test_enqueue_allocates_nothing_on_the_heap(cuda: Any, harness: Any, tmp_path: Any) -> None:
    # The rule: enqueue does no heap allocation (several execution contexts run clones concurrently, and
    # enqueue is on the inference hot path). Checked with an LD_PRELOADed per-thread malloc counter.
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the malloc counter")
    source = Path(__file__).resolve().parents[2] / "csrc" / "trt" / "harness" / "malloc_counter.c"
    counter = tmp_path / "libmalloc_counter.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(counter), str(source)], check=True)
    env = dict(os.environ, LD_PRELOAD=str(counter))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent)] + [p for p in sys.path if p])
    proc = subprocess.run(
        [sys.executable, "-c", ALLOC_SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # MYSELU then DeformConv2d, V2 then V3, three enqueues each
    assert f"enqueue allocations {[0] * 12}" in proc.stdout, proc.stdout + proc.stderr[-2000:]


def test_clones_enqueue_concurrently(cuda: Any, trt: Any, registry: Any, harness: Any, log: Any) -> None:
    # Several execution contexts run clones of one plugin at once: each thread here owns a clone (V2 and V3
    # alternate) and a stream; the harness releases the GIL around enqueue, so the calls really overlap.
    import threading

    case = CASES[2]
    _, axes, _, _, gain = case
    x, p = inputs(case, cuda)
    want = reference(x, p, axes, gain)
    v2 = harness.PluginV2(create_from_node(trt, registry, myselu_node(V2, axes=axes, gain=gain)))
    v3 = harness.PluginV3(create_from_node(trt, registry, myselu_node(V3, axes=axes, gain=gain)))
    descs = ([desc(x), desc(p)], [desc(x)])
    v2.configure_plugin(*descs)
    assert v3.configure_plugin(*descs) == 0
    errors: list[str] = []

    def worker(i: int) -> None:
        try:
            if i % 2 == 0:
                runner = v2.clone()
                runner.attach_to_context()
            else:
                runner = v3.attach_to_context()
                assert runner.on_shape_change(*descs) == 0
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.default_stream())
            with torch.cuda.stream(stream):
                outs = [torch.empty_like(x) for _ in range(20)]
                for y in outs:
                    status = runner.enqueue([tensor(x), tensor(p)], [tensor(y)], 0, stream.cuda_stream)
                    assert status == 0, status
            stream.synchronize()
            for y in outs:
                torch.testing.assert_close(y, want, rtol=2e-3, atol=2e-3)
        except Exception as e:  # reported below: pytest does not see exceptions raised in threads
            errors.append(f"thread {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert log() == []
