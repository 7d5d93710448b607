#include "trtkit/core/weight.hpp"

#include <cuda_runtime_api.h>

#include <cstring>
#include <utility>

#include "trtkit/core/error.hpp"

namespace trtkit {

uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) {  // inf or nan (keep nan quiet and non-zero)
    return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u | ((absx >> 13) & 0x3ffu) : 0u));
  }
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: overflow to inf
  if (absx < 0x38800000u) {                                               // subnormal half (or zero)
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);           // below half of the smallest subnormal
    const uint32_t exp = absx >> 23;
    const uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exp;  // 14..24 bits are dropped
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = ((absx >> 13) - (112u << 10));  // rebias exponent 127 -> 15
  const uint32_t rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: still correct
  return static_cast<uint16_t>(sign | h);
}

float halfToFloat(uint16_t h) {
  const uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0x1fu) {
    x = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    x = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {
    x = sign;
  } else {  // subnormal: normalize
    uint32_t e = 113;
    while (!(mant & 0x400u)) {
      mant <<= 1;
      --e;
    }
    x = sign | (e << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

static int64_t shapeCount(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    TRTKIT_CHECK(d >= 0, "Weight: negative dimension ", d);
    TRTKIT_CHECK(d == 0 || n <= (int64_t{1} << 40) / d, "Weight: shape is too large");
    n *= d;
  }
  return n;
}

Weight::Weight(DType dtype, std::vector<int64_t> shape, const void* data) : dtype_(dtype), shape_(std::move(shape)) {
  const size_t n = static_cast<size_t>(shapeCount(shape_)) * dtypeSize(dtype_);
  host_.resize(n);
  if (n) {
    TRTKIT_CHECK(data != nullptr, "Weight: null data for ", n, " bytes");
    std::memcpy(host_.data(), data, n);
  }
}

Weight::Weight(const Weight& o) : dtype_(o.dtype_), shape_(o.shape_), host_(o.host_) {}

Weight& Weight::operator=(const Weight& o) {
  if (this != &o) {
    freeDevice();
    dtype_ = o.dtype_;
    shape_ = o.shape_;
    host_ = o.host_;
  }
  return *this;
}

Weight::Weight(Weight&& o) noexcept
    : dtype_(o.dtype_),
      shape_(std::move(o.shape_)),
      host_(std::move(o.host_)),
      device_(std::exchange(o.device_, nullptr)) {}

Weight& Weight::operator=(Weight&& o) noexcept {
  if (this != &o) {
    freeDevice();
    dtype_ = o.dtype_;
    shape_ = std::move(o.shape_);
    host_ = std::move(o.host_);
    device_ = std::exchange(o.device_, nullptr);
  }
  return *this;
}

Weight::~Weight() {
  freeDevice();
}

int64_t Weight::count() const {
  return shapeCount(shape_);
}

Weight Weight::convert(DType to) const {
  if (to == dtype_) return *this;
  const int64_t n = count();
  if (dtype_ == DType::kFloat32 && to == DType::kFloat16) {
    std::vector<uint16_t> out(static_cast<size_t>(n));
    const float* in = hostAs<float>();
    for (int64_t i = 0; i < n; ++i) out[i] = floatToHalf(in[i]);
    return Weight(to, shape_, out.data());
  }
  if (dtype_ == DType::kFloat16 && to == DType::kFloat32) {
    std::vector<float> out(static_cast<size_t>(n));
    const uint16_t* in = hostAs<uint16_t>();
    for (int64_t i = 0; i < n; ++i) out[i] = halfToFloat(in[i]);
    return Weight(to, shape_, out.data());
  }
  TRTKIT_FAIL("Weight: conversion from ", dtypeName(dtype_), " to ", dtypeName(to), " is not supported");
}

const void* Weight::toDevice() {
  if (device_ || host_.empty()) return device_;
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, host_.size());
  TRTKIT_CHECK(err == cudaSuccess, "Weight: cudaMalloc(", host_.size(), ") failed: ", cudaGetErrorString(err));
  err = cudaMemcpy(p, host_.data(), host_.size(), cudaMemcpyHostToDevice);
  if (err != cudaSuccess) {
    cudaFree(p);
    TRTKIT_FAIL("Weight: copy to device failed: ", cudaGetErrorString(err));
  }
  device_ = p;
  return device_;
}

void Weight::freeDevice() noexcept {
  if (device_) cudaFree(device_);
  device_ = nullptr;
}

}  // namespace trtkit
