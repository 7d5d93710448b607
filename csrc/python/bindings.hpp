// Pieces of the trtkit._C module that live in separate files.
#pragma once

#include <pybind11/pybind11.h>

namespace trtkit::python {

// trtkit._C._testing: direct access to core pieces (LayerConfig bytes, GTensor, Weight, Expr, JSON check)
// for the CPU-tier unit tests.
void bindTesting(pybind11::module_& m);

}  // namespace trtkit::python
