"""Pure-PyTorch deform_conv2d with torchvision's semantics, arithmetic order and GEMM blocking.

Written from the operator's definition so that its fp32/fp64 results equal torchvision's CPU kernel bit for
bit (tests/cpu check this): the bilinear sample is ``w1*v1 + w2*v2 + w3*v3 + w4*v4`` with a corner counted
only when it lies inside the image, a sample is zero when its point lies at or beyond one pixel outside the
image, the mask multiplies the sample, and the GEMM runs per block of images and per group with the same
shapes torchvision uses (so the BLAS sums in the same order), bias added last.

It is the eager CPU path of ``trtkit.ops.deform_conv2d`` and the reference the GPU kernels are checked
against (in float64).
"""

from __future__ import annotations

import torch

_MAX_PARALLEL_IMAGES = 32  # torchvision blocks its batch GEMMs by the largest divisor of N up to this


def _parallel_images(batch: int) -> int:
    for k in range(min(batch, _MAX_PARALLEL_IMAGES), 1, -1):
        if batch % k == 0:
            return k
    return 1


def output_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    return (size + 2 * pad - (dilation * (kernel - 1) + 1)) // stride + 1


def deform_columns(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    offset_groups: int,
) -> torch.Tensor:
    """Sampled columns [N, Cin, kh*kw, Ho, Wo] (mask applied)."""
    n, cin, h, w = x.shape
    kh, kw = kernel
    ho, wo = offset.shape[2], offset.shape[3]
    kk = kh * kw
    cpg = cin // offset_groups
    off = offset.reshape(n, offset_groups, kk, 2, ho, wo)
    # Integer base position of every tap, then the float offset added (torchvision: int + scalar).
    oy = torch.arange(ho, device=x.device).view(1, ho, 1) * stride[0] - padding[0]
    ox = torch.arange(wo, device=x.device).view(1, 1, wo) * stride[1] - padding[1]
    ti = torch.arange(kh, device=x.device).repeat_interleave(kw).view(kk, 1, 1) * dilation[0]
    tj = torch.arange(kw, device=x.device).repeat(kh).view(kk, 1, 1) * dilation[1]
    base_y = (oy + ti).to(x.dtype)  # [kk, ho, 1]
    base_x = (ox + tj).to(x.dtype)  # [kk, 1, wo]
    py = base_y + off[:, :, :, 0]  # [n, og, kk, ho, wo]
    px = base_x + off[:, :, :, 1]
    inside = (py > -1) & (py < h) & (px > -1) & (px < w)
    y_low = torch.floor(py)
    x_low = torch.floor(px)
    ly = py - y_low
    lx = px - x_low
    hy = 1 - ly
    hx = 1 - lx
    yl = y_low.to(torch.int64)
    xl = x_low.to(torch.int64)
    yh = yl + 1
    xh = xl + 1
    w1, w2, w3, w4 = hy * hx, hy * lx, ly * hx, ly * lx

    flat = x.reshape(n, offset_groups, cpg, h * w)

    def corner(yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        valid = inside & (yi >= 0) & (yi <= h - 1) & (xi >= 0) & (xi <= w - 1)
        idx = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).reshape(n, offset_groups, 1, kk * ho * wo)
        v = torch.gather(flat, 3, idx.expand(n, offset_groups, cpg, kk * ho * wo))
        v = v.reshape(n, offset_groups, cpg, kk, ho, wo)
        return torch.where(valid.unsqueeze(2), v, torch.zeros((), dtype=x.dtype, device=x.device))

    v1 = corner(yl, xl)
    v2 = corner(yl, xh)
    v3 = corner(yh, xl)
    v4 = corner(yh, xh)
    u = lambda t: t.unsqueeze(2)  # noqa: E731  (broadcast over the channels of an offset group)
    val = u(w1) * v1 + u(w2) * v2 + u(w3) * v3 + u(w4) * v4
    val = torch.where(u(inside), val, torch.zeros((), dtype=x.dtype, device=x.device))
    if mask is not None:
        val = u(mask.reshape(n, offset_groups, kk, ho, wo)) * val
    return val.reshape(n, cin, kk, ho, wo)


def deform_conv2d_reference(
    x: torch.Tensor,
    weight: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    offset_groups: int,
) -> torch.Tensor:
    """deform_conv2d; ``mask=None`` means no modulation (DCNv1). Shapes must be valid (callers check)."""
    n, cin, _, _ = x.shape
    cout, cin_g, kh, kw = weight.shape
    ho, wo = offset.shape[2], offset.shape[3]
    cols = deform_columns(x, offset, mask, (kh, kw), stride, padding, dilation, offset_groups)
    if n == 0:
        out = torch.zeros((0, cout, ho, wo), dtype=x.dtype, device=x.device)
    else:
        p = _parallel_images(n)
        blocks = n // p
        # torchvision's column matrix per block: [Cin*kk, p*Ho*Wo], rows (c, tap), columns (image, y, x).
        cols = cols.reshape(blocks, p, cin * kh * kw, ho * wo).permute(0, 2, 1, 3)
        # contiguous(): with Ho*Wo == 1 the reshape is a strided view and the BLAS would sum in another order.
        cols = cols.reshape(blocks, groups, cin_g * kh * kw, p * ho * wo).contiguous()
        wg = weight.reshape(groups, cout // groups, cin_g * kh * kw).contiguous()
        out_buf = torch.zeros((blocks, groups, cout // groups, p * ho * wo), dtype=x.dtype, device=x.device)
        for b in range(blocks):
            for g in range(groups):
                out_buf[b, g].addmm_(wg[g], cols[b, g])
        out = out_buf.reshape(blocks, cout, p, ho, wo).transpose(1, 2).reshape(n, cout, ho, wo)
    if bias is None:
        bias = torch.zeros(cout, dtype=x.dtype, device=x.device)
    return out + bias.view(1, cout, 1, 1)
