#include "trtkit/trt/plugin_v2.hpp"

#include <utility>

#include "trtkit/trt/logging.hpp"

TRTKIT_IGNORE_DEPRECATED_BEGIN

namespace trtkit {
namespace trt {
namespace {

std::vector<TensorDesc> descsOf(const nvinfer1::PluginTensorDesc* d, int32_t n) {
  TRTKIT_CHECK(n >= 0 && (n == 0 || d != nullptr), "null tensor descriptors");
  std::vector<TensorDesc> out;
  for (int32_t i = 0; i < n; ++i) out.push_back(tensorDescOf(d[i]));
  return out;
}

std::vector<TensorDesc> descsOf(const nvinfer1::DynamicPluginTensorDesc* d, int32_t n) {
  TRTKIT_CHECK(n >= 0 && (n == 0 || d != nullptr), "null tensor descriptors");
  std::vector<TensorDesc> out;
  for (int32_t i = 0; i < n; ++i) out.push_back(tensorDescOf(d[i].desc));
  return out;
}

}  // namespace

TRTPlugin::TRTPlugin(std::unique_ptr<PluginCore> core) : core_(std::move(core)) {}

template <typename R, typename F>
R TRTPlugin::guard(const char* method, R failValue, F&& body) const noexcept {
  return guarded(core_->op(), core_->instance(), method, failValue, std::forward<F>(body));
}

template <typename F>
void TRTPlugin::guardVoid(const char* method, F&& body) const noexcept {
  guardedVoid(core_->op(), core_->instance(), method, std::forward<F>(body));
}

const char* TRTPlugin::getPluginType() const noexcept {
  return core_->op();
}
const char* TRTPlugin::getPluginVersion() const noexcept {
  return kPluginVersionV2;
}
int32_t TRTPlugin::getNbOutputs() const noexcept {
  return core_->nbOutputs();
}
int32_t TRTPlugin::initialize() noexcept {
  return 0;
}
void TRTPlugin::terminate() noexcept {}

size_t TRTPlugin::getSerializationSize() const noexcept {
  return guard(__func__, size_t{0}, [&] { return core_->layer().config().serializedSize(); });
}

void TRTPlugin::serialize(void* buffer) const noexcept {
  guardVoid(__func__, [&] {
    TRTKIT_CHECK(buffer != nullptr, "null buffer");
    const LayerConfig& config = core_->layer().config();
    config.serializeTo(static_cast<uint8_t*>(buffer), config.serializedSize());
  });
}

void TRTPlugin::destroy() noexcept {
  delete this;
}

void TRTPlugin::setPluginNamespace(const char* pluginNamespace) noexcept {
  guardVoid(__func__, [&] { core_->setPluginNamespace(pluginNamespace); });
}

const char* TRTPlugin::getPluginNamespace() const noexcept {
  return core_->pluginNamespace().c_str();
}

nvinfer1::DataType TRTPlugin::getOutputDataType(int32_t index, const nvinfer1::DataType* inputTypes,
                                                int32_t nbInputs) const noexcept {
  // The interface has no failure value: the error is logged and kFLOAT returned. supportsFormatCombination
  // has already refused such inputs, so TensorRT does not get here with them.
  return guard(__func__, nvinfer1::DataType::kFLOAT, [&] {
    std::vector<nvinfer1::DataType> types = core_->outputTypes(inputTypes, nbInputs);
    TRTKIT_CHECK(index >= 0 && index < static_cast<int32_t>(types.size()), "output index ", index, " is outside [0, ",
                 types.size(), ")");
    return types[index];
  });
}

void TRTPlugin::attachToContext(cudnnContext* cudnn, cublasContext* cublas,
                                nvinfer1::IGpuAllocator* allocator) noexcept {
  // TensorRT 10+ passes null cuDNN/cuBLAS handles: a layer that needs cuBLAS creates its own in attach().
  (void)cudnn;
  (void)cublas;
  (void)allocator;
  guardVoid(__func__, [&] { core_->attach(); });
}

void TRTPlugin::detachFromContext() noexcept {
  core_->detach();
}

nvinfer1::IPluginV2DynamicExt* TRTPlugin::clone() const noexcept {
  return guard(__func__, static_cast<nvinfer1::IPluginV2DynamicExt*>(nullptr),
               [&] { return new TRTPlugin(core_->clone()); });
}

nvinfer1::DimsExprs TRTPlugin::getOutputDimensions(int32_t outputIndex, const nvinfer1::DimsExprs* inputs,
                                                   int32_t nbInputs, nvinfer1::IExprBuilder& exprBuilder) noexcept {
  // nbDims = -1 is the failure value: TensorRT rejects it as an invalid shape and stops the build.
  nvinfer1::DimsExprs failed{};
  failed.nbDims = -1;
  return guard(__func__, failed, [&] {
    TRTKIT_CHECK(outputIndex >= 0 && outputIndex < core_->nbOutputs(), "output index ", outputIndex, " is outside [0, ",
                 core_->nbOutputs(), ")");
    return core_->outputShapes(inputs, nbInputs, exprBuilder)[outputIndex];
  });
}

bool TRTPlugin::supportsFormatCombination(int32_t pos, const nvinfer1::PluginTensorDesc* inOut, int32_t nbInputs,
                                          int32_t nbOutputs) noexcept {
  return guard(__func__, false, [&] {
    TRTKIT_CHECK(inOut != nullptr, "null tensor descriptors");
    return core_->supports(pos, nbInputs, nbOutputs,
                           [inOut](int32_t i) -> const nvinfer1::PluginTensorDesc& { return inOut[i]; });
  });
}

void TRTPlugin::configurePlugin(const nvinfer1::DynamicPluginTensorDesc* in, int32_t nbInputs,
                                const nvinfer1::DynamicPluginTensorDesc* out, int32_t nbOutputs) noexcept {
  // The interface returns nothing: a failure is logged, and enqueue refuses the tensors the layer rejected.
  guardVoid(__func__, [&] { core_->configure(descsOf(in, nbInputs), descsOf(out, nbOutputs)); });
}

size_t TRTPlugin::getWorkspaceSize(const nvinfer1::PluginTensorDesc* inputs, int32_t nbInputs,
                                   const nvinfer1::PluginTensorDesc* outputs, int32_t nbOutputs) const noexcept {
  return guard(__func__, size_t{0},
               [&] { return core_->workspaceSize(descsOf(inputs, nbInputs), descsOf(outputs, nbOutputs)); });
}

int32_t TRTPlugin::enqueue(const nvinfer1::PluginTensorDesc* inputDesc, const nvinfer1::PluginTensorDesc* outputDesc,
                           const void* const* inputs, void* const* outputs, void* workspace,
                           cudaStream_t stream) noexcept {
  return guard(__func__, int32_t{-1}, [&] {
    core_->enqueue(inputDesc, outputDesc, inputs, outputs, workspace, stream);
    return int32_t{0};
  });
}

}  // namespace trt
}  // namespace trtkit

TRTKIT_IGNORE_DEPRECATED_END
