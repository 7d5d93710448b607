// TRTPluginV3: any trtkit::Layer as an IPluginV3 with the V3One core/build/runtime capabilities (TensorRT 10+).
// Serialized as one PluginField, "trtkit_config" (kUNKNOWN bytes of LayerConfig::serialize()).
#pragma once

#include "trtkit/trt/nvinfer.hpp"

#if TRTKIT_TRT_HAS_V3

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trtkit/trt/plugin_core.hpp"

namespace trtkit {
namespace trt {

constexpr const char* kConfigFieldName = "trtkit_config";

class TRTPluginV3 final : public nvinfer1::IPluginV3,
                          public nvinfer1::IPluginV3OneCore,
                          public nvinfer1::IPluginV3OneBuild,
                          public nvinfer1::IPluginV3OneRuntime {
 public:
  explicit TRTPluginV3(std::unique_ptr<PluginCore> core);
  ~TRTPluginV3() override = default;

  // IPluginV3
  nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override;
  nvinfer1::IPluginV3* clone() noexcept override;

  // IPluginV3OneCore
  const char* getPluginName() const noexcept override;
  const char* getPluginVersion() const noexcept override;
  const char* getPluginNamespace() const noexcept override;

  // IPluginV3OneBuild
  int32_t configurePlugin(const nvinfer1::DynamicPluginTensorDesc* in, int32_t nbInputs,
                          const nvinfer1::DynamicPluginTensorDesc* out, int32_t nbOutputs) noexcept override;
  int32_t getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs, const nvinfer1::DataType* inputTypes,
                             int32_t nbInputs) const noexcept override;
  int32_t getOutputShapes(const nvinfer1::DimsExprs* inputs, int32_t nbInputs, const nvinfer1::DimsExprs* shapeInputs,
                          int32_t nbShapeInputs, nvinfer1::DimsExprs* outputs, int32_t nbOutputs,
                          nvinfer1::IExprBuilder& exprBuilder) noexcept override;
  bool supportsFormatCombination(int32_t pos, const nvinfer1::DynamicPluginTensorDesc* inOut, int32_t nbInputs,
                                 int32_t nbOutputs) noexcept override;
  int32_t getNbOutputs() const noexcept override;
  size_t getWorkspaceSize(const nvinfer1::DynamicPluginTensorDesc* inputs, int32_t nbInputs,
                          const nvinfer1::DynamicPluginTensorDesc* outputs, int32_t nbOutputs) const noexcept override;
  int32_t getNbTactics() noexcept override;
  int32_t getValidTactics(int32_t* tactics, int32_t nbTactics) noexcept override;
  // The creation state (op and attributes): TensorRT prefixes the I/O shapes and formats itself. Enables the
  // timing cache for the plugin's tactics; the metadata string is the readable form (engine inspector).
  const char* getTimingCacheID() noexcept override;
  const char* getMetadataString() noexcept override;

  // IPluginV3OneRuntime
  int32_t setTactic(int32_t tactic) noexcept override;
  int32_t onShapeChange(const nvinfer1::PluginTensorDesc* in, int32_t nbInputs, const nvinfer1::PluginTensorDesc* out,
                        int32_t nbOutputs) noexcept override;
  int32_t enqueue(const nvinfer1::PluginTensorDesc* inputDesc, const nvinfer1::PluginTensorDesc* outputDesc,
                  const void* const* inputs, void* const* outputs, void* workspace,
                  cudaStream_t stream) noexcept override;
  nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext* context) noexcept override;
  const nvinfer1::PluginFieldCollection* getFieldsToSerialize() noexcept override;

  PluginCore& core() { return *core_; }

 private:
  template <typename R, typename F>
  R guard(const char* method, R failValue, F&& body) const noexcept;

  std::unique_ptr<PluginCore> core_;
  // The last configurePlugin's tensors at the profile's optimum shapes, and the tactics offered for them.
  std::vector<TensorDesc> optInputs_, optOutputs_;
  std::vector<int32_t> tactics_;
  std::string timingCacheId_, metadata_;
  // getFieldsToSerialize's answer, owned here and stable until the next call.
  std::vector<uint8_t> serialized_;
  nvinfer1::PluginField field_;
  nvinfer1::PluginFieldCollection fields_{};
};

}  // namespace trt
}  // namespace trtkit

#endif  // TRTKIT_TRT_HAS_V3
