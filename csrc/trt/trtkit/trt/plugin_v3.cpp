#include "trtkit/trt/plugin_v3.hpp"

#if TRTKIT_TRT_HAS_V3

#include <climits>
#include <cstdio>
#include <utility>

#include "trtkit/trt/logging.hpp"

namespace trtkit {
namespace trt {
namespace {

enum class Dims { kDesc, kMax, kOpt };

std::vector<TensorDesc> descsOf(const nvinfer1::DynamicPluginTensorDesc* d, int32_t n, Dims which) {
  TRTKIT_CHECK(n >= 0 && (n == 0 || d != nullptr), "null tensor descriptors");
  std::vector<TensorDesc> out;
  for (int32_t i = 0; i < n; ++i) {
    TensorDesc t = tensorDescOf(d[i].desc);
    // At build time desc.dims holds -1 for dynamic dims; the workspace must cover the largest shape (max), the
    // tactics are timed at the optimum (opt; where it is unset its rank differs, and desc.dims stay).
    if (which == Dims::kMax) t.dims = dimsOf(d[i].max);
    if (which == Dims::kOpt && d[i].opt.nbDims == d[i].desc.dims.nbDims) t.dims = dimsOf(d[i].opt);
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<TensorDesc> descsOf(const nvinfer1::PluginTensorDesc* d, int32_t n) {
  TRTKIT_CHECK(n >= 0 && (n == 0 || d != nullptr), "null tensor descriptors");
  std::vector<TensorDesc> out;
  for (int32_t i = 0; i < n; ++i) out.push_back(tensorDescOf(d[i]));
  return out;
}

}  // namespace

TRTPluginV3::TRTPluginV3(std::unique_ptr<PluginCore> core) : core_(std::move(core)) {}

template <typename R, typename F>
R TRTPluginV3::guard(const char* method, R failValue, F&& body) const noexcept {
  return guarded(core_->op(), core_->instance(), method, failValue, std::forward<F>(body));
}

nvinfer1::IPluginCapability* TRTPluginV3::getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept {
  switch (type) {
    case nvinfer1::PluginCapabilityType::kCORE: return static_cast<nvinfer1::IPluginV3OneCore*>(this);
    case nvinfer1::PluginCapabilityType::kBUILD: return static_cast<nvinfer1::IPluginV3OneBuild*>(this);
    case nvinfer1::PluginCapabilityType::kRUNTIME: return static_cast<nvinfer1::IPluginV3OneRuntime*>(this);
  }
  return nullptr;
}

nvinfer1::IPluginV3* TRTPluginV3::clone() noexcept {
  // The config (attributes and the dtypes chosen at configure time) is copied; the clone is not attached.
  return guard(__func__, static_cast<nvinfer1::IPluginV3*>(nullptr), [&] { return new TRTPluginV3(core_->clone()); });
}

const char* TRTPluginV3::getPluginName() const noexcept {
  return core_->op();
}
const char* TRTPluginV3::getPluginVersion() const noexcept {
  return kPluginVersionV3;
}
const char* TRTPluginV3::getPluginNamespace() const noexcept {
  return core_->pluginNamespace().c_str();
}
int32_t TRTPluginV3::getNbOutputs() const noexcept {
  return core_->nbOutputs();
}

int32_t TRTPluginV3::configurePlugin(const nvinfer1::DynamicPluginTensorDesc* in, int32_t nbInputs,
                                     const nvinfer1::DynamicPluginTensorDesc* out, int32_t nbOutputs) noexcept {
  return guard(__func__, int32_t{-1}, [&] {
    core_->configure(descsOf(in, nbInputs, Dims::kDesc), descsOf(out, nbOutputs, Dims::kDesc));
    optInputs_ = descsOf(in, nbInputs, Dims::kOpt);
    optOutputs_ = descsOf(out, nbOutputs, Dims::kOpt);
    tactics_.clear();
    return int32_t{0};
  });
}

int32_t TRTPluginV3::getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs,
                                        const nvinfer1::DataType* inputTypes, int32_t nbInputs) const noexcept {
  return guard(__func__, int32_t{-1}, [&] {
    TRTKIT_CHECK(nbOutputs == core_->nbOutputs(), "expected ", core_->nbOutputs(), " outputs, got ", nbOutputs);
    TRTKIT_CHECK(nbOutputs == 0 || outputTypes != nullptr, "null output type array");
    std::vector<nvinfer1::DataType> types = core_->outputTypes(inputTypes, nbInputs);
    for (int32_t i = 0; i < nbOutputs; ++i) outputTypes[i] = types[i];
    return int32_t{0};
  });
}

int32_t TRTPluginV3::getOutputShapes(const nvinfer1::DimsExprs* inputs, int32_t nbInputs,
                                     const nvinfer1::DimsExprs* shapeInputs, int32_t nbShapeInputs,
                                     nvinfer1::DimsExprs* outputs, int32_t nbOutputs,
                                     nvinfer1::IExprBuilder& exprBuilder) noexcept {
  (void)shapeInputs;
  return guard(__func__, int32_t{-1}, [&] {
    TRTKIT_CHECK(nbShapeInputs == 0, "the kit's layers take no shape inputs, got ", nbShapeInputs);
    TRTKIT_CHECK(nbOutputs == core_->nbOutputs(), "expected ", core_->nbOutputs(), " outputs, got ", nbOutputs);
    TRTKIT_CHECK(nbOutputs == 0 || outputs != nullptr, "null output shape array");
    std::vector<nvinfer1::DimsExprs> shapes = core_->outputShapes(inputs, nbInputs, exprBuilder);
    for (int32_t i = 0; i < nbOutputs; ++i) outputs[i] = shapes[i];
    return int32_t{0};
  });
}

bool TRTPluginV3::supportsFormatCombination(int32_t pos, const nvinfer1::DynamicPluginTensorDesc* inOut,
                                            int32_t nbInputs, int32_t nbOutputs) noexcept {
  return guard(__func__, false, [&] {
    TRTKIT_CHECK(inOut != nullptr, "null tensor descriptors");
    return core_->supports(pos, nbInputs, nbOutputs,
                           [inOut](int32_t i) -> const nvinfer1::PluginTensorDesc& { return inOut[i].desc; });
  });
}

size_t TRTPluginV3::getWorkspaceSize(const nvinfer1::DynamicPluginTensorDesc* inputs, int32_t nbInputs,
                                     const nvinfer1::DynamicPluginTensorDesc* outputs,
                                     int32_t nbOutputs) const noexcept {
  return guard(__func__, size_t{0}, [&] {
    return core_->workspaceSize(descsOf(inputs, nbInputs, Dims::kMax), descsOf(outputs, nbOutputs, Dims::kMax));
  });
}

int32_t TRTPluginV3::getNbTactics() noexcept {
  // TensorRT asks after configurePlugin; without one there is nothing to offer but the default.
  return guard(__func__, int32_t{-1}, [&] {
    if (optInputs_.empty() && optOutputs_.empty()) return int32_t{0};
    tactics_ = core_->tactics(optInputs_, optOutputs_);
    return static_cast<int32_t>(tactics_.size());
  });
}

int32_t TRTPluginV3::getValidTactics(int32_t* tactics, int32_t nbTactics) noexcept {
  // TensorRT asks getNbTactics first (its answer sized this buffer): tactics_ holds what it offered.
  return guard(__func__, int32_t{-1}, [&] {
    TRTKIT_CHECK(nbTactics == static_cast<int32_t>(tactics_.size()), "asked for ", nbTactics,
                 " tactics, getNbTactics offered ", tactics_.size());
    TRTKIT_CHECK(nbTactics == 0 || tactics != nullptr, "null tactics buffer");
    for (int32_t i = 0; i < nbTactics; ++i) tactics[i] = tactics_[static_cast<size_t>(i)];
    return int32_t{0};
  });
}

const char* TRTPluginV3::getMetadataString() noexcept {
  return guard(__func__, static_cast<const char*>(nullptr), [&] {
    const LayerConfig& c = core_->layer().config();
    std::string text = c.op() + "(";
    for (size_t i = 0; i < c.attrs().size(); ++i)
      text += (i > 0 ? ", " : "") + c.attrs()[i].first + "=" + attrToString(c.attrs()[i].second);
    metadata_ = text + ")";
    return metadata_.c_str();
  });
}

const char* TRTPluginV3::getTimingCacheID() noexcept {
  // A digest, not the text: string attributes may hold anything (JSON, quotes, newlines).
  return guard(__func__, static_cast<const char*>(nullptr), [&] {
    const char* text = getMetadataString();
    TRTKIT_CHECK(text != nullptr, "no metadata string");
    uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bits
    for (const char* c = text; *c != '\0'; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 1099511628211ull;
    char digest[17];
    std::snprintf(digest, sizeof(digest), "%016llx", static_cast<unsigned long long>(h));
    timingCacheId_ = core_->layer().config().op() + "_" + kPluginVersionV3 + "_" + digest;
    return timingCacheId_.c_str();
  });
}

int32_t TRTPluginV3::setTactic(int32_t tactic) noexcept {
  return guard(__func__, int32_t{-1}, [&] {
    core_->setTactic(tactic);
    return int32_t{0};
  });
}

int32_t TRTPluginV3::onShapeChange(const nvinfer1::PluginTensorDesc* in, int32_t nbInputs,
                                   const nvinfer1::PluginTensorDesc* out, int32_t nbOutputs) noexcept {
  // Concrete shapes now: the layer validates them exactly as at build time.
  return guard(__func__, int32_t{-1}, [&] {
    core_->configure(descsOf(in, nbInputs), descsOf(out, nbOutputs));
    return int32_t{0};
  });
}

int32_t TRTPluginV3::enqueue(const nvinfer1::PluginTensorDesc* inputDesc, const nvinfer1::PluginTensorDesc* outputDesc,
                             const void* const* inputs, void* const* outputs, void* workspace,
                             cudaStream_t stream) noexcept {
  return guard(__func__, int32_t{-1}, [&] {
    core_->enqueue(inputDesc, outputDesc, inputs, outputs, workspace, stream);
    return int32_t{0};
  });
}

nvinfer1::IPluginV3* TRTPluginV3::attachToContext(nvinfer1::IPluginResourceContext* context) noexcept {
  // TensorRT runs the returned clone in one execution context; per-context resources are made in attach().
  (void)context;
  return guard(__func__, static_cast<nvinfer1::IPluginV3*>(nullptr), [&] {
    auto copy = std::make_unique<TRTPluginV3>(core_->clone());
    copy->core_->attach();
    return copy.release();
  });
}

const nvinfer1::PluginFieldCollection* TRTPluginV3::getFieldsToSerialize() noexcept {
  return guard(__func__, static_cast<const nvinfer1::PluginFieldCollection*>(nullptr), [&] {
    serialized_ = core_->layer().config().serialize();
    TRTKIT_CHECK(serialized_.size() <= static_cast<size_t>(INT32_MAX), "serialized config of ", serialized_.size(),
                 " bytes does not fit a PluginField");
    field_ = nvinfer1::PluginField(kConfigFieldName, serialized_.data(), nvinfer1::PluginFieldType::kUNKNOWN,
                                   static_cast<int32_t>(serialized_.size()));
    fields_.nbFields = 1;
    fields_.fields = &field_;
    return static_cast<const nvinfer1::PluginFieldCollection*>(&fields_);
  });
}

}  // namespace trt
}  // namespace trtkit

#endif  // TRTKIT_TRT_HAS_V3
