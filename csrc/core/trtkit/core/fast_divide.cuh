// Division by a run-time divisor without the ~20-instruction integer division (Granlund-Montgomery): with
// shift = ceil(log2 d) and multiplier = floor(2^32 (2^shift - d) / d) + 1, n / d = (umulhi(n, multiplier) + n) >> shift
// for every uint32 n (the sum is taken in 64 bits). Built on the host once per launch; divide() runs on both sides
// (the host copy lets the cpu tier check the arithmetic).
#pragma once

#include <cstdint>

namespace trtkit {

struct FastDivisor {
  uint32_t divisor = 1, multiplier = 1, shift = 0;
  FastDivisor() = default;
  explicit FastDivisor(uint32_t d) : divisor(d) {
    while ((uint64_t{1} << shift) < d) ++shift;
    multiplier = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d)) / d + 1);
  }
  __host__ __device__ __forceinline__ uint32_t divide(uint32_t n) const {
#if defined(__CUDA_ARCH__)
    const uint32_t high = __umulhi(n, multiplier);
#else
    const uint32_t high = static_cast<uint32_t>((static_cast<uint64_t>(n) * multiplier) >> 32);
#endif
    return static_cast<uint32_t>((static_cast<uint64_t>(high) + n) >> shift);
  }
};

}  // namespace trtkit
