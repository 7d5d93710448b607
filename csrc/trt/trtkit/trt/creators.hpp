// The generic creators: one V2 creator (version kPluginVersionV2) and, on TensorRT 10+, one V3 creator
// (kPluginVersionV3) per registered layer, in namespace kPluginNamespace. Field names come from the layer's
// attribute schema, typed as TensorRT's ONNX parser delivers them.
#pragma once

#include <string>
#include <vector>

#include "trtkit/core/registry.hpp"
#include "trtkit/trt/nvinfer.hpp"

TRTKIT_IGNORE_DEPRECATED_BEGIN

namespace trtkit {
namespace trt {

// The schema's attributes as PluginFields (names point into the registry's schema, which lives forever).
class FieldNames {
 public:
  explicit FieldNames(const LayerSchema& schema);
  const nvinfer1::PluginFieldCollection* collection() const { return &collection_; }

 private:
  std::vector<nvinfer1::PluginField> fields_;
  nvinfer1::PluginFieldCollection collection_{};
};

class TRTPluginCreator final : public nvinfer1::IPluginCreator {
 public:
  explicit TRTPluginCreator(const LayerEntry& entry);

  const char* getPluginName() const noexcept override;
  const char* getPluginVersion() const noexcept override;
  const nvinfer1::PluginFieldCollection* getFieldNames() noexcept override;
  nvinfer1::IPluginV2* createPlugin(const char* name, const nvinfer1::PluginFieldCollection* fc) noexcept override;
  nvinfer1::IPluginV2* deserializePlugin(const char* name, const void* serialData,
                                         size_t serialLength) noexcept override;
  void setPluginNamespace(const char* pluginNamespace) noexcept override;
  const char* getPluginNamespace() const noexcept override;

 private:
  const LayerEntry& entry_;
  FieldNames fields_;
  std::string namespace_;
};

#if TRTKIT_TRT_HAS_V3
class TRTPluginCreatorV3 final : public nvinfer1::IPluginCreatorV3One {
 public:
  explicit TRTPluginCreatorV3(const LayerEntry& entry);

  nvinfer1::IPluginV3* createPlugin(const char* name, const nvinfer1::PluginFieldCollection* fc,
                                    nvinfer1::TensorRTPhase phase) noexcept override;
  const nvinfer1::PluginFieldCollection* getFieldNames() noexcept override;
  const char* getPluginName() const noexcept override;
  const char* getPluginVersion() const noexcept override;
  const char* getPluginNamespace() const noexcept override;

 private:
  const LayerEntry& entry_;
  FieldNames fields_;
};
#endif

// Every creator of this library, built once from LayerRegistry::global() on first use.
struct CreatorTable {
  std::vector<nvinfer1::IPluginCreator*> v2;
#if TRTKIT_TRT_HAS_V3
  std::vector<nvinfer1::IPluginCreatorInterface*> all;  // V2 then V3 creators, for getCreators
#endif
};
const CreatorTable& creatorTable();

}  // namespace trt
}  // namespace trtkit

TRTKIT_IGNORE_DEPRECATED_END
