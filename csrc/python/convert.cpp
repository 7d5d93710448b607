#include "convert.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <limits>
#include <string>

namespace py = pybind11;

namespace trtkit::python {

DType dtypeFromName(const std::string& name) {
  std::string known;
  for (int32_t i = 0; i < kNumDTypes; ++i) {
    const DType t = static_cast<DType>(i);
    if (name == dtypeName(t)) return t;
    known += std::string(i ? ", " : "") + dtypeName(t);
  }
  throw py::value_error("unknown dtype '" + name + "' (known: " + known + ")");
}

const LayerEntry& findEntry(const std::string& name) {
  const LayerEntry* entry = LayerRegistry::global().find(name);
  if (entry == nullptr) {
    std::string known;
    for (const LayerEntry& e : LayerRegistry::global().entries()) known += (known.empty() ? "" : ", ") + e.schema.name;
    throw py::value_error("no layer named '" + name + "' in trtkit._C (known: " + (known.empty() ? "none" : known) +
                          ")");
  }
  return *entry;
}

namespace {

[[noreturn]] void unsupported(const LayerSchema& schema, const std::string& attr, const py::handle& value) {
  throw py::value_error(schema.name + ": attribute '" + attr + "' cannot be " +
                        std::string(py::str(py::type::of(value).attr("__name__"))) + " " +
                        std::string(py::repr(value)) +
                        " (use int, float, str, a list of ints or floats, or weights as a numpy array)");
}

bool isInt(const py::handle& v) {
  return py::isinstance<py::int_>(v) && !py::isinstance<py::bool_>(v);
}
bool isSequence(const py::handle& v) {
  return py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v);
}

int32_t toInt32(const LayerSchema& schema, const std::string& attr, const py::handle& v) {
  const py::int_ i = py::reinterpret_borrow<py::int_>(v);
  if (i < py::int_(std::numeric_limits<int32_t>::min()) || i > py::int_(std::numeric_limits<int32_t>::max()))
    throw py::value_error(schema.name + ": attribute '" + attr + "' value " + std::string(py::str(v)) +
                          " does not fit in int32");
  return v.cast<int32_t>();
}

Weight weightFromPython(const LayerSchema& schema, const std::string& attr, const py::handle& v) {
  if (py::isinstance<py::dict>(v)) {
    const py::dict d = v.cast<py::dict>();
    if (!d.contains("dtype") || !d.contains("shape") || !d.contains("data"))
      throw py::value_error(schema.name + ": attribute '" + attr + "': weights as a dict need dtype, shape, data");
    const DType dt = dtypeFromName(d["dtype"].cast<std::string>());
    const auto shape = d["shape"].cast<std::vector<int64_t>>();
    const std::string data = d["data"].cast<std::string>();
    int64_t count = 1;
    for (int64_t s : shape) {
      if (s < 0) throw py::value_error(schema.name + ": attribute '" + attr + "' has a negative dim");
      count *= s;
    }
    if (static_cast<size_t>(count) * dtypeSize(dt) != data.size())
      throw py::value_error(schema.name + ": attribute '" + attr + "' holds " + std::to_string(data.size()) +
                            " bytes, its dtype and shape need " + std::to_string(count * dtypeSize(dt)));
    return Weight(dt, shape, data.data());
  }
  const py::array a = py::array::ensure(v, py::array::c_style);
  DType dt;
  if (a.dtype().is(py::dtype::of<float>())) {
    dt = DType::kFloat32;
  } else if (a.dtype().is(py::dtype("float16"))) {
    dt = DType::kFloat16;
  } else if (a.dtype().is(py::dtype::of<int8_t>())) {
    dt = DType::kInt8;
  } else if (a.dtype().is(py::dtype::of<int32_t>())) {
    dt = DType::kInt32;
  } else {
    throw py::value_error(schema.name + ": attribute '" + attr + "': numpy dtype " + std::string(py::str(a.dtype())) +
                          " is not float32, float16, int8 or int32");
  }
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  return Weight(dt, shape, a.data());
}

}  // namespace

// Converts by the Python type and leaves type checking to makeConfig, so the messages are the core's (and an
// int where a float is declared is accepted exactly as the core accepts it). The schema only settles what
// Python cannot say: the element type of an empty list, and weights.
AttrValue attrFromPython(const LayerSchema& schema, const std::string& attr, const py::handle& v) {
  const AttrSpec* spec = schema.findAttr(attr);
  if (spec != nullptr && spec->type == AttrType::kWeights && !isInt(v) && !py::isinstance<py::float_>(v) &&
      !py::isinstance<py::str>(v))
    return weightFromPython(schema, attr, v);
  if (isInt(v)) return toInt32(schema, attr, v);
  if (py::isinstance<py::float_>(v)) return v.cast<float>();
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (!isSequence(v)) unsupported(schema, attr, v);
  bool allInt = true;
  for (const py::handle item : v) {
    if (!isInt(item) && !py::isinstance<py::float_>(item)) unsupported(schema, attr, v);
    allInt = allInt && isInt(item);
  }
  if (py::len(v) == 0 && spec != nullptr && spec->type == AttrType::kFloats) return std::vector<float>{};
  if (allInt) {
    std::vector<int32_t> out;
    for (const py::handle item : v) out.push_back(toInt32(schema, attr, item));
    return out;
  }
  std::vector<float> out;
  for (const py::handle item : v) out.push_back(item.cast<float>());
  return out;
}

std::vector<std::pair<std::string, AttrValue>> attrsFromPython(const LayerSchema& schema, const py::dict& attrs) {
  std::vector<std::pair<std::string, AttrValue>> out;
  for (const auto& kv : attrs) {
    if (!py::isinstance<py::str>(kv.first)) throw py::type_error(schema.name + ": attribute names must be str");
    const std::string name = kv.first.cast<std::string>();
    out.emplace_back(name, attrFromPython(schema, name, kv.second));
  }
  return out;
}

py::object attrToPython(const AttrValue& v) {
  switch (attrTypeOf(v)) {
    case AttrType::kInt: return py::int_(std::get<int32_t>(v));
    case AttrType::kInts: return py::cast(std::get<std::vector<int32_t>>(v));
    case AttrType::kFloat: return py::float_(std::get<float>(v));
    case AttrType::kFloats: return py::cast(std::get<std::vector<float>>(v));
    case AttrType::kString: return py::str(std::get<std::string>(v));
    case AttrType::kWeights: {
      const Weight& w = std::get<Weight>(v);
      py::dict d;
      d["dtype"] = dtypeName(w.dtype());
      d["shape"] = py::cast(w.shape());
      d["data"] = py::bytes(static_cast<const char*>(w.host()), w.bytes());
      return std::move(d);
    }
  }
  return py::none();
}

py::dict attrsToPython(const LayerConfig& config) {
  py::dict d;
  for (const auto& [name, value] : config.attrs()) d[py::str(name)] = attrToPython(value);
  return d;
}

std::vector<TensorDesc> tensorDescs(const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors,
                                    const char* what) {
  std::vector<TensorDesc> out;
  for (const auto& [dtype, dims] : tensors) {
    if (dims.size() > static_cast<size_t>(kMaxDims))
      throw py::value_error(std::string(what) + ": rank " + std::to_string(dims.size()) + " exceeds " +
                            std::to_string(kMaxDims));
    out.push_back({IOType{dtypeFromName(dtype), Format::kLinear}, dims});
  }
  return out;
}

}  // namespace trtkit::python
