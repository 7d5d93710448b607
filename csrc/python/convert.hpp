// Conversions between Python values and the core's types for the trtkit._C module.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "trtkit/core/layer.hpp"
#include "trtkit/core/registry.hpp"

namespace trtkit::python {

// dtype names as dtypeName() spells them ("float32", "float16", ...); ValueError listing the valid ones.
DType dtypeFromName(const std::string& name);

// The registered layer's entry; ValueError naming the known layers when there is none.
const LayerEntry& findEntry(const std::string& name);

// Python value -> AttrValue of the type the schema declares for `attr` (bool is never an int). Attributes the
// schema does not declare are converted by their Python type, so makeConfig reports them with its message.
AttrValue attrFromPython(const LayerSchema& schema, const std::string& attr, const pybind11::handle& value);
std::vector<std::pair<std::string, AttrValue>> attrsFromPython(const LayerSchema& schema, const pybind11::dict& attrs);

// AttrValue -> int, list[int], float, list[float], str, or {"dtype", "shape", "data"} for weights.
pybind11::object attrToPython(const AttrValue& value);
pybind11::dict attrsToPython(const LayerConfig& config);

// (dtype name, dims) pairs -> TensorDesc.
std::vector<TensorDesc> tensorDescs(const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors,
                                    const char* what);

}  // namespace trtkit::python
