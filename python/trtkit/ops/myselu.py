"""MYSELU: y = gain * x * sigmoid(beta * x), beta = p broadcast over the axes listed in ``axes``.

The op spec below is the Python side's single source of truth for the plugin (plugins/myselu): it must
agree with the C++ LayerSchema, which tests/cpu/test_schema_agreement.py checks against ``trtkit._C``.

Two front ends give the same ONNX node under both exporters:

* ``myselu(x, p, ...)`` -> the torch.library op ``torch.ops.trtkit.myselu`` (the kit's default);
* ``MySeluFunction.apply(x, p, axes, gain, info)``: a ``torch.autograd.Function`` with a ``symbolic``
  (the classic legacy-exporter design); its forward calls the custom op, so the dynamo exporter, which
  ignores ``symbolic``, still finds the kit op.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Optional

import torch

from trtkit.spec import Attr, OpSpec, Shape, TensorArg, UnknownDim, emit_legacy_node, prod

__all__ = ["MYSELU", "MySelu", "MySeluFunction", "myselu", "myselu_reference"]


def normalize_axes(axes: Sequence[int], rank: int) -> list[int]:
    """Axes made non-negative; raises ValueError unless they are a contiguous increasing run of x's axes."""
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"MYSELU: axis {a} is out of range for x of rank {rank}")
        out.append(a + rank if a < 0 else a)
    for prev, cur in zip(out, out[1:]):
        if cur != prev + 1:
            raise ValueError(
                f"MYSELU: axes {list(axes)} must be a contiguous increasing run of x's axes "
                f"(got {out} for rank {rank})"
            )
    return out


def beta_shape(x_shape: Sequence[Any], axes: Sequence[int]) -> list[Any]:
    """The shape p is viewed as to broadcast against x: x's sizes on ``axes``, 1 elsewhere."""
    norm = normalize_axes(axes, len(x_shape))
    return [x_shape[i] if i in norm else 1 for i in range(len(x_shape))]


def _check_info(info: str) -> None:
    if info == "":
        return

    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        value = json.loads(info, parse_constant=reject_constant)
    except ValueError as e:
        raise ValueError(f"MYSELU: attribute 'info' must be a JSON object, got {info!r} ({e})") from None
    if not isinstance(value, dict):
        raise ValueError(f"MYSELU: attribute 'info' must be a JSON object, got {info!r}")


def _validate(attrs: dict[str, Any], shapes: Optional[Sequence[Optional[Shape]]]) -> None:
    _check_info(attrs["info"])
    if not shapes or shapes[0] is None:
        return
    x_shape = shapes[0]
    if len(x_shape) < 1:
        raise ValueError("MYSELU: x must have rank >= 1")
    sizes = beta_shape(x_shape, attrs["axes"])
    p_shape = shapes[1] if len(shapes) > 1 else None
    if p_shape is None:
        return
    want, have = prod(sizes), prod(p_shape)
    if isinstance(want, UnknownDim) or isinstance(have, UnknownDim) or not isinstance(want, int):
        return  # not known as numbers here (ONNX inference with symbolic dims, or fake tensors' SymInts)
    if want != have:
        axes = normalize_axes(attrs["axes"], len(x_shape))
        raise ValueError(
            f"MYSELU: p has {have} elements but x's sizes on axes {axes} multiply to {want} "
            f"(x shape {list(x_shape)}, p shape {list(p_shape)})"
        )


def _output_shapes(shapes: Sequence[Shape], attrs: dict[str, Any]) -> list[list[Any]]:
    return [list(shapes[0])]


def myselu_reference(
    x: torch.Tensor, p: torch.Tensor, *, axes: Sequence[int] = (1,), gain: float = 1.0, info: str = "{}"
) -> torch.Tensor:
    """PyTorch reference; computes in float32 (float64 stays float64), returns x's dtype."""
    compute = torch.promote_types(x.dtype, torch.float32)
    xf = x.to(compute)
    beta = p.to(compute).reshape(beta_shape(list(x.shape), axes))
    return (gain * xf * torch.sigmoid(beta * xf)).to(x.dtype)


def myselu_backward(
    tensors: Sequence[torch.Tensor],
    attrs: dict[str, Any],
    output: torch.Tensor,
    grads: Sequence[torch.Tensor],
) -> list[Optional[torch.Tensor]]:
    """Analytic gradients (differentiable themselves, so double backward works):
    dy/dx = gain * (s + beta * x * s * (1 - s)), dy/dbeta = gain * x^2 * s * (1 - s), s = sigmoid(beta * x);
    dbeta sums over every axis of x not in ``axes``."""
    x, p = tensors
    (gy,) = grads
    if gy is None:
        return [None, None]
    compute = torch.promote_types(x.dtype, torch.float32)
    axes = normalize_axes(attrs["axes"], x.dim())
    gain = attrs["gain"]
    xf, gf = x.to(compute), gy.to(compute)
    beta = p.to(compute).reshape(beta_shape(list(x.shape), axes))
    s = torch.sigmoid(beta * xf)
    ds = s * (1 - s)
    gx = gain * gf * (s + beta * xf * ds)
    reduce_dims = [d for d in range(x.dim()) if d not in axes]
    gbeta = gain * gf * xf * xf * ds
    gp = gbeta.sum(dim=reduce_dims) if reduce_dims else gbeta
    return [gx.to(x.dtype), gp.reshape(p.shape).to(p.dtype)]


MYSELU = OpSpec(
    name="MYSELU",
    op="myselu",
    doc="y = gain * x * sigmoid(beta * x); beta = p broadcast over the axes listed in `axes`.",
    inputs=[
        TensorArg("x", "input, any rank >= 1"),
        TensorArg("p", "learnable beta (an initializer)", weight=True),
    ],
    outputs=["y"],
    attrs=[
        Attr("axes", "ints", (1,), "axes of x that p spans: a contiguous increasing run; [] = one beta"),
        Attr("gain", "float", 1.0, "output scale"),
        Attr(
            "info", "string", "{}", "free-form JSON object (e.g. the source layer's name), kept in the engine"
        ),
    ],
    type_combinations=[
        ("float32", "float32", "float32"),
        ("float16", "float32", "float16"),
        ("float16", "float16", "float16"),
    ],
    reference=myselu_reference,
    output_shapes=_output_shapes,
    validate=_validate,
    backward=myselu_backward,
).register()


def myselu(
    x: torch.Tensor, p: torch.Tensor, *, axes: Sequence[int] = (1,), gain: float = 1.0, info: str = "{}"
) -> torch.Tensor:
    """MYSELU as a kit op: eager (CPU reference / CUDA plugin kernel), autograd, both ONNX exporters."""
    a = MYSELU.bind_attrs({"axes": axes, "gain": gain, "info": info})  # clear TypeErrors for wrong types
    return torch.ops.trtkit.myselu(x, p, axes=list(a["axes"]), gain=a["gain"], info=a["info"])


class MySeluFunction(torch.autograd.Function):
    """The product card's original design: an autograd.Function with a legacy-exporter ``symbolic``.

    ``MySeluFunction.apply(x, p, axes, gain, info)``; gives the same node as :func:`myselu`."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, p: torch.Tensor, axes: Sequence[int], gain: float, info: str
    ) -> torch.Tensor:
        attrs = MYSELU.bind_attrs({"axes": axes, "gain": gain, "info": info})
        ctx.save_for_backward(x, p)
        ctx.attrs = attrs
        return torch.ops.trtkit.myselu(x, p, axes=list(attrs["axes"]), gain=attrs["gain"], info=attrs["info"])

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor) -> tuple[Optional[torch.Tensor], ...]:
        x, p = ctx.saved_tensors
        gx, gp = myselu_backward([x, p], ctx.attrs, None, [gy])  # type: ignore[arg-type]
        return gx, gp, None, None, None

    @staticmethod
    def symbolic(g: Any, x: Any, p: Any, axes: Sequence[int], gain: float, info: str) -> Any:
        attrs = MYSELU.bind_attrs({"axes": axes, "gain": gain, "info": info})
        return emit_legacy_node(MYSELU, g, [x, p], attrs)


class MySelu(torch.nn.Module):
    """A MYSELU activation with a learnable beta of shape ``beta_shape`` (default: one per channel).

    ``use_function=True`` routes through :class:`MySeluFunction` instead of the custom op (same node)."""

    def __init__(
        self,
        channels: int = 1,
        *,
        axes: Sequence[int] = (1,),
        gain: float = 1.0,
        info: str = "{}",
        init: float = 1.0,
        use_function: bool = False,
    ) -> None:
        super().__init__()
        self.attrs = MYSELU.bind_attrs({"axes": axes, "gain": gain, "info": info})
        self.p = torch.nn.Parameter(torch.full((channels,), float(init)))
        self.use_function = use_function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attrs
        if self.use_function:
            return MySeluFunction.apply(x, self.p, list(a["axes"]), a["gain"], a["info"])
        return myselu(x, self.p, axes=a["axes"], gain=a["gain"], info=a["info"])

    def extra_repr(self) -> str:
        return f"channels={self.p.numel()}, axes={list(self.attrs['axes'])}, gain={self.attrs['gain']}"
