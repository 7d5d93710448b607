// trtkit._C._testing: the core's building blocks exposed for unit tests (no TensorRT, no GPU needed).
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "trtkit/core/gtensor.hpp"
#include "trtkit/core/layer_config.hpp"
#include "trtkit/core/registry.hpp"
#include "trtkit/core/shape_expr.hpp"
#include "trtkit/core/weight.hpp"

namespace py = pybind11;

namespace trtkit::python {
namespace {

// Python value -> AttrValue for a config built directly (no schema): ints, floats, lists, str,
// or ("weights", dtype, shape, bytes).
AttrValue toAttr(const py::handle& v) {
  if (py::isinstance<py::bool_>(v) || py::isinstance<py::int_>(v)) return v.cast<int32_t>();
  if (py::isinstance<py::float_>(v)) return v.cast<float>();
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::tuple>(v) && py::len(v) == 4 && v.cast<py::tuple>()[0].cast<std::string>() == "weights") {
    auto t = v.cast<py::tuple>();
    const std::string data = t[3].cast<std::string>();
    Weight w(dtypeFromName(t[1].cast<std::string>()), t[2].cast<std::vector<int64_t>>(), data.data());
    if (w.bytes() != data.size()) throw py::value_error("weights: byte count does not match shape");
    return w;
  }
  py::list l = v.cast<py::list>();
  bool allInt = true;
  for (auto item : l) allInt = allInt && py::isinstance<py::int_>(item);
  if (allInt) return v.cast<std::vector<int32_t>>();
  return v.cast<std::vector<float>>();
}

}  // namespace

void bindTesting(py::module_& m) {
  m.doc() = "Core building blocks for unit tests";
  // trtkit::Error is bad input: Python sees ValueError with the core's message.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.def(
      "config_to_bytes",
      [](const std::string& op, const std::string& version, const py::dict& attrs,
         const std::vector<std::pair<std::string, int32_t>>& io, uint64_t workspace) {
        LayerConfig c(op, version);
        for (auto kv : attrs) c.set(kv.first.cast<std::string>(), toAttr(kv.second));
        for (const auto& [dt, fmt] : io) c.io.push_back({dtypeFromName(dt), static_cast<Format>(fmt)});
        c.workspace = workspace;
        const auto bytes = c.serialize();
        return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      },
      py::arg("op"), py::arg("version"), py::arg("attrs"),
      py::arg("io") = std::vector<std::pair<std::string, int32_t>>{}, py::arg("workspace") = 0);

  m.def("config_from_bytes", [](const py::bytes& data) {
    const std::string s = data;
    LayerConfig c;
    try {
      c = LayerConfig::deserialize(s.data(), s.size());
    } catch (const Error& e) {
      throw py::value_error(e.what());
    }
    py::list io;
    for (const IOType& t : c.io) io.append(py::make_tuple(dtypeName(t.dtype), static_cast<int32_t>(t.format)));
    py::dict out;
    out["op"] = c.op();
    out["version"] = c.version();
    out["attrs"] = attrsToPython(c);
    out["io"] = io;
    out["workspace"] = c.workspace;
    return out;
  });

  m.def("gtensor", [](const std::vector<int64_t>& dims, const std::vector<int64_t>& index) {
    GTensor t(nullptr, DType::kFloat32, dims.data(), static_cast<int>(dims.size()));
    int64_t off = 0;  // offset() is variadic; fold the index the same way through a fixed arity
    switch (index.size()) {
      case 0: off = t.offset(); break;
      case 1: off = t.offset(index[0]); break;
      case 2: off = t.offset(index[0], index[1]); break;
      case 3: off = t.offset(index[0], index[1], index[2]); break;
      case 4: off = t.offset(index[0], index[1], index[2], index[3]); break;
      case 5: off = t.offset(index[0], index[1], index[2], index[3], index[4]); break;
      default: throw py::value_error("at most 5 indices in this test hook");
    }
    py::dict d;
    d["offset"] = off;
    d["count"] = t.count();
    d["bytes"] = t.bytes();
    d["batch"] = t.batch();
    d["channel"] = t.channel();
    d["height"] = t.height();
    d["width"] = t.width();
    return d;
  });

  m.def("float_to_half_bits", &floatToHalf);
  m.def("half_bits_to_float", &halfToFloat);
  m.def("weight_convert",
        [](const std::string& from, const std::vector<int64_t>& shape, const py::bytes& data, const std::string& to) {
          const std::string s = data;
          Weight w(dtypeFromName(from), shape, s.data());
          if (w.bytes() != s.size()) throw py::value_error("byte count does not match shape");
          try {
            Weight c = w.convert(dtypeFromName(to));
            return py::bytes(static_cast<const char*>(c.host()), c.bytes());
          } catch (const Error& e) {
            throw py::value_error(e.what());
          }
        });

  m.def("json_check", [](const std::string& text) {
    std::string why;
    const bool ok = isValidJson(text, &why);
    return py::make_tuple(ok, why);
  });

  py::class_<Expr>(m, "Expr", py::module_local())  // local: user plugin packages build their own _C
      .def(py::init<int64_t>())
      .def_static("input_dim", &Expr::inputDim)
      .def("__add__", [](const Expr& a, const Expr& b) { return a + b; })
      .def("__sub__", [](const Expr& a, const Expr& b) { return a - b; })
      .def("__mul__", [](const Expr& a, const Expr& b) { return a * b; })
      .def("floordiv", [](const Expr& a, const Expr& b) { return floorDiv(a, b); })
      .def("ceildiv", [](const Expr& a, const Expr& b) { return ceilDiv(a, b); })
      .def("max", [](const Expr& a, const Expr& b) { return max(a, b); })
      .def("min", [](const Expr& a, const Expr& b) { return min(a, b); })
      .def_property_readonly("is_constant", &Expr::isConstant)
      .def("eval",
           [](const Expr& e, const std::vector<std::vector<int64_t>>& shapes) {
             try {
               return evalShapes({{e}}, shapes)[0][0];
             } catch (const Error& err) {
               throw py::value_error(err.what());
             }
           })
      .def("__str__", &Expr::str);
  py::implicitly_convertible<int64_t, Expr>();

  m.def("registry_problems", []() { return LayerRegistry::global().problems(); });
}

}  // namespace trtkit::python
