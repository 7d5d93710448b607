// Memory-bound elementwise kernel: 16-byte loads and stores, several vectors in flight per thread, and the
// beta index advanced incrementally inside a vector so only one fast division runs per vector.
#include <cuda_fp16.h>

#include "myselu_kernel.cuh"
#include "trtkit/core/device_convert.cuh"
#include "trtkit/core/fast_divide.cuh"

namespace trtkit::plugins {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;  // vectors per thread: enough independent 16-byte loads to cover DRAM latency

template <typename T>
struct Vec;  // 16 bytes of T, 16-byte aligned so loads and stores are single 128-bit accesses
template <>
struct alignas(16) Vec<float> {
  static constexpr int kSize = 4;
  float v[4];
};
template <>
struct alignas(16) Vec<__half> {
  static constexpr int kSize = 8;
  __half v[8];
};

// sigmoid on the special-function unit: ex2.approx and rcp.approx (each within 2 ulp; fp32 tests hold to
// 3e-5 against float64). At copy bandwidth the fp16 kernel must finish twice as many elements per second as
// the fp32 one, so the per-element work is kept to ~8 instructions. Large |beta * x| gives the right limits:
// rcp(1 + inf) = 0 and rcp(1 + 0) = 1.
__device__ __forceinline__ float ex2Approx(float v) {
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
  return r;
}
__device__ __forceinline__ float rcpApprox(float v) {
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
  return r;
}
constexpr float kLog2e = 1.4426950408889634f;
// negScale = -beta * log2(e): y = gain * x / (1 + 2^(negScale * x))
__device__ __forceinline__ float selu(float x, float negScale, float gain) {
  return (gain * x) * rcpApprox(1.0f + ex2Approx(negScale * x));
}

// Index math in 32 bits (fast division); launched when count < 2^32.
template <typename T, typename P>
__global__ void __launch_bounds__(kThreads)
    mySeluVector(const T* __restrict__ x, const P* __restrict__ p, T* __restrict__ y, uint32_t vectors,
                 FastDivisor inner, FastDivisor pcount, float gain) {
  constexpr int kVec = Vec<T>::kSize;
  const uint32_t first = blockIdx.x * (kThreads * kUnroll) + threadIdx.x;
  Vec<T> in[kUnroll];
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const uint32_t v = first + u * kThreads;
    if (v < vectors) in[u] = reinterpret_cast<const Vec<T>*>(x)[v];
  }
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const uint32_t v = first + u * kThreads;
    if (v >= vectors) continue;
    const uint32_t i = v * kVec;
    const uint32_t row = inner.divide(i);
    uint32_t r = i - row * inner.divisor;  // position inside the run that shares one beta
    uint32_t c = row - pcount.divide(row) * pcount.divisor;
    float negScale = -kLog2e * toFloat(__ldg(p + c));
    Vec<T> out;
    if (r + kVec <= inner.divisor) {  // the common case: the whole vector shares one beta
#pragma unroll
      for (int j = 0; j < kVec; ++j) out.v[j] = fromFloat<T>(selu(toFloat(in[u].v[j]), negScale, gain));
    } else {
#pragma unroll
      for (int j = 0; j < kVec; ++j) {
        out.v[j] = fromFloat<T>(selu(toFloat(in[u].v[j]), negScale, gain));
        if (++r == inner.divisor && j + 1 < kVec) {
          r = 0;
          c = (c + 1 == pcount.divisor) ? 0 : c + 1;
          negScale = -kLog2e * toFloat(__ldg(p + c));
        }
      }
    }
    reinterpret_cast<Vec<T>*>(y)[v] = out;
  }
}

// Scalar path: the tail after the last full vector, unaligned pointers and tensors of 2^32 elements or more.
template <typename T, typename P>
__global__ void __launch_bounds__(kThreads)
    mySeluScalar(const T* __restrict__ x, const P* __restrict__ p, T* __restrict__ y, int64_t begin, int64_t count,
                 int64_t inner, int64_t pcount, float gain) {
  for (int64_t i = begin + blockIdx.x * int64_t{kThreads} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * kThreads) {
    const float negScale = -kLog2e * toFloat(__ldg(p + (i / inner) % pcount));
    y[i] = fromFloat<T>(selu(toFloat(x[i]), negScale, gain));
  }
}

template <typename T, typename P>
cudaError_t launchTyped(const MySeluArgs& a, cudaStream_t stream) {
  const T* x = static_cast<const T*>(a.x);
  const P* p = static_cast<const P*>(a.p);
  T* y = static_cast<T*>(a.y);
  constexpr int kVec = Vec<T>::kSize;
  const bool aligned = (reinterpret_cast<uintptr_t>(x) % 16 == 0) && (reinterpret_cast<uintptr_t>(y) % 16 == 0);
  const bool fits32 =
      a.count < (int64_t{1} << 32) - kVec && a.inner < (int64_t{1} << 32) && a.pcount < (int64_t{1} << 32);
  int64_t done = 0;
  if (aligned && fits32) {
    const uint32_t vectors = static_cast<uint32_t>(a.count / kVec);
    if (vectors > 0) {
      const uint32_t perBlock = kThreads * kUnroll;
      const uint32_t blocks = (vectors + perBlock - 1) / perBlock;
      mySeluVector<T, P><<<blocks, kThreads, 0, stream>>>(x, p, y, vectors, FastDivisor(static_cast<uint32_t>(a.inner)),
                                                          FastDivisor(static_cast<uint32_t>(a.pcount)), a.gain);
    }
    done = int64_t{vectors} * kVec;
  }
  if (done < a.count) {
    const int64_t left = a.count - done;
    const int64_t blocks = std::min<int64_t>((left + kThreads - 1) / kThreads, 65535 * 8);
    mySeluScalar<T, P>
        <<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(x, p, y, done, a.count, a.inner, a.pcount, a.gain);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launchMySelu(const MySeluArgs& a, cudaStream_t stream) {
  if (a.count == 0) return cudaSuccess;
  if (a.xType == MySeluType::kFloat32) {
    return a.pType == MySeluType::kFloat32 ? launchTyped<float, float>(a, stream)
                                           : launchTyped<float, __half>(a, stream);
  }
  return a.pType == MySeluType::kFloat32 ? launchTyped<__half, float>(a, stream)
                                         : launchTyped<__half, __half>(a, stream);
}

}  // namespace trtkit::plugins
