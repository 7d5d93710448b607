// Translations between TensorRT's types and the kit's: dtypes, formats, tensor descriptors, plugin fields and
// shape expressions. Nothing here knows an op.
#pragma once

#include <string>
#include <vector>

#include "trtkit/core/layer.hpp"
#include "trtkit/core/registry.hpp"
#include "trtkit/trt/nvinfer.hpp"

namespace trtkit {
namespace trt {

// False when the kit has no such dtype (FP8, INT4, ...): such a tensor is simply not supported.
bool fromTrt(nvinfer1::DataType in, DType* out) noexcept;
bool fromTrt(nvinfer1::TensorFormat in, Format* out) noexcept;
DType fromTrtChecked(nvinfer1::DataType in);  // throws trtkit::Error naming the dtype
nvinfer1::DataType toTrt(DType in);           // throws when this TensorRT version lacks the dtype
const char* trtDTypeName(nvinfer1::DataType t) noexcept;

std::vector<int64_t> dimsOf(const nvinfer1::Dims& d);
TensorDesc tensorDescOf(const nvinfer1::PluginTensorDesc& d);

// Checks the tensor count TensorRT passes against the layer's schema.
void checkIoCounts(const LayerSchema& schema, int32_t nbInputs, int32_t nbOutputs);

// The creator's field list: one PluginField per schema attribute, typed as the ONNX parser will deliver it.
nvinfer1::PluginFieldType fieldTypeOf(AttrType t);

// PluginFieldCollection -> RawFields for trtkit::configFromFields; validates names, types and lengths.
std::vector<RawField> rawFieldsOf(const nvinfer1::PluginFieldCollection* fc);

// Input dims as kit expressions: constants where TensorRT knows them, Expr::inputDim(i, d) elsewhere.
std::vector<ExprDims> exprInputsOf(const nvinfer1::DimsExprs* inputs, int32_t nbInputs);

// A kit expression as IExprBuilder calls; Expr::inputDim(i, d) resolves to inputs[i].d[d].
nvinfer1::DimsExprs toDimsExprs(const ExprDims& dims, const nvinfer1::DimsExprs* inputs, int32_t nbInputs,
                                nvinfer1::IExprBuilder& builder);

// The largest tensor count a kit layer may have; enqueue builds its GTensors in arrays of this size.
constexpr int kMaxIo = 16;

// Fills GTensors on the caller's stack from TensorRT's descriptors; no allocation.
void gtensorsOf(const nvinfer1::PluginTensorDesc* desc, const void* const* data, int32_t n, GTensor* out);

}  // namespace trt
}  // namespace trtkit
