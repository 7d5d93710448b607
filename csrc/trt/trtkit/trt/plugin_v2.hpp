// TRTPlugin: any trtkit::Layer as an IPluginV2DynamicExt (TensorRT 8.6 to 11). Every method catches, logs
// through TensorRT's logger and returns the interface's failure value; none throws across the ABI.
#pragma once

#include <memory>
#include <string>

#include "trtkit/trt/nvinfer.hpp"
#include "trtkit/trt/plugin_core.hpp"

TRTKIT_IGNORE_DEPRECATED_BEGIN

namespace trtkit {
namespace trt {

class TRTPlugin final : public nvinfer1::IPluginV2DynamicExt {
 public:
  explicit TRTPlugin(std::unique_ptr<PluginCore> core);
  ~TRTPlugin() override = default;

  // IPluginV2
  const char* getPluginType() const noexcept override;
  const char* getPluginVersion() const noexcept override;
  int32_t getNbOutputs() const noexcept override;
  int32_t initialize() noexcept override;
  void terminate() noexcept override;
  size_t getSerializationSize() const noexcept override;
  void serialize(void* buffer) const noexcept override;
  void destroy() noexcept override;
  void setPluginNamespace(const char* pluginNamespace) noexcept override;
  const char* getPluginNamespace() const noexcept override;

  // IPluginV2Ext
  nvinfer1::DataType getOutputDataType(int32_t index, const nvinfer1::DataType* inputTypes,
                                       int32_t nbInputs) const noexcept override;
  void attachToContext(cudnnContext* cudnn, cublasContext* cublas,
                       nvinfer1::IGpuAllocator* allocator) noexcept override;
  void detachFromContext() noexcept override;

  // IPluginV2DynamicExt
  nvinfer1::IPluginV2DynamicExt* clone() const noexcept override;
  nvinfer1::DimsExprs getOutputDimensions(int32_t outputIndex, const nvinfer1::DimsExprs* inputs, int32_t nbInputs,
                                          nvinfer1::IExprBuilder& exprBuilder) noexcept override;
  bool supportsFormatCombination(int32_t pos, const nvinfer1::PluginTensorDesc* inOut, int32_t nbInputs,
                                 int32_t nbOutputs) noexcept override;
  void configurePlugin(const nvinfer1::DynamicPluginTensorDesc* in, int32_t nbInputs,
                       const nvinfer1::DynamicPluginTensorDesc* out, int32_t nbOutputs) noexcept override;
  size_t getWorkspaceSize(const nvinfer1::PluginTensorDesc* inputs, int32_t nbInputs,
                          const nvinfer1::PluginTensorDesc* outputs, int32_t nbOutputs) const noexcept override;
  int32_t enqueue(const nvinfer1::PluginTensorDesc* inputDesc, const nvinfer1::PluginTensorDesc* outputDesc,
                  const void* const* inputs, void* const* outputs, void* workspace,
                  cudaStream_t stream) noexcept override;

 private:
  template <typename R, typename F>
  R guard(const char* method, R failValue, F&& body) const noexcept;
  template <typename F>
  void guardVoid(const char* method, F&& body) const noexcept;

  std::unique_ptr<PluginCore> core_;
};

}  // namespace trt
}  // namespace trtkit

TRTKIT_IGNORE_DEPRECATED_END
