#include "trtkit/trt/plugin_core.hpp"

#include <utility>

#include "trtkit/core/error.hpp"

namespace trtkit {
namespace trt {

const LayerEntry& findEntry(const std::string& op) {
  const LayerEntry* entry = LayerRegistry::global().find(op);
  if (entry == nullptr) {
    std::string known;
    for (const LayerEntry& e : LayerRegistry::global().entries()) known += (known.empty() ? "" : ", ") + e.schema.name;
    TRTKIT_FAIL("no layer named '", op, "' in this library (it has: ", known.empty() ? "none" : known, ")");
  }
  return *entry;
}

PluginCore::PluginCore(std::unique_ptr<Layer> layer, std::string instance, std::string ns)
    : layer_(std::move(layer)), instance_(std::move(instance)), namespace_(std::move(ns)) {
  TRTKIT_CHECK(layer_ != nullptr, "null layer");
  schema_ = &findEntry(layer_->config().op()).schema;
  TRTKIT_CHECK(schema_->numInputs() <= kMaxIo && schema_->numOutputs() <= kMaxIo, "layer ", schema_->name, " has ",
               schema_->numInputs(), " inputs and ", schema_->numOutputs(), " outputs; the adapter supports up to ",
               kMaxIo, " of each");
}

PluginCore::~PluginCore() {
  detach();
}

std::unique_ptr<PluginCore> PluginCore::clone() const {
  auto copy = std::make_unique<PluginCore>(createLayer(layer_->config()), instance_, namespace_);
  if (tactic_ != 0) copy->setTactic(tactic_);
  return copy;
}

std::vector<nvinfer1::DataType> PluginCore::outputTypes(const nvinfer1::DataType* inputTypes, int32_t nbInputs) const {
  TRTKIT_CHECK(nbInputs == schema_->numInputs(), "expected ", schema_->numInputs(), " input types, got ", nbInputs);
  TRTKIT_CHECK(nbInputs == 0 || inputTypes != nullptr, "null input types");
  std::vector<DType> in(static_cast<size_t>(nbInputs));
  for (int32_t i = 0; i < nbInputs; ++i) in[i] = fromTrtChecked(inputTypes[i]);
  std::vector<DType> out = trtkit::outputTypes(*schema_, in);
  std::vector<nvinfer1::DataType> result;
  result.reserve(out.size());
  for (DType t : out) result.push_back(toTrt(t));
  return result;
}

std::vector<nvinfer1::DimsExprs> PluginCore::outputShapes(const nvinfer1::DimsExprs* inputs, int32_t nbInputs,
                                                          nvinfer1::IExprBuilder& builder) const {
  TRTKIT_CHECK(nbInputs == schema_->numInputs(), "expected ", schema_->numInputs(), " inputs, got ", nbInputs);
  std::vector<ExprDims> shapes = layer_->outputShapes(exprInputsOf(inputs, nbInputs));
  TRTKIT_CHECK(static_cast<int>(shapes.size()) == schema_->numOutputs(), "the layer returned ", shapes.size(),
               " output shapes for ", schema_->numOutputs(), " outputs");
  std::vector<nvinfer1::DimsExprs> out;
  out.reserve(shapes.size());
  for (const ExprDims& s : shapes) out.push_back(toDimsExprs(s, inputs, nbInputs, builder));
  return out;
}

void PluginCore::checkSupportsArgs(int32_t pos, int32_t nbInputs, int32_t nbOutputs) const {
  checkIoCounts(*schema_, nbInputs, nbOutputs);
  TRTKIT_CHECK(pos >= 0 && pos < nbInputs + nbOutputs, "position ", pos, " is outside [0, ", nbInputs + nbOutputs, ")");
}

void PluginCore::configure(const std::vector<TensorDesc>& inputs, const std::vector<TensorDesc>& outputs) {
  checkIoCounts(*schema_, static_cast<int32_t>(inputs.size()), static_cast<int32_t>(outputs.size()));
  std::vector<DType> inTypes;
  for (const TensorDesc& d : inputs) inTypes.push_back(d.type.dtype);
  std::vector<DType> expected = trtkit::outputTypes(*schema_, inTypes);
  for (size_t i = 0; i < outputs.size(); ++i) {
    TRTKIT_CHECK(outputs[i].type.dtype == expected[i], "output ", i, " has dtype ", dtypeName(outputs[i].type.dtype),
                 " but the inputs' dtypes give ", dtypeName(expected[i]));
  }
  layer_->configure(inputs, outputs);
  std::vector<IOType> io;
  for (const TensorDesc& d : inputs) io.push_back(d.type);
  for (const TensorDesc& d : outputs) io.push_back(d.type);
  layer_->config().io = std::move(io);
}

size_t PluginCore::workspaceSize(const std::vector<TensorDesc>& inputs, const std::vector<TensorDesc>& outputs) const {
  checkIoCounts(*schema_, static_cast<int32_t>(inputs.size()), static_cast<int32_t>(outputs.size()));
  return layer_->workspaceSize(inputs, outputs);
}

void PluginCore::enqueue(const nvinfer1::PluginTensorDesc* inputDesc, const nvinfer1::PluginTensorDesc* outputDesc,
                         const void* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) {
  const int nIn = schema_->numInputs();
  const int nOut = schema_->numOutputs();
  TRTKIT_CHECK((nIn == 0 || (inputDesc != nullptr && inputs != nullptr)) &&
                   (nOut == 0 || (outputDesc != nullptr && outputs != nullptr)),
               "null tensor descriptors or pointers");
  if (!attached_) attach();  // TensorRT attaches first; a direct caller (the harness) may not
  GTensor in[kMaxIo];
  GTensor out[kMaxIo];
  gtensorsOf(inputDesc, inputs, nIn, in);
  gtensorsOf(outputDesc, outputs, nOut, out);
  layer_->enqueue(Span<const GTensor>(in, nIn), Span<GTensor>(out, nOut), workspace, stream);
}

std::vector<int32_t> PluginCore::tactics(const std::vector<TensorDesc>& inputs,
                                         const std::vector<TensorDesc>& outputs) const {
  checkIoCounts(*schema_, static_cast<int32_t>(inputs.size()), static_cast<int32_t>(outputs.size()));
  std::vector<int32_t> offered = layer_->tactics(inputs, outputs);
  for (size_t i = 0; i < offered.size(); ++i) {
    TRTKIT_CHECK(offered[i] != 0, schema_->name, " offered tactic 0, which TensorRT reserves for the default");
    for (size_t j = 0; j < i; ++j)
      TRTKIT_CHECK(offered[j] != offered[i], schema_->name, " offered tactic ", offered[i], " twice");
  }
  return offered;
}

void PluginCore::setTactic(int32_t tactic) {
  layer_->setTactic(tactic);
  tactic_ = tactic;
}

void PluginCore::attach() {
  if (attached_) return;
  layer_->attach();
  attached_ = true;
}

void PluginCore::detach() noexcept {
  if (!attached_) return;
  layer_->detach();
  attached_ = false;
}

}  // namespace trt
}  // namespace trtkit
