#include "expr_builder.hpp"

#include <algorithm>
#include <stdexcept>

namespace trtkit {
namespace harness {

HarnessDim::HarnessDim(int64_t value, bool constant) {
  impl_.value = value;
  impl_.constant = constant;
  mImpl = &impl_;
}

HarnessExprBuilder::HarnessExprBuilder() {
  impl_.owner = this;
  mImpl = &impl_;
}

const HarnessDim* HarnessExprBuilder::make(int64_t value, bool constant) {
  pool_.push_back(std::make_unique<HarnessDim>(value, constant));
  return pool_.back().get();
}

const HarnessDim* HarnessExprBuilder::find(const nvinfer1::IDimensionExpr* e) const {
  for (const auto& d : pool_) {
    if (d.get() == e) return d.get();
  }
  return nullptr;
}

const HarnessDim& HarnessExprBuilder::resolve(const nvinfer1::IDimensionExpr* e) const {
  const HarnessDim* d = find(e);
  if (d == nullptr) {
    throw std::runtime_error(e == nullptr ? "the plugin returned a null dimension expression"
                                          : "the plugin returned a dimension expression this builder did not create");
  }
  return *d;
}

const nvinfer1::IDimensionExpr* HarnessExprBuilder::Impl::constant(int64_t value) {
  return owner->make(value, true);
}

namespace {

int64_t floorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

const nvinfer1::IDimensionExpr* HarnessExprBuilder::Impl::operation(nvinfer1::DimensionOperation op,
                                                                    const nvinfer1::IDimensionExpr& first,
                                                                    const nvinfer1::IDimensionExpr& second) {
  const HarnessDim* a = owner->find(&first);
  const HarnessDim* b = owner->find(&second);
  if (a == nullptr || b == nullptr) {
    error = "operation() got an operand that this builder did not create";
    return nullptr;
  }
  ++operations;
  const int64_t x = a->value();
  const int64_t y = b->value();
  int64_t r = 0;
  switch (op) {
    case nvinfer1::DimensionOperation::kSUM: r = x + y; break;
    case nvinfer1::DimensionOperation::kPROD: r = x * y; break;
    case nvinfer1::DimensionOperation::kMAX: r = std::max(x, y); break;
    case nvinfer1::DimensionOperation::kMIN: r = std::min(x, y); break;
    case nvinfer1::DimensionOperation::kSUB: r = x - y; break;
    case nvinfer1::DimensionOperation::kEQUAL: r = x == y ? 1 : 0; break;
    case nvinfer1::DimensionOperation::kLESS: r = x < y ? 1 : 0; break;
    case nvinfer1::DimensionOperation::kFLOOR_DIV:
    case nvinfer1::DimensionOperation::kCEIL_DIV:
      if (y == 0) {
        error = "division by zero in a dimension expression";
        return nullptr;
      }
      r = op == nvinfer1::DimensionOperation::kFLOOR_DIV ? floorDiv(x, y) : -floorDiv(-x, y);
      break;
    default: error = "unknown DimensionOperation " + std::to_string(static_cast<int>(op)); return nullptr;
  }
  return owner->make(r, a->constant() && b->constant());  // constants fold; anything symbolic stays symbolic
}

const nvinfer1::IDimensionExpr* HarnessExprBuilder::Impl::declareSizeTensor(int32_t, const nvinfer1::IDimensionExpr&,
                                                                            const nvinfer1::IDimensionExpr&) {
  error = "declareSizeTensor is not supported by the harness (no kit layer has data-dependent shapes)";
  return nullptr;
}

}  // namespace harness
}  // namespace trtkit
