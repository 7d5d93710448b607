"""``torch.nn`` modules for the kit's ops that have a layer form.

:class:`DeformConv2d` mirrors ``torchvision.ops.DeformConv2d`` (same constructor, parameters, state dict and
initialisation) and runs :func:`trtkit.ops.deform_conv2d`, so a model exports to the kit's TensorRT plugin.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import torch
from torch import nn

from trtkit.ops.deform_conv2d import deform_conv2d_op

__all__ = ["DeformConv2d"]

IntPair = Union[int, tuple[int, int]]


def _pair(v: IntPair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class DeformConv2d(nn.Module):
    """Deformable convolution (DCNv1; DCNv2 when ``forward`` gets a mask), as torchvision's module.

    ``allow_tf32=True`` lets fp32 inputs on CUDA run the products on TF32 tensor cores (off by default)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        allow_tf32: bool = False,
    ) -> None:
        super().__init__()
        if in_channels % groups != 0:
            raise ValueError(
                f"DeformConv2d: in_channels ({in_channels}) must be divisible by groups ({groups})"
            )
        if out_channels % groups != 0:
            raise ValueError(
                f"DeformConv2d: out_channels ({out_channels}) must be divisible by groups ({groups})"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.allow_tf32 = allow_tf32
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias: Optional[nn.Parameter]
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(self.weight)  # noqa: SLF001
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(
        self, input: torch.Tensor, offset: torch.Tensor, mask: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """input [N, Cin, H, W]; offset [N, 2*og*kh*kw, Ho, Wo]; mask [N, og*kh*kw, Ho, Wo]"""
        return deform_conv2d_op(
            input,
            offset,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            mask,
            allow_tf32=self.allow_tf32,
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}"
        )
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.allow_tf32:
            s += ", allow_tf32=True"
        return s
