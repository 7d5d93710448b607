// What the V2 and V3 adapters share: one Layer, its schema, the instance name and namespace, and the
// translation of each TensorRT question into a Layer call. The adapters add only the interface plumbing and
// the failure values; all methods here throw trtkit::Error, the adapters catch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trtkit/core/layer.hpp"
#include "trtkit/core/registry.hpp"
#include "trtkit/trt/convert.hpp"
#include "trtkit/trt/nvinfer.hpp"

namespace trtkit {
namespace trt {

class PluginCore {
 public:
  // Takes a validated layer (from createLayer); `instance` is the node name TensorRT gave the plugin.
  PluginCore(std::unique_ptr<Layer> layer, std::string instance, std::string ns);
  ~PluginCore();
  PluginCore(const PluginCore&) = delete;
  PluginCore& operator=(const PluginCore&) = delete;

  // A fresh layer from this one's config (re-validated), same instance name and namespace; not attached.
  std::unique_ptr<PluginCore> clone() const;

  const LayerSchema& schema() const { return *schema_; }
  Layer& layer() { return *layer_; }
  const Layer& layer() const { return *layer_; }
  const char* op() const { return schema_->name.c_str(); }
  const char* instance() const { return instance_.c_str(); }
  const std::string& pluginNamespace() const { return namespace_; }
  void setPluginNamespace(const char* ns) { namespace_ = ns != nullptr ? ns : ""; }
  int32_t nbOutputs() const { return schema_->numOutputs(); }

  std::vector<nvinfer1::DataType> outputTypes(const nvinfer1::DataType* inputTypes, int32_t nbInputs) const;
  std::vector<nvinfer1::DimsExprs> outputShapes(const nvinfer1::DimsExprs* inputs, int32_t nbInputs,
                                                nvinfer1::IExprBuilder& builder) const;
  // descAt(i) -> the PluginTensorDesc TensorRT proposes for position i (V2 and V3 wrap it differently).
  template <typename DescAt>
  bool supports(int32_t pos, int32_t nbInputs, int32_t nbOutputs, DescAt descAt) const {
    checkSupportsArgs(pos, nbInputs, nbOutputs);
    IOType decided[2 * kMaxIo];
    for (int32_t i = 0; i <= pos; ++i) {
      const nvinfer1::PluginTensorDesc& d = descAt(i);
      if (!fromTrt(d.type, &decided[i].dtype)) return false;     // a dtype the kit does not know
      if (!fromTrt(d.format, &decided[i].format)) return false;  // not linear
    }
    return supportsCombination(*schema_, pos, decided, nbInputs, nbOutputs);
  }
  // Records the chosen dtypes in the config (they are serialized) and lets the layer validate.
  void configure(const std::vector<TensorDesc>& inputs, const std::vector<TensorDesc>& outputs);
  size_t workspaceSize(const std::vector<TensorDesc>& inputs, const std::vector<TensorDesc>& outputs) const;

  // No heap allocation on the success path: GTensors live on the stack.
  void enqueue(const nvinfer1::PluginTensorDesc* inputDesc, const nvinfer1::PluginTensorDesc* outputDesc,
               const void* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream);

  void attach();
  void detach() noexcept;
  bool attached() const { return attached_; }

  // Tactics (V3): the layer's offer for these (optimum) shapes, checked to be unique and non-zero; the tactic
  // set last is kept and handed to clones (TensorRT may set it before or after attachToContext).
  std::vector<int32_t> tactics(const std::vector<TensorDesc>& inputs, const std::vector<TensorDesc>& outputs) const;
  void setTactic(int32_t tactic);
  int32_t tactic() const { return tactic_; }

 private:
  void checkSupportsArgs(int32_t pos, int32_t nbInputs, int32_t nbOutputs) const;

  std::unique_ptr<Layer> layer_;
  const LayerSchema* schema_;  // owned by the registry, which outlives every plugin
  std::string instance_;
  std::string namespace_;
  bool attached_ = false;
  int32_t tactic_ = 0;
};

// The registry entry for `op`, or a trtkit::Error naming the op and the library's layers.
const LayerEntry& findEntry(const std::string& op);

}  // namespace trt
}  // namespace trtkit
