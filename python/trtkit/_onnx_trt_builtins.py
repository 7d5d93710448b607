"""Op types that TensorRT's ONNX parser (onnx-tensorrt) imports with a built-in importer.

The parser dispatches on a node's op_type alone (the domain is ignored): a built-in importer wins, then a
model-local function of that name (inlined), and only then the plugin fallback that looks a creator up by
(op_type, plugin_version, plugin_namespace). A plugin whose name is in this list is therefore never used by
the parser, whatever domain its nodes carry.

The names were read off onnx-tensorrt's importer registrations (``DEFINE_BUILTIN_OP_IMPORTER(...)`` in
onnxOpImporters.cpp of the main branch after 10.1, which adds e.g. Attention, RMSNormalization,
RotaryEmbedding, TensorScatter and the TRT_* quantization ops), united with names that older releases still
register (``TRT_FullyConnected``, ``TRT_RNNv2`` in 8.6's builtin_op_importers.cpp). Written here as a plain
list; update it when onnx-tensorrt adds importers.
"""

from __future__ import annotations

# Standard ONNX op types with a built-in importer (some, like ImageScaler or ParametricSoftplus, are
# experimental ONNX ops that newer opsets dropped; the parser still claims the name).
# fmt: off
ONNX_OPS: frozenset[str] = frozenset({
    "Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh", "Attention",
    "AveragePool", "BatchNormalization", "BlackmanWindow", "Cast", "CastLike", "Ceil", "Celu", "Clip",
    "Concat", "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "Cosh", "CumSum", "DeformConv",
    "DepthToSpace", "DequantizeLinear", "Div", "Dropout", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand",
    "EyeLike", "Flatten", "Floor", "GRU", "Gather", "GatherElements", "GatherND", "Gelu", "Gemm",
    "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "GridSample",
    "GroupNormalization", "HammingWindow", "HannWindow", "HardSigmoid", "HardSwish", "Hardmax", "Identity",
    "If", "ImageScaler", "InstanceNormalization", "IsInf", "IsNaN", "LRN", "LSTM", "LayerNormalization",
    "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "Loop", "LpNormalization", "LpPool", "MatMul",
    "Max", "MaxPool", "Mean", "MeanVarianceNormalization", "Min", "Mish", "Mod", "Mul", "Neg",
    "NonMaxSuppression", "NonZero", "Not", "OneHot", "Or", "PRelu", "Pad", "ParametricSoftplus", "Pow",
    "QuantizeLinear", "RMSNormalization", "RNN", "RandomNormal", "RandomNormalLike", "RandomUniform",
    "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
    "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape",
    "Resize", "ReverseSequence", "RoiAlign", "RotaryEmbedding", "Round", "STFT", "ScaledTanh", "Scan",
    "Scatter", "ScatterElements", "ScatterND", "Selu", "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh",
    "Size", "Slice", "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub",
    "Sum", "Tan", "Tanh", "TensorScatter", "ThresholdedRelu", "Tile", "TopK", "Transpose", "Trilu",
    "Unsqueeze", "Upsample", "Where", "Xor",
})

# TensorRT-specific op types the parser imports natively (INetwork serialization, quantization extensions).
TRT_OPS: frozenset[str] = frozenset({
    "TRT_AveragePool", "TRT_BlockDequantize", "TRT_BlockQuantize", "TRT_Conv", "TRT_Deconv",
    "TRT_DynamicQuantize", "TRT_FP4DynamicQuantize", "TRT_FP8DequantizeLinear", "TRT_FP8QuantizeLinear",
    "TRT_FloorDiv", "TRT_FullyConnected", "TRT_Gather", "TRT_INT4DequantizeLinear", "TRT_INT4QuantizeLinear",
    "TRT_MXFP8DequantizeLinear", "TRT_MXFP8DynamicQuantize", "TRT_MXFP8QuantizeLinear", "TRT_MatMul",
    "TRT_MaxAverageBlendPool", "TRT_MaxPool", "TRT_PluginV2", "TRT_QuantizedAttention", "TRT_RNNv2",
    "TRT_RaggedSoftmax", "TRT_Resize", "TRT_Scale", "TRT_Shuffle", "TRT_Slice", "TRT_TopK_Min",
})

# fmt: on

# Importers registered under these names are the parser's own dispatch targets; a node of that op_type
# would be routed straight into them.
INTERNAL_IMPORTERS: frozenset[str] = frozenset({"FallbackPluginImporter", "LocalFunctionImporter"})

BUILTIN_OPS: frozenset[str] = ONNX_OPS | TRT_OPS | INTERNAL_IMPORTERS

_BY_LOWER = {name.lower(): name for name in BUILTIN_OPS}


def is_builtin(op_type: str) -> bool:
    """True when the parser imports ``op_type`` natively (exact, case-sensitive match as the parser does)."""
    return op_type in BUILTIN_OPS


def builtin_case_insensitive(op_type: str) -> str | None:
    """The built-in name equal to ``op_type`` ignoring case ("gridsample" -> "GridSample"), else None."""
    return _BY_LOWER.get(op_type.lower())
