// What the standalone cuBLAS(Lt) experiments share (not part of the kit): exit on a failed call, and a kernel's
// time as the median of five 20-call event timings after a warm-up.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CK(x)                                                                    \
  do {                                                                           \
    auto e_ = (x);                                                               \
    if (static_cast<int>(e_) != 0) {                                             \
      std::fprintf(stderr, "%s:%d %s -> %d\n", __FILE__, __LINE__, #x, (int)e_); \
      std::exit(1);                                                              \
    }                                                                            \
  } while (0)

template <typename F>
static float timeUs(F&& f, cudaStream_t s) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  for (int i = 0; i < 5; ++i) f();
  std::vector<float> v;
  for (int r = 0; r < 5; ++r) {
    cudaEventRecord(a, s);
    for (int i = 0; i < 20; ++i) f();
    cudaEventRecord(b, s);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    v.push_back(ms * 1000.f / 20);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(v.begin(), v.end());
  return v[2];
}
