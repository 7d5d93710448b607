"""trtkit: a TensorRT custom-plugin development kit."""

from trtkit._library import build_info, library_path, load, tensorrt_runtime

__all__ = ["build_info", "library_path", "load", "tensorrt_runtime"]
