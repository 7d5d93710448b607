// GTensor: a non-owning view of a device (or host) tensor, the unit a Layer's enqueue works on.
// It allocates nothing, so building GTensors in enqueue is free; dims and counts are int64.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "trtkit/core/dtype.hpp"
#include "trtkit/core/error.hpp"

namespace trtkit {

constexpr int kMaxDims = 8;

class GTensor {
 public:
  GTensor() = default;
  GTensor(void* data, DType dtype, const int64_t* dims, int ndim) : data_(data), dtype_(dtype) {
    TRTKIT_CHECK(ndim >= 0 && ndim <= kMaxDims, "GTensor: rank ", ndim, " is outside [0, ", kMaxDims, "]");
    ndim_ = ndim;
    for (int i = 0; i < ndim; ++i) dims_[i] = dims[i];
  }
  GTensor(void* data, DType dtype, std::initializer_list<int64_t> dims)
      : GTensor(data, dtype, dims.begin(), static_cast<int>(dims.size())) {}

  void* data() const { return data_; }
  template <typename T>
  T* ptr() const {
    return static_cast<T*>(data_);
  }
  DType dtype() const { return dtype_; }
  int ndim() const { return ndim_; }
  int64_t size(int axis) const { return dims_[normalize(axis)]; }
  const int64_t* dims() const { return dims_; }

  int64_t count(int fromAxis = 0) const {
    int64_t n = 1;
    for (int i = fromAxis; i < ndim_; ++i) n *= dims_[i];
    return n;
  }
  int64_t bytes() const { return count() * static_cast<int64_t>(dtypeSize(dtype_)); }

  // Row-major element offset of index (i, j, ...). Missing trailing indices count as 0, so
  // offset(n, c) is the start of plane (n, c) of an NCHW tensor.
  template <typename... Idx>
  int64_t offset(Idx... idx) const {
    const int64_t index[] = {static_cast<int64_t>(idx)...};
    constexpr int n = sizeof...(Idx);
    static_assert(n <= kMaxDims, "too many indices");
    int64_t off = 0;
    for (int i = 0; i < ndim_; ++i) off = off * dims_[i] + (i < n ? index[i] : 0);
    return off;
  }

  // NCHW accessors; a dim that the tensor does not have reads as 1.
  int64_t batch() const { return dimOr1(0); }
  int64_t channel() const { return dimOr1(1); }
  int64_t height() const { return dimOr1(2); }
  int64_t width() const { return dimOr1(3); }

 private:
  int normalize(int axis) const {
    const int a = axis < 0 ? axis + ndim_ : axis;
    TRTKIT_CHECK(a >= 0 && a < ndim_, "GTensor: axis ", axis, " is out of range for rank ", ndim_);
    return a;
  }
  int64_t dimOr1(int axis) const { return axis < ndim_ ? dims_[axis] : 1; }

  void* data_ = nullptr;
  DType dtype_ = DType::kFloat32;
  int ndim_ = 0;
  int64_t dims_[kMaxDims] = {};
};

}  // namespace trtkit
