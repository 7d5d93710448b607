"""The kit's ops. Importing this package registers each op (torch op, ONNX schema, legacy symbolic)."""

from trtkit.ops.myselu import MYSELU, MySelu, MySeluFunction, myselu, myselu_reference

__all__ = ["MYSELU", "MySelu", "MySeluFunction", "myselu", "myselu_reference"]
