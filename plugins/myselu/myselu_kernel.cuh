// MYSELU kernels: y = gain * x * sigmoid(beta * x), beta = p[(i / inner) % pcount] for flat element index i.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace trtkit::plugins {

// T: float or __half (passed as uint16_t storage to keep this header free of cuda_fp16.h); P likewise.
enum class MySeluType { kFloat32, kFloat16 };

struct MySeluArgs {
  const void* x;
  const void* p;
  void* y;
  int64_t count;   // elements of x
  int64_t inner;   // elements that share one beta (product of x's dims after the last axis in `axes`)
  int64_t pcount;  // elements of p (product of x's dims on `axes`)
  float gain;
  MySeluType xType;
  MySeluType pType;
};

// Launches on `stream`; returns the launch error (cudaSuccess when none).
cudaError_t launchMySelu(const MySeluArgs& args, cudaStream_t stream);

}  // namespace trtkit::plugins
