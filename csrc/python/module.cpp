// trtkit._C: the compiled layers seen from Python: their schemas, the creators' field conversion, and
// trtkit._C.Layer to run one. Errors from the core (trtkit::Error) become ValueError with its message.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "layer_binding.hpp"
#include "trtkit/core/blas.hpp"
#include "trtkit/core/registry.hpp"

namespace py = pybind11;

namespace trtkit::python {
namespace {

py::dict schemaDict(const LayerSchema& s) {
  py::dict d;
  d["name"] = s.name;
  d["doc"] = s.doc;
  d["inputs"] = py::cast(s.inputs);
  d["outputs"] = py::cast(s.outputs);
  py::list attrs;
  for (const AttrSpec& a : s.attrs) {
    py::dict ad;
    ad["name"] = a.name;
    ad["type"] = attrTypeName(a.type);
    ad["default"] = (a.required || a.type == AttrType::kWeights) ? py::none() : attrToPython(a.defaultValue);
    ad["required"] = a.required;
    ad["doc"] = a.doc;
    attrs.append(ad);
  }
  d["attrs"] = attrs;
  py::list rows;
  for (const auto& row : s.typeCombinations) {
    py::list r;
    for (DType t : row) r.append(dtypeName(t));
    rows.append(r);
  }
  d["type_combinations"] = rows;
  return d;
}

struct FieldKind {
  const char* name;
  FieldType type;
  size_t size;
};
constexpr FieldKind kFieldKinds[] = {
    {"int8", FieldType::kInt8, 1},       {"int16", FieldType::kInt16, 2},     {"int32", FieldType::kInt32, 4},
    {"int64", FieldType::kInt64, 8},     {"float16", FieldType::kFloat16, 2}, {"bfloat16", FieldType::kBFloat16, 2},
    {"float32", FieldType::kFloat32, 4}, {"float64", FieldType::kFloat64, 8}, {"char", FieldType::kChar, 1},
    {"bytes", FieldType::kBytes, 1},
};

const FieldKind& fieldKind(const std::string& name) {
  std::string known;
  for (const FieldKind& k : kFieldKinds) {
    if (name == k.name) return k;
    known += std::string(known.empty() ? "" : ", ") + k.name;
  }
  throw py::value_error("unknown field type '" + name + "' (known: " + known + ")");
}

// What a TensorRT creator does with the PluginFieldCollection it is given (configFromFields), with the
// Python side's bytes checked against the declared length first so nothing is read out of bounds.
py::dict configFromFieldsPy(const std::string& name,
                            const std::vector<std::tuple<std::string, std::string, py::bytes, int32_t>>& fields) {
  const LayerEntry& entry = findEntry(name);
  std::vector<std::string> buffers;  // keeps the bytes alive while RawField points at them
  buffers.reserve(fields.size());
  std::vector<RawField> raw;
  for (const auto& [fieldName, typeName, data, length] : fields) {
    const FieldKind& kind = fieldKind(typeName);
    buffers.emplace_back(data);
    const std::string& bytes = buffers.back();
    if (length < 0) throw py::value_error(name + ": field '" + fieldName + "' has negative length");
    if (static_cast<size_t>(length) * kind.size > bytes.size())
      throw py::value_error(name + ": field '" + fieldName + "' claims " + std::to_string(length) + " " + kind.name +
                            " values but holds " + std::to_string(bytes.size()) + " bytes");
    RawField f;
    f.name = fieldName;
    f.data = length > 0 ? bytes.data() : nullptr;
    f.type = kind.type;
    f.length = length;
    raw.push_back(f);
  }
  return attrsToPython(configFromFields(entry.schema, raw));
}

}  // namespace
}  // namespace trtkit::python

PYBIND11_MODULE(_C, m) {
  using namespace trtkit;
  using namespace trtkit::python;
  m.doc() = "trtkit's compiled layers: schemas, field conversion, and running a layer on device pointers";

  // Local: a plugin package built on the SDK has its own _C (and its own trtkit::Error) beside this one.
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.attr("PLUGIN_NAMESPACE") = kPluginNamespace;
  m.attr("PLUGIN_VERSION_V2") = kPluginVersionV2;
  m.attr("PLUGIN_VERSION_V3") = kPluginVersionV3;

  m.def(
      "layer_names",
      [] {
        std::vector<std::string> names;
        for (const LayerEntry& e : LayerRegistry::global().entries()) names.push_back(e.schema.name);
        return names;
      },
      "Names of the layers compiled into this module (== plugin names == ONNX op types).");
  m.def(
      "schema", [](const std::string& name) { return schemaDict(findEntry(name).schema); }, py::arg("name"),
      "The layer's schema: name, doc, inputs, outputs, attrs [{name, type, default, required, doc}], "
      "type_combinations [[dtype per input then output]].");
  m.def(
      "registry_problems", [] { return LayerRegistry::global().problems(); },
      "Layers rejected at registration (duplicate names, inconsistent schemas); empty when all is well.");
  m.def("config_from_fields", &configFromFieldsPy, py::arg("name"), py::arg("fields"),
        "The attrs a TensorRT creator builds from PluginFields [(name, type, bytes, length)]; type is one of "
        "int8, int16, int32, int64, float16, bfloat16, float32, float64, char, bytes.");

  m.def(
      "cublas_status",
      [] {
        const bool ok = blas::available();
        return py::make_tuple(ok ? blas::loadedVersion() : 0, std::string(ok ? "" : blas::unavailableReason()));
      },
      "(version, reason): the cuBLAS layers load at run time (major*10000 + minor*100 + patch), or 0 and why "
      "not. Loads it on first call.");

  bindLayer(m);

  auto testing = m.def_submodule("_testing", "core unit-test hooks");
  bindTesting(testing);
}
