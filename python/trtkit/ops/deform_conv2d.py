"""DeformConv2d: ``torchvision.ops.deform_conv2d`` (DCNv1 / DCNv2) as a kit op and TensorRT plugin.

:func:`deform_conv2d` has exactly torchvision's signature, so ``from trtkit.ops import deform_conv2d``
replaces ``from torchvision.ops import deform_conv2d``. It calls the custom op
``torch.ops.trtkit.deform_conv2d`` (eager CPU: the PyTorch reference, equal to torchvision bit for bit
in fp32/fp64; eager CUDA: the plugin's kernels; fake kernel; autograd by differentiating the reference),
which exports, under both exporters, as one node ``trtkit::DeformConv2d``.
``trtkit.export(..., reroute_torchvision=True)`` exports models that call torchvision's op to the same node.

The node (and the plugin) takes torchvision's operator inputs in its order: input, weight, offset, mask,
bias; all five are always present. Without a mask the node gets a [1, 1] zeros dummy and ``use_mask=0``
(torchvision's op passes [N, 1] zeros: also accepted, never read); without a bias, zeros.
The op_type is not ONNX's ``DeformConv``, which TensorRT's parser imports natively.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Optional, Union

import torch

from trtkit.ops._deform_reference import deform_conv2d_reference
from trtkit.spec import Attr, OpSpec, Reroute, Shape, TensorArg

__all__ = [
    "DEFORM_CONV2D",
    "deform_conv2d",
    "deform_conv2d_op",
    "gemm_row_elems",
    "weight_from_rows",
    "weight_rows",
]

_INPUTS = ("input", "weight", "offset", "mask", "bias")


def _known(*dims: Any) -> bool:
    return all(isinstance(d, int) and not isinstance(d, bool) for d in dims)


def _out_size(size: Any, kernel: Any, stride: int, pad: int, dilation: int) -> Any:
    return (size + 2 * pad - (dilation * (kernel - 1) + 1)) // stride + 1


def _validate(attrs: dict[str, Any], shapes: Optional[Sequence[Optional[Shape]]]) -> None:
    """The plugin's checks (plugins/deform_conv2d/deform_conv2d.cpp) on whatever dims are known."""
    name = "DeformConv2d"
    for key, positive in (("stride", True), ("padding", False), ("dilation", True)):
        v = attrs[key]
        if len(v) != 2:
            raise ValueError(f"{name}: {key} must hold 2 values (height, width), got {list(v)}")
        if any(x <= 0 if positive else x < 0 for x in v):
            raise ValueError(f"{name}: {key} must be {'> 0' if positive else '>= 0'}, got {list(v)}")
    for key in ("groups", "offset_groups"):
        if attrs[key] <= 0:
            raise ValueError(f"{name}: {key} must be > 0, got {attrs[key]}")
    for key in ("use_mask", "allow_tf32", "weight_layout"):
        if attrs[key] not in (0, 1):
            raise ValueError(f"{name}: {key} must be 0 or 1, got {attrs[key]}")
    ks = list(attrs["kernel_shape"])
    if len(ks) != 2 or any(k < 0 for k in ks):
        raise ValueError(f"{name}: kernel_shape must hold 2 values (height, width), each >= 0, got {ks}")
    rows = attrs["weight_layout"] == 1
    if rows and not all(k > 0 for k in ks):
        raise ValueError(f"{name}: kernel_shape (kh, kw > 0) is required with weight_layout=1, got {ks}")
    if not shapes:
        return
    shapes = list(shapes) + [None] * (5 - len(shapes))
    x, w, off, mask, bias = shapes[:5]
    wants = {
        0: (x, 4, "input [N, Cin, H, W]"),
        1: (w, 2, "weight [Cout, R] (GEMM rows, weight_layout=1)")
        if rows
        else (w, 4, "weight [Cout, Cin/groups, kh, kw]"),
        2: (off, 4, "offset [N, 2*offset_groups*kh*kw, Ho, Wo]"),
    }
    if not rows:  # GEMM rows carry the bias; the input is not read
        wants[4] = (bias, 1, "bias [Cout]")
    if attrs["use_mask"]:
        wants[3] = (mask, 4, "mask [N, offset_groups*kh*kw, Ho, Wo] (use_mask=1)")
    for s, rank, what in wants.values():
        if s is not None and len(s) != rank:
            raise ValueError(f"{name}: {what} must have rank {rank}, got shape {list(s)}")
    if x is None or w is None:
        return
    g, og = attrs["groups"], attrs["offset_groups"]
    n, cin, h, wd = x
    if rows:
        cout, row_elems = w
        kh, kw = ks
        cin_g = None
    else:
        cout, cin_g, kh, kw = w
        if any(ks) and _known(kh, kw) and [kh, kw] != ks:
            raise ValueError(f"{name}: kernel_shape {ks} differs from the weight's kernel {kh}x{kw}")
    if _known(cin):
        if cin % g:
            raise ValueError(f"{name}: groups ({g}) must divide the input channels ({cin})")
        if cin % og:
            raise ValueError(f"{name}: offset_groups ({og}) must divide the input channels ({cin})")
    if rows and _known(cin, row_elems):
        taps = kh * kw * (cin // g)
        if row_elems <= taps or row_elems % 8:
            raise ValueError(
                f"{name}: GEMM-row weight (weight_layout=1) rows hold {row_elems} elements; they need "
                f"kh*kw*Cin/groups = {taps} weights, the bias, and a multiple of 8"
            )
    if not rows and _known(cin, cin_g) and cin_g * g != cin:
        raise ValueError(
            f"{name}: weight.shape[1] ({cin_g}) times groups ({g}) must equal the input channels ({cin})"
        )
    if _known(cout) and (cout <= 0 or cout % g):
        raise ValueError(f"{name}: groups ({g}) must divide the output channels weight.shape[0] ({cout})")
    ho = wo = None
    if _known(kh, kw):
        if kh <= 0 or kw <= 0:
            raise ValueError(f"{name}: kernel size must be positive, got {kh}x{kw}")
        if off is not None and _known(off[1]) and off[1] != 2 * og * kh * kw:
            raise ValueError(
                f"{name}: offset.shape[1] is {off[1]}, expected 2*offset_groups*kh*kw = {2 * og * kh * kw}"
            )
        if _known(h):
            ho = _out_size(h, kh, attrs["stride"][0], attrs["padding"][0], attrs["dilation"][0])
        if _known(wd):
            wo = _out_size(wd, kw, attrs["stride"][1], attrs["padding"][1], attrs["dilation"][1])
        if (ho is not None and ho <= 0) or (wo is not None and wo <= 0):
            raise ValueError(
                f"{name}: the output would be empty ({ho}x{wo}): input {h}x{wd} is smaller than the "
                "dilated kernel"
            )

    def same(s: Optional[Shape], axis: int, want: Any, what: str, whose: str) -> None:
        if s is not None and _known(s[axis], want) and s[axis] != want:
            raise ValueError(f"{name}: {what} is {s[axis]}, expected {whose} = {want}")

    same(off, 0, n, "offset.shape[0]", "the batch size")
    same(off, 2, ho, "offset.shape[2]", "the output height")
    same(off, 3, wo, "offset.shape[3]", "the output width")
    if attrs["use_mask"]:
        same(mask, 0, n, "mask.shape[0]", "the batch size")
        if _known(kh, kw):
            same(mask, 1, og * kh * kw, "mask.shape[1]", "offset_groups*kh*kw")
        same(mask, 2, ho, "mask.shape[2]", "the output height")
        same(mask, 3, wo, "mask.shape[3]", "the output width")
    if not rows:
        same(bias, 0, cout, "bias.shape[0]", "the output channels")


def _output_shapes(shapes: Sequence[Shape], attrs: dict[str, Any]) -> list[list[Any]]:
    x, w = shapes[0], shapes[1]
    s, p, d = attrs["stride"], attrs["padding"], attrs["dilation"]
    kh, kw = attrs["kernel_shape"] if attrs["weight_layout"] == 1 else (w[2], w[3])
    return [[x[0], w[0], _out_size(x[2], kh, s[0], p[0], d[0]), _out_size(x[3], kw, s[1], p[1], d[1])]]


def gemm_row_elems(taps: int, dtype: torch.dtype, allow_tf32: bool = False) -> int:
    """R, the row length of GEMM-row weights (weight_layout=1) for ``taps`` = kh*kw*Cin/groups weights per
    output channel: the weights, the bias, then zeros up to the row alignment the plugin's cuBLAS GEMM runs
    fastest with (measured on the H100; the same rule as the plugin's own relayout): 32 bytes for strict
    fp32; for fp16 and TF32, 128 bytes where that adds at most 5 %, else 32."""
    k = taps + 1
    elem = 2 if dtype in (torch.float16, torch.bfloat16) else 4

    def up(v: int, bytes_: int) -> int:
        m = bytes_ // elem
        return (v + m - 1) // m * m

    if elem == 4 and not allow_tf32:
        return up(k, 32)
    r = up(k, 128)
    return up(k, 32) if (r - k) * 20 > k else r


def weight_rows(weight: torch.Tensor, bias: Optional[torch.Tensor], allow_tf32: bool = False) -> torch.Tensor:
    """torchvision's weight [Cout, Cin/g, kh, kw] and bias [Cout] (None: zeros) as GEMM rows [Cout, R]
    (weight_layout=1): row co = weight[co] tap-major (kh, kw, Cin/g), then bias[co], then zeros."""
    cout, cin_g, kh, kw = weight.shape
    taps = kh * kw * cin_g
    rows = weight.new_zeros((cout, gemm_row_elems(taps, weight.dtype, allow_tf32)))
    rows[:, :taps] = weight.permute(0, 2, 3, 1).reshape(cout, taps)
    if bias is not None:
        rows[:, taps] = bias
    return rows


def weight_from_rows(
    rows: torch.Tensor, cin_g: int, kernel_shape: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse of :func:`weight_rows`: (weight [Cout, Cin/g, kh, kw], bias [Cout])."""
    kh, kw = kernel_shape
    taps = kh * kw * cin_g
    w = rows[:, :taps].reshape(rows.shape[0], kh, kw, cin_g).permute(0, 3, 1, 2)
    return w, rows[:, taps]


def _reference(
    input: torch.Tensor,
    weight: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor,
    bias: torch.Tensor,
    *,
    stride: Sequence[int] = (1, 1),
    padding: Sequence[int] = (0, 0),
    dilation: Sequence[int] = (1, 1),
    groups: int = 1,
    offset_groups: int = 1,
    use_mask: int = 1,
    allow_tf32: int = 0,
    weight_layout: int = 0,
    kernel_shape: Sequence[int] = (0, 0),
) -> torch.Tensor:
    """The op on plain tensors: float32/float64 exactly as torchvision's CPU kernel; float16/bfloat16 are
    computed in float32 (as the plugin accumulates) and rounded once."""
    if weight_layout == 1:  # GEMM rows: the weight and the bias out of them
        weight, bias = weight_from_rows(weight, input.shape[1] // groups, kernel_shape)
    compute = torch.promote_types(input.dtype, torch.float32)
    c = lambda t: t.to(compute)  # noqa: E731
    out = deform_conv2d_reference(
        c(input),
        c(weight),
        c(offset),
        c(mask) if use_mask else None,
        c(bias),
        tuple(stride),
        tuple(padding),
        tuple(dilation),
        groups,
        offset_groups,
    )
    return out.to(input.dtype)


def _adapt_torchvision(args: Sequence[Any], const: Any) -> tuple[list[Any], dict[str, Any]]:
    """torchvision::deform_conv2d(input, weight, offset, mask, bias, stride_h, stride_w, pad_h, pad_w,
    dilation_h, dilation_w, groups, offset_groups, use_mask) -> the kit node."""
    x, w, off, mask, bias = args[:5]
    i = [int(const(v, "i")) for v in args[5:13]]
    use_mask = int(bool(const(args[13], "b")))
    attrs = {
        "stride": [i[0], i[1]],
        "padding": [i[2], i[3]],
        "dilation": [i[4], i[5]],
        "groups": i[6],
        "offset_groups": i[7],
        "use_mask": use_mask,
        "allow_tf32": 0,
        "weight_layout": 0,
        "kernel_shape": [0, 0],
    }
    return [x, w, off, mask, bias], attrs


def _prearrange(model: Any, node: Any) -> bool:
    """trtkit.export's rewrite of one DeformConv2d node (onnx): where its weight and bias are initializers,
    the weight becomes their GEMM rows (a new initializer, weight_layout=1, kernel_shape set), so TensorRT
    hands the plugin its GEMM operand as it is and no weight relayout runs per inference. Computed weights,
    initializers kept in external data and nodes already in GEMM rows are left as they are. True if the node
    changed."""
    import onnx
    from onnx import helper, numpy_helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("weight_layout", 0) != 0 or len(node.input) < 5:
        return False
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    w_init, b_init = inits.get(node.input[1]), inits.get(node.input[4])
    if w_init is None or b_init is None:
        return False
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in (w_init, b_init)):
        return False
    w, b = numpy_helper.to_array(w_init), numpy_helper.to_array(b_init)
    if w.ndim != 4 or b.shape != (w.shape[0],):
        return False
    rows = weight_rows(
        torch.from_numpy(w.copy()), torch.from_numpy(b.copy()), bool(attrs.get("allow_tf32", 0))
    )
    taken = {t.name for t in graph.initializer} | {v.name for v in graph.input}
    name, i = f"{node.input[1]}.gemm_rows", 1
    while name in taken:
        name, i = f"{node.input[1]}.gemm_rows_{i}", i + 1
    graph.initializer.append(numpy_helper.from_array(rows.numpy(), name))
    old = node.input[1]
    node.input[1] = name
    kept = [a for a in node.attribute if a.name not in ("weight_layout", "kernel_shape")]
    del node.attribute[:]
    node.attribute.extend(kept)
    node.attribute.append(helper.make_attribute("weight_layout", 1))
    node.attribute.append(helper.make_attribute("kernel_shape", [int(w.shape[2]), int(w.shape[3])]))
    # The torchvision-layout weight goes if nothing else reads it.
    used = {n for other in graph.node for n in other.input} | {o.name for o in graph.output}
    if old not in used:
        keep = [t for t in graph.initializer if t.name != old]
        del graph.initializer[:]
        graph.initializer.extend(keep)
        inputs = [v for v in graph.input if v.name != old]
        del graph.input[:]
        graph.input.extend(inputs)
    return True


def _torchvision_overload() -> Any:
    import torchvision  # noqa: F401 - registers torch.ops.torchvision

    return torch.ops.torchvision.deform_conv2d.default


DEFORM_CONV2D = OpSpec(
    name="DeformConv2d",
    op="deform_conv2d",
    doc="torchvision.ops.deform_conv2d (DCNv1/DCNv2): a convolution of bilinear samples taken at "
    "learned offsets, modulated by a mask when use_mask=1.",
    inputs=[
        TensorArg("input", "[N, Cin, H, W]"),
        TensorArg(
            "weight", "[Cout, Cin/groups, kh, kw]; GEMM rows [Cout, R] with weight_layout=1", weight=True
        ),
        TensorArg("offset", "[N, 2*offset_groups*kh*kw, Ho, Wo]: (dy, dx) per tap"),
        TensorArg("mask", "[N, offset_groups*kh*kw, Ho, Wo]; any shape (not read) when use_mask=0"),
        TensorArg("bias", "[Cout]; any shape (not read) with weight_layout=1", weight=True),
    ],
    outputs=["output"],
    attrs=[
        Attr("stride", "ints", (1, 1), "stride (height, width), each > 0"),
        Attr("padding", "ints", (0, 0), "zero padding (height, width), each >= 0"),
        Attr("dilation", "ints", (1, 1), "kernel dilation (height, width), each > 0"),
        Attr("groups", "int", 1, "weight groups: Cin / weight.shape[1]"),
        Attr("offset_groups", "int", 1, "offset groups: offset.shape[1] / (2*kh*kw)"),
        Attr("use_mask", "int", 1, "1: modulate by mask (DCNv2); 0: mask is a dummy, not read (DCNv1)"),
        Attr("allow_tf32", "int", 0, "fp32 only: 1 lets the products run on TF32 tensor cores; 0: no TF32"),
        Attr(
            "weight_layout",
            "int",
            0,
            "0: weight [Cout, Cin/groups, kh, kw] and bias [Cout]; 1: weight is GEMM rows [Cout, R] (row co: "
            "weight[co] tap-major, bias[co], zeros; R > kh*kw*Cin/groups, a multiple of 8), bias not read. "
            "trtkit.export writes initializers this way",
        ),
        Attr(
            "kernel_shape",
            "ints",
            (0, 0),
            "(kh, kw): required with weight_layout=1; with 0, (0, 0) or the weight's",
        ),
    ],
    type_combinations=[("float32",) * 6, ("float16",) * 6],
    reference=_reference,
    output_shapes=_output_shapes,
    validate=_validate,
    prearrange=_prearrange,
    reroutes=[
        Reroute(
            qualname="torchvision::deform_conv2d",
            overload=_torchvision_overload,
            adapt=_adapt_torchvision,
            doc="torchvision.ops.deform_conv2d -> DeformConv2d",
        )
    ],
).register()


def _pair(v: Union[int, Sequence[int]], what: str) -> list[int]:
    if isinstance(v, int) and not isinstance(v, bool):
        return [v, v]
    vals = [int(x) for x in v]
    if len(vals) != 2:
        raise ValueError(f"deform_conv2d: {what} must be an int or a pair of ints, got {v!r}")
    return vals


def deform_conv2d_op(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: Union[int, tuple[int, int]] = (1, 1),
    padding: Union[int, tuple[int, int]] = (0, 0),
    dilation: Union[int, tuple[int, int]] = (1, 1),
    mask: Optional[torch.Tensor] = None,
    *,
    allow_tf32: bool = False,
) -> torch.Tensor:
    """:func:`deform_conv2d` plus the kit's one extra switch: ``allow_tf32`` (fp32 inputs on CUDA run the
    products on TF32 tensor cores; about 3e-4 relative error instead of fp32's 1e-6)."""
    if input.dim() != 4 or weight.dim() != 4 or offset.dim() != 4:
        raise ValueError(
            "deform_conv2d: input, offset and weight must have rank 4, got shapes "
            f"{list(input.shape)}, {list(offset.shape)}, {list(weight.shape)}"
        )
    # Channel counts and kernel sizes become the node's static attributes (groups, offset_groups). Under the
    # legacy exporter's tracer they are traced values and baking them in is what the plugin needs, so the
    # tracer's warnings about these conversions are silenced here, and only here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        kh, kw = weight.shape[-2], weight.shape[-1]
        if weight.shape[1] == 0 or input.shape[1] % weight.shape[1]:
            raise ValueError(
                f"deform_conv2d: weight.shape[1] ({weight.shape[1]}) must divide the input channels "
                f"({input.shape[1]})"
            )
        # As torchvision: groups and offset groups from the shapes.
        groups = int(input.shape[1] // weight.shape[1])
        taps2 = 2 * kh * kw
        if taps2 == 0 or offset.shape[1] % taps2 or offset.shape[1] == 0:
            raise ValueError(
                f"deform_conv2d: offset.shape[1] ({offset.shape[1]}) must be a positive multiple of "
                f"2*kh*kw = {taps2}"
            )
        offset_groups = int(offset.shape[1] // taps2)
    use_mask = mask is not None
    if mask is None:
        mask = input.new_zeros((1, 1))
    if bias is None:
        bias = input.new_zeros((weight.shape[0],))
    return torch.ops.trtkit.deform_conv2d(
        input,
        weight,
        offset,
        mask,
        bias,
        stride=_pair(stride, "stride"),
        padding=_pair(padding, "padding"),
        dilation=_pair(dilation, "dilation"),
        groups=groups,
        offset_groups=offset_groups,
        use_mask=int(use_mask),
        allow_tf32=int(bool(allow_tf32)),
    )


def deform_conv2d(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    mask: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Deformable convolution v2 (v1 without ``mask``): same signature and results as
    ``torchvision.ops.deform_conv2d``; exports as the TensorRT plugin node ``trtkit::DeformConv2d``.

    input [N, Cin, H, W]; offset [N, 2*offset_groups*kh*kw, Ho, Wo]; weight [Cout, Cin/groups, kh, kw];
    bias [Cout]; mask [N, offset_groups*kh*kw, Ho, Wo]. Groups and offset groups come from the shapes."""
    return deform_conv2d_op(input, offset, weight, bias, stride, padding, dilation, mask)
