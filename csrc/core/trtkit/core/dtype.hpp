// Element types and memory formats as the kit sees them. The numbering is the kit's own (it is part of the
// serialized LayerConfig); csrc/trt maps it to nvinfer1::DataType / TensorFormat.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trtkit {

enum class DType : int32_t {
  kFloat32 = 0,
  kFloat16 = 1,
  kBFloat16 = 2,
  kInt8 = 3,
  kInt32 = 4,
  kInt64 = 5,
  kBool = 6,
  kUInt8 = 7,
};
constexpr int32_t kNumDTypes = 8;

enum class Format : int32_t {
  kLinear = 0,  // row-major, contiguous; the only format the kit's layers use today
};
constexpr int32_t kNumFormats = 1;

inline bool isValidDType(int32_t v) {
  return v >= 0 && v < kNumDTypes;
}
inline bool isValidFormat(int32_t v) {
  return v >= 0 && v < kNumFormats;
}

inline size_t dtypeSize(DType t) {
  switch (t) {
    case DType::kFloat32:
    case DType::kInt32: return 4;
    case DType::kFloat16:
    case DType::kBFloat16: return 2;
    case DType::kInt64: return 8;
    case DType::kInt8:
    case DType::kBool:
    case DType::kUInt8: return 1;
  }
  return 0;
}

inline const char* dtypeName(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kFloat16: return "float16";
    case DType::kBFloat16: return "bfloat16";
    case DType::kInt8: return "int8";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
    case DType::kUInt8: return "uint8";
  }
  return "invalid";
}

}  // namespace trtkit
