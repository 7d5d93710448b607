"""trt + gpu tier, for every op the kit ships: a model using the op is exported (legacy exporter, so the test
also runs where onnxscript is missing), the plugin is created by the real TensorRT registry from the fields
the parser derives from the exported node — as IPluginV2DynamicExt and as IPluginV3 — and enqueued through
the C++ harness on PyTorch's stream in fp32 and fp16, against the model run eagerly in float64 on the CPU.
V2 and V3 must give identical bytes (one layer, one kernel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from trt_helpers import NAMESPACE, V2, V3, create_from_node

pytestmark = [pytest.mark.trt, pytest.mark.gpu]

torch = pytest.importorskip("torch")
trtkit = pytest.importorskip("trtkit")


class MySeluNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.p = torch.nn.Parameter(torch.rand(6) + 0.5)

    def forward(self, x: Any) -> Any:
        return trtkit.ops.myselu(x, self.p, axes=[1], gain=1.5, info='{"layer": "act"}')


class DeformNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(8, 2, 3, 3) * 0.2)
        self.bias = torch.nn.Parameter(torch.randn(8))

    def forward(self, x: Any, offset: Any, mask: Any) -> Any:
        return trtkit.ops.deform_conv2d(
            x, offset, self.weight, self.bias, stride=(2, 1), padding=1, mask=mask
        )


def myselu_case() -> tuple[torch.nn.Module, tuple]:
    return MySeluNet(), (torch.randn(3, 6, 5, 7) * 3,)


def deform_case() -> tuple[torch.nn.Module, tuple]:
    n, cin, h, w, og = 2, 4, 9, 11, 2
    ho, wo = (h + 2 - 3) // 2 + 1, w
    x = torch.randn(n, cin, h, w)
    offset = torch.randn(n, 2 * og * 9, ho, wo) * 3  # many samples fall outside the image
    mask = torch.rand(n, og * 9, ho, wo)
    return DeformNet(), (x, offset, mask)


CASES: dict[str, Callable[[], tuple[torch.nn.Module, tuple]]] = {
    "MYSELU": myselu_case,
    "DeformConv2d": deform_case,
}


def test_every_shipped_op_has_a_case() -> None:
    from trtkit import _C

    assert set(CASES) == set(_C.layer_names())


def plugin_inputs(model: onnx.ModelProto, node: onnx.NodeProto, args: tuple) -> list[Any]:
    """The node's inputs as CPU tensors: graph inputs from args, the rest from initializers."""
    graph_inputs = [i.name for i in model.graph.input]
    inits = {i.name: torch.from_numpy(np.array(numpy_helper.to_array(i))) for i in model.graph.initializer}
    out = []
    for name in node.input:
        if name in graph_inputs:
            out.append(args[graph_inputs.index(name)])
        else:
            assert name in inits, f"{name} is neither a graph input nor an initializer"
            out.append(inits[name])
    return out


def desc(t: Any) -> tuple[str, list[int]]:
    return (str(t.dtype).replace("torch.", ""), list(t.shape))


def tensor(t: Any) -> tuple[int, str, list[int]]:
    return (t.data_ptr(), str(t.dtype).replace("torch.", ""), list(t.shape))


def enqueue(plugin: Any, inputs: list[Any], out: Any) -> None:
    ws = plugin.get_workspace_size([desc(t) for t in inputs], [desc(out)])
    workspace = torch.empty(max(ws, 1), dtype=torch.uint8, device=out.device)
    stream = torch.cuda.current_stream().cuda_stream
    assert plugin.enqueue([tensor(t) for t in inputs], [tensor(out)], workspace.data_ptr(), stream) == 0
    torch.cuda.synchronize()


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("op", sorted(CASES))
def test_exported_op_runs_through_v2_and_v3(
    tmp_path: Path, trt: Any, registry: Any, harness: Any, log: Any, op: str, dtype: str
) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    torch.manual_seed(0)
    net, args = CASES[op]()
    net = net.eval()
    with torch.no_grad():
        want = net.double()(*[a.double() for a in args]).float()
    net = net.float()
    outs = {}
    for version, flavour in ((V2, "v2"), (V3, "v3")):
        path = tmp_path / f"{op}_{flavour}.onnx"
        model = trtkit.export(net, args, path, dynamo=False, plugin=flavour)
        (node,) = [n for n in model.graph.node if n.domain == NAMESPACE]
        assert node.op_type == op
        raw = create_from_node(trt, registry, node)
        plugin = harness.PluginV2(raw) if version == V2 else harness.PluginV3(raw)
        cuda_dtype = getattr(torch, dtype)
        inputs = [t.to("cuda", cuda_dtype) for t in plugin_inputs(model, node, args)]
        out = torch.full(want.shape, float("nan"), device="cuda", dtype=cuda_dtype)
        if version == V2:
            plugin.configure_plugin([desc(t) for t in inputs], [desc(out)])
            runner = plugin.clone()
            runner.attach_to_context()
        else:
            assert plugin.configure_plugin([desc(t) for t in inputs], [desc(out)]) == 0
            runner = plugin.attach_to_context()
            assert runner.on_shape_change([desc(t) for t in inputs], [desc(out)]) == 0
        enqueue(runner, inputs, out)
        outs[version] = out
        tol = {"float32": (1e-4, 1e-4), "float16": (2e-2, 2e-2)}[dtype]
        torch.testing.assert_close(out.float().cpu(), want, rtol=tol[0], atol=tol[1])
    assert torch.equal(outs[V2], outs[V3]), "V2 and V3 must run the same kernel with the same arguments"
    assert log() == []
