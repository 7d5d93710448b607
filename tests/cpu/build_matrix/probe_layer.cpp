// A tiny C++-only layer for the build matrix: an attribute of every type (so every creator field type and
// conversion path is compiled), an enqueue that copies x to y, and a second output z whose shape uses every
// shape-expression operation (checked through the harness). No CUDA compiler needed; with empty tensors
// enqueue succeeds without a GPU, so the adapters' enqueue path is testable for heap allocations anywhere.
#include <cuda_runtime_api.h>

#include "trtkit/core/registry.hpp"

namespace trtkit {
namespace {

class Probe final : public Layer {
 public:
  static LayerSchema schema() {
    LayerSchema s;
    s.name = "TKPROBE";
    s.doc = "y = x (build-matrix probe)";
    s.inputs = {"x"};
    s.outputs = {"y", "z"};
    s.attrs = {intAttr("i", 1, "an int"),         intsAttr("is", {1, 2}, "ints"),
               floatAttr("f", 0.5F, "a float"),   floatsAttr("fs", {0.25F}, "floats"),
               stringAttr("s", "{}", "a string"), weightsAttr("w", "weights", false)};
    s.typeCombinations = {{DType::kFloat32, DType::kFloat32, DType::kFloat32},
                          {DType::kFloat16, DType::kFloat16, DType::kFloat16}};
    return s;
  }
  explicit Probe(const LayerConfig& c) : Layer(c) {}
  std::vector<ExprDims> outputShapes(const std::vector<ExprDims>& in) const override {
    const ExprDims& x = in.at(0);
    TRTKIT_CHECK(x.size() == 2, "TKPROBE: x must have rank 2");
    // z = [max(x0, 2), min(x1, 3), ceil(x0 * x1 / 4), floor((x1 - 1) / 2) + 7]
    ExprDims z = {max(x[0], 2), min(x[1], 3), ceilDiv(x[0] * x[1], 4), floorDiv(x[1] - 1, 2) + 7};
    return {x, z};
  }
  void enqueue(Span<const GTensor> in, Span<GTensor> out, void* workspace, cudaStream_t stream) override {
    (void)workspace;
    if (in[0].bytes() == 0) return;  // nothing to copy: lets CPU-only tests run enqueue's success path
    const cudaError_t err = cudaMemcpyAsync(out[0].data(), in[0].data(), static_cast<size_t>(in[0].bytes()),
                                            cudaMemcpyDeviceToDevice, stream);
    TRTKIT_CHECK(err == cudaSuccess, "TKPROBE: copy failed: ", cudaGetErrorString(err));
  }
};

TRTKIT_REGISTER_LAYER(Probe);

}  // namespace
}  // namespace trtkit
