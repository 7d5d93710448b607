// trtkit._C.Layer runs a layer the way the TensorRT adapters do (shapes, dtypes, configure, workspace,
// enqueue, serialization), without TensorRT: the eager CUDA path of the torch ops and the tests use it.
#include "layer_binding.hpp"

#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "convert.hpp"
#include "trtkit/core/registry.hpp"

namespace py = pybind11;

namespace trtkit::python {
namespace {

using Shapes = std::vector<std::vector<int64_t>>;
using Descs = std::vector<std::pair<std::string, std::vector<int64_t>>>;
using DeviceTensors = std::vector<std::tuple<uintptr_t, std::string, std::vector<int64_t>>>;

std::string joinTypes(const std::vector<DType>& types) {
  std::string s;
  for (size_t i = 0; i < types.size(); ++i) s += std::string(i ? ", " : "") + dtypeName(types[i]);
  return s;
}

class PyLayer {
 public:
  explicit PyLayer(std::unique_ptr<Layer> layer)
      : layer_(std::move(layer)), entry_(&findEntry(layer_->config().op())) {}
  PyLayer(const std::string& name, const py::dict& attrs) : entry_(&findEntry(name)) {
    layer_ = createLayer(makeConfig(schema(), attrsFromPython(schema(), attrs)));
  }
  ~PyLayer() {
    if (attached_) layer_->detach();
  }
  PyLayer(const PyLayer&) = delete;
  PyLayer& operator=(const PyLayer&) = delete;

  const LayerSchema& schema() const { return entry_->schema; }
  const LayerConfig& config() const { return layer_->config(); }

  Shapes outputShapes(const Shapes& inputs) const {
    checkCount(inputs.size(), schema().inputs.size(), "input shapes");
    std::vector<int> ranks;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].size() > static_cast<size_t>(kMaxDims))
        throw py::value_error(schema().name + ": input '" + schema().inputs[i] + "' has rank " +
                              std::to_string(inputs[i].size()) + ", at most " + std::to_string(kMaxDims));
      for (int64_t d : inputs[i])
        if (d < 0) throw py::value_error(schema().name + ": input '" + schema().inputs[i] + "' has a negative dim");
      ranks.push_back(static_cast<int>(inputs[i].size()));
    }
    const std::vector<ExprDims> exprs = layer_->outputShapes(symbolicInputs(ranks));
    checkCount(exprs.size(), schema().outputs.size(), "output shapes from the layer");
    Shapes out = evalShapes(exprs, inputs);
    for (size_t o = 0; o < out.size(); ++o)
      for (int64_t d : out[o])
        if (d < 0)
          throw py::value_error(schema().name + ": output '" + schema().outputs[o] + "' gets a negative dim " +
                                std::to_string(d) + " for these input shapes");
    return out;
  }

  std::vector<std::string> outputTypeNames(const std::vector<std::string>& inputTypes) const {
    std::vector<DType> in;
    for (const auto& t : inputTypes) in.push_back(dtypeFromName(t));
    std::vector<std::string> out;
    for (DType t : outputTypes(schema(), in)) out.push_back(dtypeName(t));
    return out;
  }

  void configure(const Descs& inputs, const Descs& outputs) {
    const auto in = tensorDescs(inputs, "configure inputs");
    const auto out = tensorDescs(outputs, "configure outputs");
    checkCount(in.size(), schema().inputs.size(), "configure inputs");
    checkCount(out.size(), schema().outputs.size(), "configure outputs");
    std::vector<DType> inTypes, outTypes;
    for (const auto& t : in) inTypes.push_back(t.type.dtype);
    for (const auto& t : out) outTypes.push_back(t.type.dtype);
    const std::vector<DType> want = outputTypes(schema(), inTypes);  // throws for an unsupported input row
    if (want != outTypes)
      throw py::value_error(schema().name + ": for inputs (" + joinTypes(inTypes) + ") the outputs must be (" +
                            joinTypes(want) + "), got (" + joinTypes(outTypes) + ")");
    layer_->configure(in, out);
    std::vector<IOType> io;
    for (const auto& t : in) io.push_back(t.type);
    for (const auto& t : out) io.push_back(t.type);
    layer_->config().io = std::move(io);
  }

  size_t workspaceSize(const Descs& inputs, const Descs& outputs) const {
    return layer_->workspaceSize(tensorDescs(inputs, "inputs"), tensorDescs(outputs, "outputs"));
  }

  std::vector<int32_t> tactics(const Descs& inputs, const Descs& outputs) const {
    return layer_->tactics(tensorDescs(inputs, "inputs"), tensorDescs(outputs, "outputs"));
  }
  void setTactic(int32_t tactic) { layer_->setTactic(tactic); }

  void enqueue(const DeviceTensors& inputs, const DeviceTensors& outputs, uintptr_t workspace, uintptr_t stream) {
    checkCount(inputs.size(), schema().inputs.size(), "enqueue inputs");
    checkCount(outputs.size(), schema().outputs.size(), "enqueue outputs");
    std::vector<GTensor> in = views(inputs, "input"), out = views(outputs, "output");
    // The kernels trust the dtypes: they must be a row of the table (and match configure, if it ran).
    std::vector<DType> inTypes, outTypes;
    for (const auto& t : in) inTypes.push_back(t.dtype());
    for (const auto& t : out) outTypes.push_back(t.dtype());
    const std::vector<DType> want = outputTypes(schema(), inTypes);
    if (want != outTypes)
      throw py::value_error(schema().name + ": enqueue with outputs (" + joinTypes(outTypes) + "), the inputs (" +
                            joinTypes(inTypes) + ") give (" + joinTypes(want) + ")");
    const auto& io = layer_->config().io;
    for (size_t i = 0; i < io.size() && i < inTypes.size() + outTypes.size(); ++i) {
      const DType t = i < inTypes.size() ? inTypes[i] : outTypes[i - inTypes.size()];
      if (io[i].dtype != t)
        throw py::value_error(schema().name + ": enqueue dtypes differ from those given to configure()");
    }
    if (!attached_) {
      layer_->attach();
      attached_ = true;
    }
    py::gil_scoped_release release;
    layer_->enqueue(Span<const GTensor>(in.data(), static_cast<int>(in.size())),
                    Span<GTensor>(out.data(), static_cast<int>(out.size())), reinterpret_cast<void*>(workspace),
                    reinterpret_cast<cudaStream_t>(stream));
  }

  py::bytes serialize() const {
    const std::vector<uint8_t> bytes = layer_->config().serialize();
    return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  static std::unique_ptr<PyLayer> deserialize(const py::bytes& data) {
    const std::string s = data;
    return std::make_unique<PyLayer>(createLayer(LayerConfig::deserialize(s.data(), s.size())));
  }

  std::string repr() const {
    std::string s = "trtkit._C.Layer('" + schema().name + "', {";
    bool first = true;
    for (const auto& [name, value] : config().attrs()) {
      s += std::string(first ? "" : ", ") + "'" + name + "': " + attrToString(value);
      first = false;
    }
    return s + "})";
  }

 private:
  void checkCount(size_t have, size_t want, const char* what) const {
    if (have != want)
      throw py::value_error(schema().name + ": " + std::to_string(have) + " " + what + " given, the layer has " +
                            std::to_string(want));
  }

  std::vector<GTensor> views(const DeviceTensors& tensors, const char* what) const {
    std::vector<GTensor> out;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& [ptr, dtype, dims] = tensors[i];
      if (dims.size() > static_cast<size_t>(kMaxDims))
        throw py::value_error(schema().name + ": " + what + " " + std::to_string(i) + " has rank " +
                              std::to_string(dims.size()) + ", at most " + std::to_string(kMaxDims));
      int64_t count = 1;
      for (int64_t d : dims) {
        if (d < 0) throw py::value_error(schema().name + ": " + what + " " + std::to_string(i) + " has a negative dim");
        count *= d;
      }
      if (ptr == 0 && count > 0)
        throw py::value_error(schema().name + ": " + what + " " + std::to_string(i) + " has a null data pointer");
      out.emplace_back(reinterpret_cast<void*>(ptr), dtypeFromName(dtype), dims.data(), static_cast<int>(dims.size()));
    }
    return out;
  }

  std::unique_ptr<Layer> layer_;
  const LayerEntry* entry_;
  bool attached_ = false;
};

}  // namespace

void bindLayer(py::module_& m) {
  py::class_<PyLayer>(m, "Layer", py::module_local(),
                      "A registered layer built from attributes exactly as the TensorRT creators build it "
                      "(makeConfig + createLayer); errors are ValueError with the core's message.")
      .def(py::init<const std::string&, const py::dict&>(), py::arg("name"), py::arg("attrs") = py::dict())
      .def_property_readonly("name", [](const PyLayer& l) { return l.schema().name; })
      .def_property_readonly("version", [](const PyLayer& l) { return l.config().version(); })
      .def_property_readonly("attrs", [](const PyLayer& l) { return attrsToPython(l.config()); })
      .def_property_readonly("io_types",
                             [](const PyLayer& l) {
                               std::vector<std::string> out;
                               for (const IOType& t : l.config().io) out.push_back(dtypeName(t.dtype));
                               return out;
                             })
      .def_property_readonly("workspace", [](const PyLayer& l) { return l.config().workspace; })
      .def("output_shapes", &PyLayer::outputShapes, py::arg("input_shapes"),
           "Evaluates the layer's output shape expressions for concrete input shapes.")
      .def("output_types", &PyLayer::outputTypeNames, py::arg("input_types"),
           "Output dtypes for the input dtypes from the layer's dtype table.")
      .def("configure", &PyLayer::configure, py::arg("inputs"), py::arg("outputs"),
           "Validates (dtype, dims) per input and output (dims may be -1) and records the dtypes in the config.")
      .def("workspace_size", &PyLayer::workspaceSize, py::arg("inputs"), py::arg("outputs"))
      .def("tactics", &PyLayer::tactics, py::arg("inputs"), py::arg("outputs"),
           "The tactics the layer offers for these (dtype, dims) (IPluginV3::getValidTactics; [] for none).")
      .def("set_tactic", &PyLayer::setTactic, py::arg("tactic"),
           "As IPluginV3's setTactic: 0 (the default) or one of tactics(); raises for any other value.")
      .def("enqueue", &PyLayer::enqueue, py::arg("inputs"), py::arg("outputs"), py::arg("workspace") = 0,
           py::arg("stream") = 0,
           "Runs the layer on device pointers: inputs/outputs are (ptr, dtype, shape); stream is a cudaStream_t.")
      .def("serialize", &PyLayer::serialize, "The LayerConfig bytes (what a V2 plugin stores in an engine).")
      .def_static("deserialize", &PyLayer::deserialize, py::arg("data"))
      .def("__eq__", [](const PyLayer& a, const PyLayer& b) { return a.config() == b.config(); })
      .def("__repr__", &PyLayer::repr);
}

}  // namespace trtkit::python
