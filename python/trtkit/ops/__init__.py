"""The kit's ops. Importing this package registers each op (torch op, ONNX schema, legacy symbolic)."""

from trtkit.ops.deform_conv2d import DEFORM_CONV2D, deform_conv2d, deform_conv2d_op
from trtkit.ops.myselu import MYSELU, MySelu, MySeluFunction, myselu, myselu_reference

__all__ = [
    "DEFORM_CONV2D",
    "deform_conv2d",
    "deform_conv2d_op",
    "MYSELU",
    "MySelu",
    "MySeluFunction",
    "myselu",
    "myselu_reference",
]
