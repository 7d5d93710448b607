// Layer: what a plugin author writes. A schema (attributes, inputs, outputs, dtype table), output shapes as
// expressions, optional configure-time validation and workspace, and enqueue on GTensors. The TensorRT
// adapters (csrc/trt) wrap any Layer as IPluginV2DynamicExt and IPluginV3; the Python module runs it too.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trtkit/core/attribute.hpp"
#include "trtkit/core/error.hpp"
#include "trtkit/core/gtensor.hpp"
#include "trtkit/core/layer_config.hpp"
#include "trtkit/core/shape_expr.hpp"

namespace trtkit {

// Kit-wide plugin identity. A V2 and a V3 creator of one op cannot share (name, version, namespace), so the
// IPluginV3 creator takes version "2", as TensorRT's own plugins do when they migrate to V3.
constexpr const char* kPluginNamespace = "trtkit";
constexpr const char* kPluginVersionV2 = "1";
constexpr const char* kPluginVersionV3 = "2";

struct LayerSchema {
  std::string name;  // plugin name == ONNX op_type; must not be an op TensorRT's ONNX parser imports natively
  std::string doc;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<AttrSpec> attrs;
  // Supported dtype combinations, one row per combination: inputs then outputs, all in Format::kLinear.
  // The first row whose inputs match decides the output dtypes.
  std::vector<std::vector<DType>> typeCombinations;

  const AttrSpec* findAttr(const std::string& attr) const;
  int numInputs() const { return static_cast<int>(inputs.size()); }
  int numOutputs() const { return static_cast<int>(outputs.size()); }
};

// A tensor as seen at configure time: dims may hold -1 for dimensions that are dynamic at build time.
struct TensorDesc {
  IOType type;
  std::vector<int64_t> dims;
};

template <typename T>
class Span {
 public:
  Span(T* data, int size) : data_(data), size_(size) {}
  T& operator[](int i) const { return data_[i]; }
  int size() const { return size_; }
  T* begin() const { return data_; }
  T* end() const { return data_ + size_; }

 private:
  T* data_;
  int size_;
};

class Layer {
 public:
  explicit Layer(LayerConfig config) : config_(std::move(config)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const LayerConfig& config() const { return config_; }
  LayerConfig& config() { return config_; }

  // Build time. inputs[i][d] are expressions (constants where known); return one ExprDims per output.
  // Throw trtkit::Error for impossible ranks or constant dims that do not fit.
  virtual std::vector<ExprDims> outputShapes(const std::vector<ExprDims>& inputs) const = 0;

  // Validates the tensors once dtypes are chosen (dims may be -1 at build time). Throw trtkit::Error.
  virtual void configure(const std::vector<TensorDesc>& inputs, const std::vector<TensorDesc>& outputs) {
    (void)inputs;
    (void)outputs;
  }

  // Scratch memory for one enqueue with these (concrete, or max) shapes. Must be bounded; document it.
  virtual size_t workspaceSize(const std::vector<TensorDesc>& inputs, const std::vector<TensorDesc>& outputs) const {
    (void)inputs;
    (void)outputs;
    return 0;
  }

  // Tactics (IPluginV3; IPluginV2DynamicExt has none): alternative implementations for TensorRT's builder to
  // time, keeping the fastest in the engine. Asked after configure() with the optimisation profile's optimum
  // shapes (-1 where TensorRT gives none); return unique non-zero values: 0 is the default (kAuto-like choice,
  // what V2 always runs), which needs no entry.
  virtual std::vector<int32_t> tactics(const std::vector<TensorDesc>& inputs,
                                       const std::vector<TensorDesc>& outputs) const {
    (void)inputs;
    (void)outputs;
    return {};
  }
  // Called before enqueue with 0 or a value tactics() offered: at build time for each tactic timed, at run time
  // with the one the engine kept. Throw trtkit::Error for any other value. Host work (plans, heuristics) is
  // fine here, not in enqueue.
  virtual void setTactic(int32_t tactic) {
    TRTKIT_CHECK(tactic == 0, config_.op(), " offers no tactics, got tactic ", tactic);
  }

  // Per-execution-context resources (a cuBLAS handle, say): attach() is called on the instance that will
  // run, before its first enqueue; detach() before it is destroyed or moved to another context.
  virtual void attach() {}
  virtual void detach() noexcept {}

  // Run time: no heap allocation, no shared mutable state (clones may run concurrently). Throw trtkit::Error
  // only for invalid input; the adapter reports it and returns failure.
  virtual void enqueue(Span<const GTensor> inputs, Span<GTensor> outputs, void* workspace, cudaStream_t stream) = 0;

 private:
  LayerConfig config_;
};

}  // namespace trtkit
