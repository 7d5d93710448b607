"""CPU tier: the plumbing of the eager CUDA path (spec._cuda_kernel) with the GPU calls replaced by a
recording layer: what reaches _C.Layer (pointers, dtype names, shapes, stream, workspace), in which order,
what is refused before any call, and that the outputs the layer writes are what the op returns.
tests/gpu runs the real thing."""

from __future__ import annotations

import contextlib
import ctypes
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from trtkit import spec as spec_module  # noqa: E402
from trtkit.ops import MYSELU, myselu_reference  # noqa: E402


class RecordingLayer:
    instances: list[RecordingLayer] = []

    def __init__(self, name: str, attrs: dict[str, Any]) -> None:
        self.name, self.attrs, self.calls = name, attrs, []
        RecordingLayer.instances.append(self)

    def output_shapes(self, shapes: list[list[int]]) -> list[list[int]]:
        self.calls.append(("output_shapes", shapes))
        return [list(shapes[0])]

    def configure(self, inputs: list, outputs: list) -> None:
        self.calls.append(("configure", inputs, outputs))

    def workspace_size(self, inputs: list, outputs: list) -> int:
        self.calls.append(("workspace_size",))
        return 64

    def enqueue(self, inputs: list, outputs: list, workspace: int, stream: int) -> None:
        self.calls.append(("enqueue", inputs, outputs, workspace, stream))
        # Act as the kernel: write the reference result through the output pointer.
        (xp, xd, xs), (pp, pd, ps) = inputs
        x = _from_pointer(xp, xd, xs)
        p = _from_pointer(pp, pd, ps)
        y = myselu_reference(x, p, axes=self.attrs["axes"], gain=self.attrs["gain"])
        ctypes.memmove(outputs[0][0], y.data_ptr(), y.numel() * y.element_size())


def _from_pointer(ptr: int, dtype: str, shape: list[int]) -> Any:
    t = torch.empty(shape, dtype=getattr(torch, dtype))
    ctypes.memmove(t.data_ptr(), ptr, t.numel() * t.element_size())
    return t


class FakeModule:
    Layer = RecordingLayer


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Any:
    RecordingLayer.instances.clear()
    spec_module._LAYERS._items.clear()
    monkeypatch.setattr(spec_module, "compiled_module", lambda spec: FakeModule)
    monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())

    class Stream:
        cuda_stream = 0xABC

    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: Stream())
    yield spec_module._cuda_kernel(MYSELU)
    spec_module._LAYERS._items.clear()


@pytest.mark.parametrize(("xdt", "pdt"), [(torch.float32, torch.float32), (torch.float16, torch.float32)])
def test_calls_reach_the_layer_in_order(kernel: Any, xdt: Any, pdt: Any) -> None:
    x = torch.randn(2, 3, 5).to(xdt).transpose(1, 2)  # non-contiguous: the kernel must make it contiguous
    p = torch.rand(5).to(pdt)
    y = kernel(x, p, axes=[1], gain=2.0)
    assert y.dtype == xdt and y.shape == x.shape
    torch.testing.assert_close(y, myselu_reference(x, p, axes=[1], gain=2.0))
    (layer,) = RecordingLayer.instances
    assert layer.attrs == {"axes": [1], "gain": 2.0, "info": "{}"}
    names = [c[0] for c in layer.calls]
    assert names == ["output_shapes", "configure", "workspace_size", "enqueue"]
    xn, pn = spec_module.torch_dtype_name(xdt), spec_module.torch_dtype_name(pdt)
    assert layer.calls[1][1:] == ([(xn, [2, 5, 3]), (pn, [5])], [(xn, [2, 5, 3])])
    _, ins, outs, workspace, stream = layer.calls[3]
    assert [(d, s) for _, d, s in ins] == [(xn, [2, 5, 3]), (pn, [5])]
    assert ins[1][0] == p.data_ptr() and outs[0][0] == y.data_ptr()
    assert workspace != 0 and stream == 0xABC


def test_layers_are_cached_per_attributes(kernel: Any) -> None:
    x, p = torch.randn(2, 3), torch.rand(3)
    kernel(x, p)
    kernel(x, p)
    kernel(x, p, gain=3.0)
    assert len(RecordingLayer.instances) == 2


def test_empty_tensors_skip_the_launch(kernel: Any) -> None:
    y = kernel(torch.randn(0, 3), torch.rand(3))
    assert y.shape == (0, 3)
    assert [c[0] for c in RecordingLayer.instances[0].calls] == ["output_shapes", "configure"]


@pytest.mark.parametrize(
    ("x", "p", "error", "message"),
    [
        (
            torch.randn(2, 3),
            torch.rand(3).half(),
            TypeError,
            r"no variant for input dtypes \(float32, float16\)",
        ),
        (torch.randn(2, 3).double(), torch.rand(3).double(), TypeError, "no variant"),
        (torch.randn(2, 3), torch.rand(4), ValueError, "p has 4 elements"),
    ],
)
def test_refused_before_any_layer_call(kernel: Any, x: Any, p: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        kernel(x, p)
    assert all(not layer.calls for layer in RecordingLayer.instances)


def test_missing_compiled_module_is_a_clear_error() -> None:
    broken = spec_module.OpSpec(**{**_spec_fields(MYSELU), "module": "trtkit._no_such_module"})
    with pytest.raises(RuntimeError, match="needs the compiled module trtkit._no_such_module"):
        spec_module.compiled_module(broken)


def _spec_fields(s: Any) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(s, f.name) for f in dataclasses.fields(s) if f.init}
