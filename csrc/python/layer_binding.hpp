// trtkit._C.Layer: a registered layer instance, validated like a TensorRT creator would build it.
#pragma once

#include <pybind11/pybind11.h>

namespace trtkit::python {

void bindLayer(pybind11::module_& m);

}  // namespace trtkit::python
