#include "trtkit/trt/convert.hpp"

#include <cstring>
#include <limits>

#include "trtkit/core/error.hpp"

namespace trtkit {
namespace trt {

bool fromTrt(nvinfer1::DataType in, DType* out) noexcept {
  switch (in) {
    case nvinfer1::DataType::kFLOAT: *out = DType::kFloat32; return true;
    case nvinfer1::DataType::kHALF: *out = DType::kFloat16; return true;
    case nvinfer1::DataType::kINT8: *out = DType::kInt8; return true;
    case nvinfer1::DataType::kINT32: *out = DType::kInt32; return true;
    case nvinfer1::DataType::kBOOL: *out = DType::kBool; return true;
    case nvinfer1::DataType::kUINT8: *out = DType::kUInt8; return true;
#if NV_TENSORRT_MAJOR >= 10
    case nvinfer1::DataType::kBF16: *out = DType::kBFloat16; return true;
    case nvinfer1::DataType::kINT64: *out = DType::kInt64; return true;
#endif
    default: return false;
  }
}

bool fromTrt(nvinfer1::TensorFormat in, Format* out) noexcept {
  if (in == nvinfer1::TensorFormat::kLINEAR) {
    *out = Format::kLinear;
    return true;
  }
  return false;
}

const char* trtDTypeName(nvinfer1::DataType t) noexcept {
  switch (t) {
    case nvinfer1::DataType::kFLOAT: return "kFLOAT";
    case nvinfer1::DataType::kHALF: return "kHALF";
    case nvinfer1::DataType::kINT8: return "kINT8";
    case nvinfer1::DataType::kINT32: return "kINT32";
    case nvinfer1::DataType::kBOOL: return "kBOOL";
    case nvinfer1::DataType::kUINT8: return "kUINT8";
    case nvinfer1::DataType::kFP8: return "kFP8";
#if NV_TENSORRT_MAJOR >= 10
    case nvinfer1::DataType::kBF16: return "kBF16";
    case nvinfer1::DataType::kINT64: return "kINT64";
    case nvinfer1::DataType::kINT4: return "kINT4";
#endif
    default: return "an unknown DataType";
  }
}

DType fromTrtChecked(nvinfer1::DataType in) {
  DType out;
  TRTKIT_CHECK(fromTrt(in, &out), "the kit does not support tensors of TensorRT type ", trtDTypeName(in), " (",
               static_cast<int>(in), ")");
  return out;
}

nvinfer1::DataType toTrt(DType in) {
  switch (in) {
    case DType::kFloat32: return nvinfer1::DataType::kFLOAT;
    case DType::kFloat16: return nvinfer1::DataType::kHALF;
    case DType::kInt8: return nvinfer1::DataType::kINT8;
    case DType::kInt32: return nvinfer1::DataType::kINT32;
    case DType::kBool: return nvinfer1::DataType::kBOOL;
    case DType::kUInt8: return nvinfer1::DataType::kUINT8;
#if NV_TENSORRT_MAJOR >= 10
    case DType::kBFloat16: return nvinfer1::DataType::kBF16;
    case DType::kInt64: return nvinfer1::DataType::kINT64;
#else
    case DType::kBFloat16:
    case DType::kInt64: break;
#endif
  }
  TRTKIT_FAIL("dtype ", dtypeName(in), " does not exist in TensorRT ", NV_TENSORRT_MAJOR, ".x");
}

std::vector<int64_t> dimsOf(const nvinfer1::Dims& d) {
  TRTKIT_CHECK(d.nbDims >= 0 && d.nbDims <= nvinfer1::Dims::MAX_DIMS, "invalid rank ", d.nbDims);
  return std::vector<int64_t>(d.d, d.d + d.nbDims);
}

TensorDesc tensorDescOf(const nvinfer1::PluginTensorDesc& d) {
  TensorDesc out;
  out.type.dtype = fromTrtChecked(d.type);
  TRTKIT_CHECK(fromTrt(d.format, &out.type.format), "the kit supports only linear tensors, got TensorFormat ",
               static_cast<int>(d.format));
  out.dims = dimsOf(d.dims);
  return out;
}

void checkIoCounts(const LayerSchema& schema, int32_t nbInputs, int32_t nbOutputs) {
  TRTKIT_CHECK(nbInputs == schema.numInputs(), "expected ", schema.numInputs(), " inputs, TensorRT passed ", nbInputs);
  TRTKIT_CHECK(nbOutputs == schema.numOutputs(), "expected ", schema.numOutputs(), " outputs, TensorRT passed ",
               nbOutputs);
}

nvinfer1::PluginFieldType fieldTypeOf(AttrType t) {
  switch (t) {
    case AttrType::kInt:
    case AttrType::kInts: return nvinfer1::PluginFieldType::kINT32;
    case AttrType::kFloat:
    case AttrType::kFloats:
    case AttrType::kWeights: return nvinfer1::PluginFieldType::kFLOAT32;
    case AttrType::kString: return nvinfer1::PluginFieldType::kCHAR;
  }
  TRTKIT_FAIL("invalid attribute type ", static_cast<int>(t));
}

namespace {

bool fieldTypeFromTrt(nvinfer1::PluginFieldType in, FieldType* out) {
  switch (in) {
    case nvinfer1::PluginFieldType::kFLOAT16: *out = FieldType::kFloat16; return true;
    case nvinfer1::PluginFieldType::kFLOAT32: *out = FieldType::kFloat32; return true;
    case nvinfer1::PluginFieldType::kFLOAT64: *out = FieldType::kFloat64; return true;
    case nvinfer1::PluginFieldType::kINT8: *out = FieldType::kInt8; return true;
    case nvinfer1::PluginFieldType::kINT16: *out = FieldType::kInt16; return true;
    case nvinfer1::PluginFieldType::kINT32: *out = FieldType::kInt32; return true;
    case nvinfer1::PluginFieldType::kCHAR: *out = FieldType::kChar; return true;
    case nvinfer1::PluginFieldType::kUNKNOWN: *out = FieldType::kBytes; return true;
#if NV_TENSORRT_MAJOR >= 10
    case nvinfer1::PluginFieldType::kBF16: *out = FieldType::kBFloat16; return true;
    case nvinfer1::PluginFieldType::kINT64: *out = FieldType::kInt64; return true;
#endif
    default: return false;
  }
}

}  // namespace

std::vector<RawField> rawFieldsOf(const nvinfer1::PluginFieldCollection* fc) {
  std::vector<RawField> out;
  if (fc == nullptr) return out;  // no fields: every attribute takes its default
  TRTKIT_CHECK(fc->nbFields >= 0, "PluginFieldCollection has a negative field count ", fc->nbFields);
  TRTKIT_CHECK(fc->nbFields == 0 || fc->fields != nullptr, "PluginFieldCollection has ", fc->nbFields,
               " fields but a null field array");
  out.reserve(static_cast<size_t>(fc->nbFields));
  for (int32_t i = 0; i < fc->nbFields; ++i) {
    const nvinfer1::PluginField& f = fc->fields[i];
    TRTKIT_CHECK(f.name != nullptr, "plugin field #", i, " has no name");
    RawField raw;
    raw.name = f.name;
    TRTKIT_CHECK(fieldTypeFromTrt(f.type, &raw.type), "plugin field '", raw.name, "' has PluginFieldType ",
                 static_cast<int>(f.type), ", which no kit attribute accepts");
    TRTKIT_CHECK(f.length >= 0, "plugin field '", raw.name, "' has a negative length ", f.length);
    TRTKIT_CHECK(f.length == 0 || f.data != nullptr, "plugin field '", raw.name, "' has length ", f.length,
                 " but no data");
    raw.data = f.data;
    raw.length = f.length;
    out.push_back(std::move(raw));
  }
  return out;
}

std::vector<ExprDims> exprInputsOf(const nvinfer1::DimsExprs* inputs, int32_t nbInputs) {
  TRTKIT_CHECK(nbInputs >= 0 && (nbInputs == 0 || inputs != nullptr), "invalid input shapes");
  std::vector<ExprDims> out(static_cast<size_t>(nbInputs));
  for (int32_t i = 0; i < nbInputs; ++i) {
    const nvinfer1::DimsExprs& in = inputs[i];
    TRTKIT_CHECK(in.nbDims >= 0 && in.nbDims <= nvinfer1::Dims::MAX_DIMS, "input ", i, " has invalid rank ", in.nbDims);
    for (int32_t d = 0; d < in.nbDims; ++d) {
      TRTKIT_CHECK(in.d[d] != nullptr, "input ", i, " dim ", d, " is a null expression");
      if (in.d[d]->isConstant()) {
        out[i].push_back(Expr(static_cast<int64_t>(in.d[d]->getConstantValue())));
      } else {
        out[i].push_back(Expr::inputDim(i, d));
      }
    }
  }
  return out;
}

namespace {

nvinfer1::DimensionOperation dimOp(ExprOp op) {
  switch (op) {
    case ExprOp::kSum: return nvinfer1::DimensionOperation::kSUM;
    case ExprOp::kSub: return nvinfer1::DimensionOperation::kSUB;
    case ExprOp::kProd: return nvinfer1::DimensionOperation::kPROD;
    case ExprOp::kFloorDiv: return nvinfer1::DimensionOperation::kFLOOR_DIV;
    case ExprOp::kCeilDiv: return nvinfer1::DimensionOperation::kCEIL_DIV;
    case ExprOp::kMax: return nvinfer1::DimensionOperation::kMAX;
    case ExprOp::kMin: return nvinfer1::DimensionOperation::kMIN;
    case ExprOp::kConst:
    case ExprOp::kInputDim: break;
  }
  TRTKIT_FAIL("not a binary expression op: ", static_cast<int>(op));
}

const nvinfer1::IDimensionExpr* toTrtExpr(const Expr& e, const nvinfer1::DimsExprs* inputs, int32_t nbInputs,
                                          nvinfer1::IExprBuilder& builder) {
  const nvinfer1::IDimensionExpr* out = nullptr;
  switch (e.op()) {
    case ExprOp::kConst: {
      const int64_t v = e.constant();
#if NV_TENSORRT_MAJOR < 10
      TRTKIT_CHECK(v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(), "dimension ",
                   v, " does not fit TensorRT 8's 32-bit dimensions");
      out = builder.constant(static_cast<int32_t>(v));
#else
      out = builder.constant(v);
#endif
      break;
    }
    case ExprOp::kInputDim:
      TRTKIT_CHECK(e.input() >= 0 && e.input() < nbInputs, "shape expression refers to input ", e.input(), " of ",
                   nbInputs);
      TRTKIT_CHECK(e.axis() >= 0 && e.axis() < inputs[e.input()].nbDims, "shape expression refers to axis ", e.axis(),
                   " of input ", e.input(), ", which has rank ", inputs[e.input()].nbDims);
      out = inputs[e.input()].d[e.axis()];
      break;
    default: {
      const nvinfer1::IDimensionExpr* a = toTrtExpr(e.lhs(), inputs, nbInputs, builder);
      const nvinfer1::IDimensionExpr* b = toTrtExpr(e.rhs(), inputs, nbInputs, builder);
      out = builder.operation(dimOp(e.op()), *a, *b);
      break;
    }
  }
  TRTKIT_CHECK(out != nullptr, "IExprBuilder returned null for ", e.str());
  return out;
}

}  // namespace

nvinfer1::DimsExprs toDimsExprs(const ExprDims& dims, const nvinfer1::DimsExprs* inputs, int32_t nbInputs,
                                nvinfer1::IExprBuilder& builder) {
  TRTKIT_CHECK(static_cast<int>(dims.size()) <= nvinfer1::Dims::MAX_DIMS, "output rank ", dims.size(),
               " exceeds TensorRT's maximum of ", nvinfer1::Dims::MAX_DIMS);
  nvinfer1::DimsExprs out{};
  out.nbDims = static_cast<int32_t>(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) out.d[d] = toTrtExpr(dims[d], inputs, nbInputs, builder);
  return out;
}

void gtensorsOf(const nvinfer1::PluginTensorDesc* desc, const void* const* data, int32_t n, GTensor* out) {
  for (int32_t i = 0; i < n; ++i) {
    const nvinfer1::Dims& d = desc[i].dims;
    TRTKIT_CHECK(d.nbDims >= 0 && d.nbDims <= kMaxDims, "tensor ", i, " has rank ", d.nbDims,
                 ", the kit supports up to ", kMaxDims);
    int64_t dims[kMaxDims];
    for (int32_t k = 0; k < d.nbDims; ++k) dims[k] = d.d[k];
    out[i] = GTensor(const_cast<void*>(data[i]), fromTrtChecked(desc[i].type), dims, d.nbDims);
  }
}

}  // namespace trt
}  // namespace trtkit
