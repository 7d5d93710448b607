// Device-side conversions between the kit's storage types and float, the arithmetic type of every kernel.
// Shared by the kit's kernels, the template `trtkit new` writes and users' plugin packages.
#pragma once

#include <cuda_fp16.h>

namespace trtkit {

__device__ __forceinline__ float toFloat(float v) {
  return v;
}
__device__ __forceinline__ float toFloat(__half v) {
  return __half2float(v);
}

template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ float fromFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half fromFloat<__half>(float v) {
  return __float2half_rn(v);
}

}  // namespace trtkit
