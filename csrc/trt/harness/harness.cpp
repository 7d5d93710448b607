// trtkit._trt_harness: drives a TensorRT plugin object through its vtable, as TensorRT's builder and runtime
// would, without an engine. The plugin comes from TensorRT's own Python bindings (a creator's create_plugin /
// deserialize_plugin); its raw C++ pointer is taken through pybind11's cross-extension conduit. Built against
// the same TensorRT headers as the plugin library (10+), so both agree on every vtable slot.
#include <NvInferRuntime.h>
#include <dlfcn.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "expr_builder.hpp"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // the V2 plugin interfaces are deprecated in 10+

namespace py = pybind11;
using trtkit::harness::HarnessExprBuilder;

namespace {

// TensorRT's wheels are built with GCC's new C++11 ABI; this is the ABI id their pybind11 conduit expects
// (see shared/TENSORRT-FACTS.md). Our own id is tried as well in case a future wheel changes it.
constexpr const char* kTrtAbiId = "system_libstdcpp_gxx_abi_1xxx_use_cxx11_abi_1";

void* conduitPointer(py::handle obj, const std::type_info& type, const char* abi) {
  py::object method = py::getattr(obj, "_pybind11_conduit_v1_", py::none());
  if (method.is_none()) return nullptr;
  py::capsule typeCapsule(const_cast<void*>(static_cast<const void*>(&type)), typeid(std::type_info).name());
  py::object result = method(py::bytes(abi), typeCapsule, py::bytes("raw_pointer_ephemeral"));
  if (!py::isinstance<py::capsule>(result)) return nullptr;
  PyObject* cap = result.ptr();
  void* ptr = PyCapsule_GetPointer(cap, type.name());
  if (ptr == nullptr) PyErr_Clear();
  return ptr;
}

template <typename T>
T* rawPointer(py::handle obj, const char* what) {
  void* p = conduitPointer(obj, typeid(T), kTrtAbiId);
  if (p == nullptr && std::strcmp(kTrtAbiId, PYBIND11_PLATFORM_ABI_ID) != 0) {
    p = conduitPointer(obj, typeid(T), PYBIND11_PLATFORM_ABI_ID);
  }
  if (p == nullptr) {
    throw py::type_error(std::string("cannot take the C++ ") + what + " out of a " +
                         py::str(py::type::of(obj)).cast<std::string>() +
                         " object (not a TensorRT binding object of that type, or its pybind11 ABI differs)");
  }
  return static_cast<T*>(p);
}

// ---- dtypes and formats --------------------------------------------------------------------------------------

const std::vector<std::pair<std::string, nvinfer1::DataType>>& dtypeTable() {
  static const std::vector<std::pair<std::string, nvinfer1::DataType>> table = {
      {"float32", nvinfer1::DataType::kFLOAT}, {"float16", nvinfer1::DataType::kHALF},
      {"bfloat16", nvinfer1::DataType::kBF16}, {"int8", nvinfer1::DataType::kINT8},
      {"int32", nvinfer1::DataType::kINT32},   {"int64", nvinfer1::DataType::kINT64},
      {"bool", nvinfer1::DataType::kBOOL},     {"uint8", nvinfer1::DataType::kUINT8},
      {"fp8", nvinfer1::DataType::kFP8},       {"int4", nvinfer1::DataType::kINT4},
  };
  return table;
}

nvinfer1::DataType dtypeOf(const std::string& name) {
  for (const auto& e : dtypeTable()) {
    if (e.first == name) return e.second;
  }
  throw py::value_error("unknown dtype '" + name + "'");
}

std::string dtypeName(nvinfer1::DataType t) {
  for (const auto& e : dtypeTable()) {
    if (e.second == t) return e.first;
  }
  return "DataType(" + std::to_string(static_cast<int>(t)) + ")";
}

nvinfer1::TensorFormat formatOf(const std::string& name) {
  if (name == "linear") return nvinfer1::TensorFormat::kLINEAR;
  if (name == "chw4") return nvinfer1::TensorFormat::kCHW4;
  if (name == "chw32") return nvinfer1::TensorFormat::kCHW32;
  if (name == "hwc8") return nvinfer1::TensorFormat::kHWC8;
  if (name == "hwc") return nvinfer1::TensorFormat::kHWC;
  throw py::value_error("unknown tensor format '" + name + "' (linear, chw4, chw32, hwc8, hwc)");
}

nvinfer1::Dims dimsOf(const std::vector<int64_t>& v) {
  if (v.size() > static_cast<size_t>(nvinfer1::Dims::MAX_DIMS)) {
    throw py::value_error("rank " + std::to_string(v.size()) + " exceeds TensorRT's maximum");
  }
  nvinfer1::Dims d{};
  d.nbDims = static_cast<int32_t>(v.size());
  for (size_t i = 0; i < v.size(); ++i) d.d[i] = v[i];
  return d;
}

std::vector<nvinfer1::DataType> dtypesOf(const std::vector<std::string>& names) {
  std::vector<nvinfer1::DataType> out;
  for (const auto& n : names) out.push_back(dtypeOf(n));
  return out;
}

// "(dtype, dims)" or "(dtype, dims, min, opt, max)" -> a build-time descriptor (dims may hold -1).
nvinfer1::DynamicPluginTensorDesc dynamicDescOf(const py::handle& item) {
  py::tuple t = py::reinterpret_borrow<py::tuple>(py::tuple(py::reinterpret_borrow<py::object>(item)));
  if (t.size() != 2 && t.size() != 5)
    throw py::value_error("a tensor is (dtype, dims) or (dtype, dims, min, opt, max)");
  nvinfer1::DynamicPluginTensorDesc d{};
  d.desc.type = dtypeOf(t[0].cast<std::string>());
  d.desc.format = nvinfer1::TensorFormat::kLINEAR;
  d.desc.scale = 1.0F;
  d.desc.dims = dimsOf(t[1].cast<std::vector<int64_t>>());
  if (t.size() == 5) {
    d.min = dimsOf(t[2].cast<std::vector<int64_t>>());
    d.opt = dimsOf(t[3].cast<std::vector<int64_t>>());
    d.max = dimsOf(t[4].cast<std::vector<int64_t>>());
  } else {
    d.min = d.opt = d.max = d.desc.dims;
  }
  return d;
}

std::vector<nvinfer1::DynamicPluginTensorDesc> dynamicDescsOf(const py::list& items) {
  std::vector<nvinfer1::DynamicPluginTensorDesc> out;
  for (const auto& item : items) out.push_back(dynamicDescOf(item));
  return out;
}

std::vector<nvinfer1::PluginTensorDesc> descsOf(const py::list& items) {
  std::vector<nvinfer1::PluginTensorDesc> out;
  for (const auto& item : items) out.push_back(dynamicDescOf(item).desc);
  return out;
}

// Position descriptors for supportsFormatCombination: one dtype (and format) per input then output.
std::vector<nvinfer1::DynamicPluginTensorDesc> positionDescs(const std::vector<std::string>& types,
                                                             const std::vector<std::string>& formats) {
  if (!formats.empty() && formats.size() != types.size()) throw py::value_error("formats must match types in length");
  std::vector<nvinfer1::DynamicPluginTensorDesc> out(types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    out[i] = nvinfer1::DynamicPluginTensorDesc{};
    out[i].desc.type = dtypeOf(types[i]);
    out[i].desc.format = formats.empty() ? nvinfer1::TensorFormat::kLINEAR : formatOf(formats[i]);
    out[i].desc.scale = 1.0F;
    out[i].desc.dims.nbDims = -1;  // as at format selection: shapes unknown
  }
  return out;
}

// Enqueue arguments: (device pointer, dtype, shape) per tensor.
struct EnqueueArgs {
  std::vector<nvinfer1::PluginTensorDesc> inDesc, outDesc;
  std::vector<const void*> in;
  std::vector<void*> out;
};

void addTensors(const py::list& items, std::vector<nvinfer1::PluginTensorDesc>& desc, std::vector<void*>& ptrs) {
  for (const auto& item : items) {
    py::tuple t = py::reinterpret_borrow<py::object>(item);
    if (t.size() != 3) throw py::value_error("an enqueue tensor is (data_ptr, dtype, shape)");
    nvinfer1::PluginTensorDesc d{};
    d.type = dtypeOf(t[1].cast<std::string>());
    d.format = nvinfer1::TensorFormat::kLINEAR;
    d.scale = 1.0F;
    d.dims = dimsOf(t[2].cast<std::vector<int64_t>>());
    desc.push_back(d);
    ptrs.push_back(reinterpret_cast<void*>(t[0].cast<uintptr_t>()));
  }
}

EnqueueArgs enqueueArgsOf(const py::list& inputs, const py::list& outputs) {
  EnqueueArgs a;
  std::vector<void*> in;
  addTensors(inputs, a.inDesc, in);
  addTensors(outputs, a.outDesc, a.out);
  a.in.assign(in.begin(), in.end());
  return a;
}

// Shapes for getOutputDimensions: every dim a HarnessDim; `symbolic` hides their values from isConstant().
std::vector<nvinfer1::DimsExprs> exprInputs(HarnessExprBuilder& builder,
                                            const std::vector<std::vector<int64_t>>& shapes, bool symbolic) {
  std::vector<nvinfer1::DimsExprs> out(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (shapes[i].size() > static_cast<size_t>(nvinfer1::Dims::MAX_DIMS)) throw py::value_error("rank too large");
    out[i].nbDims = static_cast<int32_t>(shapes[i].size());
    for (size_t d = 0; d < shapes[i].size(); ++d) out[i].d[d] = builder.make(shapes[i][d], !symbolic);
  }
  return out;
}

py::object evalDims(const HarnessExprBuilder& builder, const nvinfer1::DimsExprs& e) {
  if (e.nbDims < 0 || e.nbDims > nvinfer1::Dims::MAX_DIMS) return py::none();
  py::list dims;
  for (int32_t d = 0; d < e.nbDims; ++d) dims.append(builder.resolve(e.d[d]).value());
  return std::move(dims);
}

// ---- logging capture -----------------------------------------------------------------------------------------

class CaptureLogger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override {
    try {
      std::lock_guard<std::mutex> lock(mutex_);
      messages_.emplace_back(static_cast<int>(severity), msg != nullptr ? msg : "");
    } catch (...) {
    }
  }
  std::vector<std::pair<int, std::string>> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(messages_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<int, std::string>> messages_;
};

class CaptureFinder final : public nvinfer1::ILoggerFinder {
 public:
  explicit CaptureFinder(CaptureLogger* logger) : logger_(logger) {}
  nvinfer1::ILogger* findLogger() override { return logger_; }

 private:
  CaptureLogger* logger_;
};

CaptureLogger gLogger;
CaptureFinder gFinder(&gLogger);

void captureLog(const std::string& libraryPath) {
  void* handle = dlopen(libraryPath.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) throw std::runtime_error(libraryPath + " is not loaded in this process; load it first");
  using SetFinder = void (*)(nvinfer1::ILoggerFinder*);
  auto setFinder = reinterpret_cast<SetFinder>(dlsym(handle, "setLoggerFinder"));
  dlclose(handle);  // drops only the reference RTLD_NOLOAD added
  if (setFinder == nullptr) throw std::runtime_error(libraryPath + " exports no setLoggerFinder");
  setFinder(&gFinder);
}

py::list takeLog() {
  py::list out;
  static const char* names[] = {"internal_error", "error", "warning", "info", "verbose"};
  for (auto& m : gLogger.take()) {
    const char* sev = m.first >= 0 && m.first < 5 ? names[m.first] : "unknown";
    out.append(py::make_tuple(sev, m.second));
  }
  return out;
}

// ---- allocation counting around enqueue ---------------------------------------------------------------------

// Present only when the process runs with LD_PRELOAD=<malloc_counter.so> (see malloc_counter.c).
using MallocCount = long (*)();
MallocCount mallocCounter() {
  static const MallocCount counter = reinterpret_cast<MallocCount>(dlsym(RTLD_DEFAULT, "trtkit_malloc_count"));
  return counter;
}

long gLastEnqueueAllocations = -1;

// Calls `enqueue` and records how many heap allocations it made on this thread (-1: no counter loaded).
template <typename F>
int32_t countedEnqueue(F&& enqueue) {
  MallocCount counter = mallocCounter();
  const long before = counter != nullptr ? counter() : 0;
  const int32_t status = enqueue();
  gLastEnqueueAllocations = counter != nullptr ? counter() - before : -1;
  return status;
}

// ---- V2 ------------------------------------------------------------------------------------------------------

constexpr int32_t kDynamicExt = 3;  // PluginVersion::kV2_DYNAMICEXT, in getTensorRTVersion()'s top byte

class PluginV2 {
 public:
  // Borrowed: the binding object owns the plugin and is kept alive here.
  explicit PluginV2(py::object obj) : owner_(std::move(obj)) {
    auto* base = rawPointer<nvinfer1::IPluginV2>(owner_, "IPluginV2");
    const int32_t version = base->getTensorRTVersion();
    if (((version >> 24) & 0xFF) != kDynamicExt) {
      throw py::type_error("plugin is not an IPluginV2DynamicExt (getTensorRTVersion() = " + std::to_string(version) +
                           ")");
    }
    p_ = static_cast<nvinfer1::IPluginV2DynamicExt*>(base);
  }
  // Owned: a clone the harness made; destroyed with this object.
  explicit PluginV2(nvinfer1::IPluginV2DynamicExt* owned) : p_(owned), owned_(true) {}
  ~PluginV2() {
    if (owned_ && p_ != nullptr) p_->destroy();
  }
  PluginV2(const PluginV2&) = delete;
  PluginV2& operator=(const PluginV2&) = delete;

  nvinfer1::IPluginV2DynamicExt& p() const {
    if (p_ == nullptr) throw std::runtime_error("plugin was destroyed");
    return *p_;
  }

  std::string type() const { return p().getPluginType(); }
  std::string version() const { return p().getPluginVersion(); }
  std::string pluginNamespace() const { return p().getPluginNamespace(); }
  void setNamespace(const std::string& ns) { p().setPluginNamespace(ns.c_str()); }
  int32_t tensorrtVersion() const { return static_cast<const nvinfer1::IPluginV2&>(p()).getTensorRTVersion(); }
  int32_t nbOutputs() const { return p().getNbOutputs(); }
  int32_t initialize() { return p().initialize(); }
  void terminate() { p().terminate(); }

  std::string outputDataType(int32_t index, const std::vector<std::string>& inputTypes) const {
    auto types = dtypesOf(inputTypes);
    return dtypeName(p().getOutputDataType(index, types.data(), static_cast<int32_t>(types.size())));
  }

  // Concrete output dims (None when the plugin failed: nbDims < 0), and how many operation() calls it made.
  py::tuple outputDimensions(int32_t index, const std::vector<std::vector<int64_t>>& shapes, bool symbolic) {
    HarnessExprBuilder builder;
    auto inputs = exprInputs(builder, shapes, symbolic);
    nvinfer1::DimsExprs out =
        p().getOutputDimensions(index, inputs.data(), static_cast<int32_t>(inputs.size()), builder);
    return py::make_tuple(evalDims(builder, out), builder.nbOperations());
  }

  bool supportsFormatCombination(int32_t pos, const std::vector<std::string>& types,
                                 const std::vector<std::string>& formats, int32_t nbInputs) {
    auto descs = positionDescs(types, formats);
    std::vector<nvinfer1::PluginTensorDesc> plain;
    for (auto& d : descs) plain.push_back(d.desc);
    return p().supportsFormatCombination(pos, plain.data(), nbInputs, static_cast<int32_t>(plain.size()) - nbInputs);
  }

  void configurePlugin(const py::list& inputs, const py::list& outputs) {
    auto in = dynamicDescsOf(inputs);
    auto out = dynamicDescsOf(outputs);
    p().configurePlugin(in.data(), static_cast<int32_t>(in.size()), out.data(), static_cast<int32_t>(out.size()));
  }

  size_t workspaceSize(const py::list& inputs, const py::list& outputs) const {
    auto in = descsOf(inputs);
    auto out = descsOf(outputs);
    return p().getWorkspaceSize(in.data(), static_cast<int32_t>(in.size()), out.data(),
                                static_cast<int32_t>(out.size()));
  }

  py::bytes serialize() const {
    std::string buffer(p().getSerializationSize(), '\0');
    p().serialize(buffer.data());
    return py::bytes(buffer);
  }

  py::object clone() const {
    nvinfer1::IPluginV2DynamicExt* c = p().clone();
    if (c == nullptr) return py::none();
    return py::cast(new PluginV2(c), py::return_value_policy::take_ownership);
  }

  void attach() { p().attachToContext(nullptr, nullptr, nullptr); }  // TensorRT 10+ passes null handles too
  void detach() { p().detachFromContext(); }

  int32_t enqueue(const py::list& inputs, const py::list& outputs, uintptr_t workspace, uintptr_t stream) {
    EnqueueArgs a = enqueueArgsOf(inputs, outputs);
    py::gil_scoped_release release;
    return countedEnqueue([&] {
      return p().enqueue(a.inDesc.data(), a.outDesc.data(), a.in.data(), a.out.data(),
                         reinterpret_cast<void*>(workspace), reinterpret_cast<cudaStream_t>(stream));
    });
  }

 private:
  py::object owner_;
  nvinfer1::IPluginV2DynamicExt* p_ = nullptr;
  bool owned_ = false;
};

// ---- V3 ------------------------------------------------------------------------------------------------------

py::object interfaceInfo(const nvinfer1::IVersionedInterface* i) {
  if (i == nullptr) return py::none();
  nvinfer1::InterfaceInfo info = i->getInterfaceInfo();
  return py::make_tuple(std::string(info.kind != nullptr ? info.kind : ""), info.major, info.minor);
}

class PluginV3 {
 public:
  explicit PluginV3(py::object obj) : owner_(std::move(obj)) {
    bind(rawPointer<nvinfer1::IPluginV3>(owner_, "IPluginV3"));
  }
  explicit PluginV3(nvinfer1::IPluginV3* owned) : owned_(true) { bind(owned); }
  ~PluginV3() {
    if (owned_) delete p_;
  }
  PluginV3(const PluginV3&) = delete;
  PluginV3& operator=(const PluginV3&) = delete;

  py::dict capabilities() const {
    py::dict d;
    d["plugin"] = interfaceInfo(p_);
    d["core"] = interfaceInfo(p_->getCapabilityInterface(nvinfer1::PluginCapabilityType::kCORE));
    d["build"] = interfaceInfo(p_->getCapabilityInterface(nvinfer1::PluginCapabilityType::kBUILD));
    d["runtime"] = interfaceInfo(p_->getCapabilityInterface(nvinfer1::PluginCapabilityType::kRUNTIME));
    return d;
  }

  std::string name() const { return core().getPluginName(); }
  std::string version() const { return core().getPluginVersion(); }
  std::string pluginNamespace() const { return core().getPluginNamespace(); }
  int32_t nbOutputs() const { return build().getNbOutputs(); }

  py::tuple outputDataTypes(const std::vector<std::string>& inputTypes) const {
    auto in = dtypesOf(inputTypes);
    const int32_t n = build().getNbOutputs();
    std::vector<nvinfer1::DataType> out(static_cast<size_t>(std::max(n, 0)), nvinfer1::DataType::kFLOAT);
    const int32_t status = build().getOutputDataTypes(out.data(), n, in.data(), static_cast<int32_t>(in.size()));
    py::list names;
    for (auto t : out) names.append(dtypeName(t));
    return py::make_tuple(status, names);
  }

  // (status, [dims per output] or None, number of operation() calls)
  py::tuple outputShapes(const std::vector<std::vector<int64_t>>& shapes, bool symbolic) {
    HarnessExprBuilder builder;
    auto inputs = exprInputs(builder, shapes, symbolic);
    const int32_t n = build().getNbOutputs();
    std::vector<nvinfer1::DimsExprs> out(static_cast<size_t>(std::max(n, 0)));
    const int32_t status =
        build().getOutputShapes(inputs.data(), static_cast<int32_t>(inputs.size()), nullptr, 0, out.data(), n, builder);
    if (status != 0) return py::make_tuple(status, py::none(), builder.nbOperations());
    py::list result;
    for (auto& e : out) result.append(evalDims(builder, e));
    return py::make_tuple(status, result, builder.nbOperations());
  }

  bool supportsFormatCombination(int32_t pos, const std::vector<std::string>& types,
                                 const std::vector<std::string>& formats, int32_t nbInputs) {
    auto descs = positionDescs(types, formats);
    return build().supportsFormatCombination(pos, descs.data(), nbInputs,
                                             static_cast<int32_t>(descs.size()) - nbInputs);
  }

  int32_t configurePlugin(const py::list& inputs, const py::list& outputs) {
    auto in = dynamicDescsOf(inputs);
    auto out = dynamicDescsOf(outputs);
    return build().configurePlugin(in.data(), static_cast<int32_t>(in.size()), out.data(),
                                   static_cast<int32_t>(out.size()));
  }

  size_t workspaceSize(const py::list& inputs, const py::list& outputs) const {
    auto in = dynamicDescsOf(inputs);
    auto out = dynamicDescsOf(outputs);
    return build().getWorkspaceSize(in.data(), static_cast<int32_t>(in.size()), out.data(),
                                    static_cast<int32_t>(out.size()));
  }

  int32_t nbTactics() { return build().getNbTactics(); }
  // (status, tactics) for a buffer of nbTactics entries, as TensorRT's builder asks after getNbTactics.
  py::tuple validTactics(int32_t nbTactics) {
    std::vector<int32_t> tactics(static_cast<size_t>(std::max(nbTactics, 0)), 0);
    const int32_t status = build().getValidTactics(tactics.empty() ? nullptr : tactics.data(), nbTactics);
    return py::make_tuple(status, tactics);
  }
  int32_t setTactic(int32_t tactic) { return runtime().setTactic(tactic); }
  py::object timingCacheId() {
    const char* id = build().getTimingCacheID();
    return id == nullptr ? py::object(py::none()) : py::object(py::str(id));
  }
  py::object metadataString() {
    const char* text = build().getMetadataString();
    return text == nullptr ? py::object(py::none()) : py::object(py::str(text));
  }

  int32_t onShapeChange(const py::list& inputs, const py::list& outputs) {
    auto in = descsOf(inputs);
    auto out = descsOf(outputs);
    return runtime().onShapeChange(in.data(), static_cast<int32_t>(in.size()), out.data(),
                                   static_cast<int32_t>(out.size()));
  }

  // [(name, PluginFieldType as int, bytes, length)], or None when the plugin returned null.
  py::object fieldsToSerialize() {
    const nvinfer1::PluginFieldCollection* fc = runtime().getFieldsToSerialize();
    if (fc == nullptr) return py::none();
    py::list out;
    for (int32_t i = 0; i < fc->nbFields; ++i) {
      const nvinfer1::PluginField& f = fc->fields[i];
      size_t bytes = 0;
      switch (f.type) {
        case nvinfer1::PluginFieldType::kUNKNOWN:
        case nvinfer1::PluginFieldType::kINT8:
        case nvinfer1::PluginFieldType::kCHAR: bytes = 1; break;
        case nvinfer1::PluginFieldType::kFLOAT16:
        case nvinfer1::PluginFieldType::kBF16:
        case nvinfer1::PluginFieldType::kINT16: bytes = 2; break;
        case nvinfer1::PluginFieldType::kFLOAT32:
        case nvinfer1::PluginFieldType::kINT32: bytes = 4; break;
        default: bytes = 8; break;
      }
      std::string data(static_cast<const char*>(f.data), static_cast<size_t>(f.length) * bytes);
      out.append(py::make_tuple(std::string(f.name), static_cast<int>(f.type), py::bytes(data), f.length));
    }
    return std::move(out);
  }

  py::object clone() {
    nvinfer1::IPluginV3* c = p_->clone();
    if (c == nullptr) return py::none();
    return py::cast(new PluginV3(c), py::return_value_policy::take_ownership);
  }

  py::object attachToContext() {
    nvinfer1::IPluginV3* c = runtime().attachToContext(nullptr);
    if (c == nullptr) return py::none();
    return py::cast(new PluginV3(c), py::return_value_policy::take_ownership);
  }

  int32_t enqueue(const py::list& inputs, const py::list& outputs, uintptr_t workspace, uintptr_t stream) {
    EnqueueArgs a = enqueueArgsOf(inputs, outputs);
    py::gil_scoped_release release;
    return countedEnqueue([&] {
      return runtime().enqueue(a.inDesc.data(), a.outDesc.data(), a.in.data(), a.out.data(),
                               reinterpret_cast<void*>(workspace), reinterpret_cast<cudaStream_t>(stream));
    });
  }

 private:
  void bind(nvinfer1::IPluginV3* p) {
    p_ = p;
    // Capability objects are checked by their interface kind before any downcast, as TensorRT does.
    core_ = checked<nvinfer1::IPluginV3OneCore>(nvinfer1::PluginCapabilityType::kCORE, "PLUGIN_V3ONE_CORE");
    build_ = checked<nvinfer1::IPluginV3OneBuild>(nvinfer1::PluginCapabilityType::kBUILD, "PLUGIN_V3ONE_BUILD");
    runtime_ = checked<nvinfer1::IPluginV3OneRuntime>(nvinfer1::PluginCapabilityType::kRUNTIME, "PLUGIN_V3ONE_RUNTIME");
  }
  template <typename T>
  T* checked(nvinfer1::PluginCapabilityType type, const char* kind) {
    nvinfer1::IPluginCapability* c = p_->getCapabilityInterface(type);
    if (c == nullptr) return nullptr;
    if (std::strcmp(c->getInterfaceInfo().kind, kind) != 0) {
      throw py::type_error(std::string("capability is ") + c->getInterfaceInfo().kind + ", expected " + kind);
    }
    return static_cast<T*>(c);
  }
  nvinfer1::IPluginV3OneCore& core() const { return need(core_, "core"); }
  nvinfer1::IPluginV3OneBuild& build() const { return need(build_, "build"); }
  nvinfer1::IPluginV3OneRuntime& runtime() const { return need(runtime_, "runtime"); }
  template <typename T>
  static T& need(T* c, const char* what) {
    if (c == nullptr) throw std::runtime_error(std::string("the plugin has no ") + what + " capability");
    return *c;
  }

  py::object owner_;
  nvinfer1::IPluginV3* p_ = nullptr;
  nvinfer1::IPluginV3OneCore* core_ = nullptr;
  nvinfer1::IPluginV3OneBuild* build_ = nullptr;
  nvinfer1::IPluginV3OneRuntime* runtime_ = nullptr;
  bool owned_ = false;
};

}  // namespace

PYBIND11_MODULE(_trt_harness, m) {
  m.doc() = "Drives TensorRT plugin objects through their vtables, as TensorRT would (test harness).";
  m.attr("TENSORRT_VERSION") = std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." +
                               std::to_string(NV_TENSORRT_PATCH);
  m.attr("TENSORRT_MAJOR") = NV_TENSORRT_MAJOR;
  m.def("capture_log", &captureLog, py::arg("library_path"),
        "Points the loaded plugin library's setLoggerFinder at the harness, so take_log() sees its messages.");
  m.def("take_log", &takeLog, "Messages logged since the last call: [(severity, message)].");
  m.def(
      "last_enqueue_allocations", [] { return gLastEnqueueAllocations; },
      "Heap allocations the last enqueue made on its thread; -1 unless malloc_counter.so is LD_PRELOADed.");

  py::class_<PluginV2>(m, "PluginV2")
      .def(py::init<py::object>(), py::arg("plugin"))
      .def_property_readonly("plugin_type", &PluginV2::type)
      .def_property_readonly("plugin_version", &PluginV2::version)
      .def_property_readonly("plugin_namespace", &PluginV2::pluginNamespace)
      .def("set_plugin_namespace", &PluginV2::setNamespace)
      .def_property_readonly("tensorrt_version", &PluginV2::tensorrtVersion)
      .def("get_nb_outputs", &PluginV2::nbOutputs)
      .def("initialize", &PluginV2::initialize)
      .def("terminate", &PluginV2::terminate)
      .def("get_output_data_type", &PluginV2::outputDataType, py::arg("index"), py::arg("input_types"))
      .def("get_output_dimensions", &PluginV2::outputDimensions, py::arg("index"), py::arg("input_shapes"),
           py::arg("symbolic") = false)
      .def("supports_format_combination", &PluginV2::supportsFormatCombination, py::arg("pos"), py::arg("types"),
           py::arg("formats") = std::vector<std::string>{}, py::arg("nb_inputs"))
      .def("configure_plugin", &PluginV2::configurePlugin, py::arg("inputs"), py::arg("outputs"))
      .def("get_workspace_size", &PluginV2::workspaceSize, py::arg("inputs"), py::arg("outputs"))
      .def("serialize", &PluginV2::serialize)
      .def("clone", &PluginV2::clone)
      .def("attach_to_context", &PluginV2::attach)
      .def("detach_from_context", &PluginV2::detach)
      .def("enqueue", &PluginV2::enqueue, py::arg("inputs"), py::arg("outputs"), py::arg("workspace") = 0,
           py::arg("stream") = 0);

  py::class_<PluginV3>(m, "PluginV3")
      .def(py::init<py::object>(), py::arg("plugin"))
      .def("capabilities", &PluginV3::capabilities)
      .def_property_readonly("plugin_name", &PluginV3::name)
      .def_property_readonly("plugin_version", &PluginV3::version)
      .def_property_readonly("plugin_namespace", &PluginV3::pluginNamespace)
      .def("get_nb_outputs", &PluginV3::nbOutputs)
      .def("get_output_data_types", &PluginV3::outputDataTypes, py::arg("input_types"))
      .def("get_output_shapes", &PluginV3::outputShapes, py::arg("input_shapes"), py::arg("symbolic") = false)
      .def("supports_format_combination", &PluginV3::supportsFormatCombination, py::arg("pos"), py::arg("types"),
           py::arg("formats") = std::vector<std::string>{}, py::arg("nb_inputs"))
      .def("configure_plugin", &PluginV3::configurePlugin, py::arg("inputs"), py::arg("outputs"))
      .def("get_workspace_size", &PluginV3::workspaceSize, py::arg("inputs"), py::arg("outputs"))
      .def("on_shape_change", &PluginV3::onShapeChange, py::arg("inputs"), py::arg("outputs"))
      .def("get_nb_tactics", &PluginV3::nbTactics)
      .def("get_valid_tactics", &PluginV3::validTactics, py::arg("nb_tactics"))
      .def("set_tactic", &PluginV3::setTactic, py::arg("tactic"))
      .def("get_timing_cache_id", &PluginV3::timingCacheId)
      .def("get_metadata_string", &PluginV3::metadataString)
      .def("get_fields_to_serialize", &PluginV3::fieldsToSerialize)
      .def("clone", &PluginV3::clone)
      .def("attach_to_context", &PluginV3::attachToContext)
      .def("enqueue", &PluginV3::enqueue, py::arg("inputs"), py::arg("outputs"), py::arg("workspace") = 0,
           py::arg("stream") = 0);
}
