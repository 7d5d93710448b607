// Weight: a plugin-held tensor (an ONNX TENSOR attribute that became a PluginField array). Host bytes are
// the source of truth and are what LayerConfig serializes; a device copy is made on demand and freed by
// the owner. Copies of a Weight copy the host bytes only, never the device buffer.
#pragma once

#include <cstdint>
#include <vector>

#include "trtkit/core/dtype.hpp"

namespace trtkit {

// IEEE binary16 <-> binary32 on the host, round to nearest even; no CUDA headers needed.
uint16_t floatToHalf(float f);
float halfToFloat(uint16_t h);

class Weight {
 public:
  Weight() = default;
  Weight(DType dtype, std::vector<int64_t> shape, const void* data);  // copies count(shape) elements
  Weight(const Weight& other);
  Weight& operator=(const Weight& other);
  Weight(Weight&& other) noexcept;
  Weight& operator=(Weight&& other) noexcept;
  ~Weight();

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t count() const;
  size_t bytes() const { return host_.size(); }
  const void* host() const { return host_.data(); }
  template <typename T>
  const T* hostAs() const {
    return reinterpret_cast<const T*>(host_.data());
  }
  bool empty() const { return host_.empty(); }

  // A new Weight holding the same values in `to` (float32 <-> float16; same type copies).
  Weight convert(DType to) const;

  // Device copy of the host bytes (synchronous cudaMemcpy); reused until freeDevice(). Throws on CUDA errors.
  const void* toDevice();
  const void* device() const { return device_; }
  void freeDevice() noexcept;

  bool operator==(const Weight& o) const { return dtype_ == o.dtype_ && shape_ == o.shape_ && host_ == o.host_; }

 private:
  DType dtype_ = DType::kFloat32;
  std::vector<int64_t> shape_;
  std::vector<uint8_t> host_;
  void* device_ = nullptr;
};

}  // namespace trtkit
