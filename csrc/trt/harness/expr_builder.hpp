// A constant-folding IExprBuilder for driving getOutputDimensions/getOutputShapes outside TensorRT.
// IDimensionExpr and IExprBuilder (10+) are thin wrappers that forward to apiv::V* objects through mImpl;
// the harness subclasses both and points mImpl at its own implementations. Every dimension carries its
// concrete value; "symbolic" dimensions additionally report isConstant() == false, so a plugin that handles
// dynamic shapes is exercised through operation() exactly as TensorRT would call it.
#pragma once

#include <NvInferRuntime.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

namespace trtkit {
namespace harness {

class HarnessDim final : public nvinfer1::IDimensionExpr {
 public:
  HarnessDim(int64_t value, bool constant);
  ~HarnessDim() noexcept override = default;
  int64_t value() const { return impl_.value; }
  bool constant() const { return impl_.constant; }

 private:
  struct Impl final : nvinfer1::apiv::VDimensionExpr {
    int64_t value = 0;
    bool constant = true;
    bool isConstant() const override { return constant; }
    int64_t getConstantValue() const override { return constant ? value : INT64_MIN; }
    bool isSizeTensor() const override { return false; }
  };
  Impl impl_;
};

class HarnessExprBuilder final : public nvinfer1::IExprBuilder {
 public:
  HarnessExprBuilder();
  ~HarnessExprBuilder() noexcept override = default;

  const HarnessDim* make(int64_t value, bool constant);
  // The HarnessDim behind an expression the plugin returned; throws if this builder did not create it.
  const HarnessDim& resolve(const nvinfer1::IDimensionExpr* e) const;
  int nbOperations() const { return impl_.operations; }
  const std::string& error() const { return impl_.error; }

 private:
  struct Impl final : nvinfer1::apiv::VExprBuilder {
    HarnessExprBuilder* owner = nullptr;
    int operations = 0;
    std::string error;
    const nvinfer1::IDimensionExpr* constant(int64_t value) override;
    const nvinfer1::IDimensionExpr* operation(nvinfer1::DimensionOperation op, const nvinfer1::IDimensionExpr& first,
                                              const nvinfer1::IDimensionExpr& second) override;
    const nvinfer1::IDimensionExpr* declareSizeTensor(int32_t outputIndex, const nvinfer1::IDimensionExpr& opt,
                                                      const nvinfer1::IDimensionExpr& upper) override;
  };
  const HarnessDim* find(const nvinfer1::IDimensionExpr* e) const;

  Impl impl_;
  std::deque<std::unique_ptr<HarnessDim>> pool_;
};

}  // namespace harness
}  // namespace trtkit
