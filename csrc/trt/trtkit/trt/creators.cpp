#include "trtkit/trt/creators.hpp"

#include <memory>
#include <utility>

#include "trtkit/core/error.hpp"
#include "trtkit/trt/convert.hpp"
#include "trtkit/trt/logging.hpp"
#include "trtkit/trt/plugin_core.hpp"
#include "trtkit/trt/plugin_v2.hpp"
#include "trtkit/trt/plugin_v3.hpp"

TRTKIT_IGNORE_DEPRECATED_BEGIN

namespace trtkit {
namespace trt {
namespace {

// The layer a serialized config describes, checked to belong to the creator that was asked.
std::unique_ptr<Layer> layerFromBytes(const LayerSchema& schema, const void* data, size_t size) {
  TRTKIT_CHECK(data != nullptr || size == 0, "null serialized data of ", size, " bytes");
  LayerConfig config = LayerConfig::deserialize(data, size);
  TRTKIT_CHECK(config.op() == schema.name, "the serialized data is for layer '", config.op(), "', not '", schema.name,
               "'");
  return createLayer(config);
}

std::unique_ptr<Layer> layerFromFields(const LayerSchema& schema, const nvinfer1::PluginFieldCollection* fc) {
  return createLayer(configFromFields(schema, rawFieldsOf(fc)));
}

const char* orEmpty(const char* s) {
  return s != nullptr ? s : "";
}

}  // namespace

FieldNames::FieldNames(const LayerSchema& schema) {
  for (const AttrSpec& a : schema.attrs) {
    // Length is advisory for creators' field lists: 1 for scalars, 0 (variable) for arrays, strings, weights.
    const bool scalar = a.type == AttrType::kInt || a.type == AttrType::kFloat;
    fields_.emplace_back(a.name.c_str(), nullptr, fieldTypeOf(a.type), scalar ? 1 : 0);
  }
  collection_.nbFields = static_cast<int32_t>(fields_.size());
  collection_.fields = fields_.data();
}

// ---- V2 ----------------------------------------------------------------------------------------------------

TRTPluginCreator::TRTPluginCreator(const LayerEntry& entry)
    : entry_(entry), fields_(entry.schema), namespace_(kPluginNamespace) {}

const char* TRTPluginCreator::getPluginName() const noexcept {
  return entry_.schema.name.c_str();
}
const char* TRTPluginCreator::getPluginVersion() const noexcept {
  return kPluginVersionV2;
}
const nvinfer1::PluginFieldCollection* TRTPluginCreator::getFieldNames() noexcept {
  return fields_.collection();
}

nvinfer1::IPluginV2* TRTPluginCreator::createPlugin(const char* name,
                                                    const nvinfer1::PluginFieldCollection* fc) noexcept {
  return guarded(getPluginName(), orEmpty(name), __func__, static_cast<nvinfer1::IPluginV2*>(nullptr), [&] {
    auto core = std::make_unique<PluginCore>(layerFromFields(entry_.schema, fc), orEmpty(name), namespace_);
    return new TRTPlugin(std::move(core));
  });
}

nvinfer1::IPluginV2* TRTPluginCreator::deserializePlugin(const char* name, const void* serialData,
                                                         size_t serialLength) noexcept {
  return guarded(getPluginName(), orEmpty(name), __func__, static_cast<nvinfer1::IPluginV2*>(nullptr), [&] {
    auto layer = layerFromBytes(entry_.schema, serialData, serialLength);
    auto core = std::make_unique<PluginCore>(std::move(layer), orEmpty(name), namespace_);
    return new TRTPlugin(std::move(core));
  });
}

void TRTPluginCreator::setPluginNamespace(const char* pluginNamespace) noexcept {
  guardedVoid(getPluginName(), "", __func__, [&] { namespace_ = orEmpty(pluginNamespace); });
}

const char* TRTPluginCreator::getPluginNamespace() const noexcept {
  return namespace_.c_str();
}

// ---- V3 ----------------------------------------------------------------------------------------------------
#if TRTKIT_TRT_HAS_V3

TRTPluginCreatorV3::TRTPluginCreatorV3(const LayerEntry& entry) : entry_(entry), fields_(entry.schema) {}

namespace {

// Deserializing an engine: the one field getFieldsToSerialize wrote.
std::unique_ptr<Layer> layerFromConfigField(const LayerSchema& schema, const nvinfer1::PluginFieldCollection* fc) {
  const nvinfer1::PluginField* config = nullptr;
  if (fc != nullptr && fc->fields != nullptr) {
    for (int32_t i = 0; i < fc->nbFields; ++i) {
      const char* name = fc->fields[i].name;
      if (name != nullptr && std::string(name) == kConfigFieldName) config = &fc->fields[i];
    }
  }
  TRTKIT_CHECK(config != nullptr, "runtime-phase creation needs the '", kConfigFieldName, "' field");
  TRTKIT_CHECK(config->length >= 0, "field '", kConfigFieldName, "' has negative length ", config->length);
  return layerFromBytes(schema, config->data, static_cast<size_t>(config->length));
}

}  // namespace

nvinfer1::IPluginV3* TRTPluginCreatorV3::createPlugin(const char* name, const nvinfer1::PluginFieldCollection* fc,
                                                      nvinfer1::TensorRTPhase phase) noexcept {
  return guarded(getPluginName(), orEmpty(name), __func__, static_cast<nvinfer1::IPluginV3*>(nullptr), [&] {
    TRTKIT_CHECK(phase == nvinfer1::TensorRTPhase::kBUILD || phase == nvinfer1::TensorRTPhase::kRUNTIME,
                 "unknown TensorRTPhase ", static_cast<int>(phase));
    // Build: the parser's (or a user's) fields. Runtime: the one field getFieldsToSerialize wrote.
    std::unique_ptr<Layer> layer = phase == nvinfer1::TensorRTPhase::kRUNTIME ? layerFromConfigField(entry_.schema, fc)
                                                                              : layerFromFields(entry_.schema, fc);
    auto core = std::make_unique<PluginCore>(std::move(layer), orEmpty(name), kPluginNamespace);
    return new TRTPluginV3(std::move(core));
  });
}

const nvinfer1::PluginFieldCollection* TRTPluginCreatorV3::getFieldNames() noexcept {
  return fields_.collection();
}
const char* TRTPluginCreatorV3::getPluginName() const noexcept {
  return entry_.schema.name.c_str();
}
const char* TRTPluginCreatorV3::getPluginVersion() const noexcept {
  return kPluginVersionV3;
}
const char* TRTPluginCreatorV3::getPluginNamespace() const noexcept {
  return kPluginNamespace;
}

#endif

// ---- the table -----------------------------------------------------------------------------------------------

namespace {

struct OwnedCreators {
  std::vector<std::unique_ptr<TRTPluginCreator>> v2;
#if TRTKIT_TRT_HAS_V3
  std::vector<std::unique_ptr<TRTPluginCreatorV3>> v3;
#endif
  CreatorTable table;

  OwnedCreators() {
    for (const LayerEntry& entry : LayerRegistry::global().entries()) {
      v2.push_back(std::make_unique<TRTPluginCreator>(entry));
      table.v2.push_back(v2.back().get());
#if TRTKIT_TRT_HAS_V3
      v3.push_back(std::make_unique<TRTPluginCreatorV3>(entry));
#endif
    }
#if TRTKIT_TRT_HAS_V3
    for (auto& c : v2) table.all.push_back(c.get());
    for (auto& c : v3) table.all.push_back(c.get());
#endif
  }
};

}  // namespace

const CreatorTable& creatorTable() {
  static const OwnedCreators creators;  // built after every static layer registration has run
  // A layer the registry rejected (duplicate name, inconsistent schema) has no creator; say so, once.
  static const bool reported = [] {
    for (const std::string& p : LayerRegistry::global().problems()) {
      log(Severity::kError, "trtkit plugin library: a layer was not registered: " + p);
    }
    return true;
  }();
  (void)reported;
  return creators.table;
}

}  // namespace trt
}  // namespace trtkit

TRTKIT_IGNORE_DEPRECATED_END
