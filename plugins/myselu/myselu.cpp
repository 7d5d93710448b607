// MYSELU: y = gain * x * sigmoid(beta * x), beta from the learnable input p broadcast over `axes` of x.
// The kit's first op: a parameter input, an int-list, a float and a JSON string attribute, each with a meaning.
#include <string>

#include "myselu_kernel.cuh"
#include "trtkit/core/registry.hpp"

namespace trtkit::plugins {
namespace {

std::string label(const LayerConfig& c) {
  return " (info " + c.getString("info") + ")";
}

// Normalizes `axes` for rank `rank` and checks they form a contiguous increasing run; returns [first, last].
// Runs in enqueue too: the error text is built only on failure, so the success path allocates nothing.
void axesRange(const LayerConfig& config, int rank, int* first, int* last) {
  const std::vector<int32_t>& axes = config.getInts("axes");
  *first = rank;  // empty axes: p is one scalar, the run is empty
  *last = rank - 1;
  for (size_t k = 0; k < axes.size(); ++k) {
    const int a = axes[k] < 0 ? axes[k] + rank : axes[k];
    TRTKIT_CHECK(a >= 0 && a < rank, "MYSELU", label(config), ": axis ", axes[k], " is out of range for x of rank ",
                 rank);
    if (k == 0) {
      *first = a;
    } else {
      TRTKIT_CHECK(a == *last + 1, "MYSELU", label(config),
                   ": axes must be a contiguous increasing run of x's axes, got axis ", axes[k], " after ",
                   axes[k - 1]);
    }
    *last = a;
  }
}

}  // namespace

class MySelu final : public Layer {
 public:
  static LayerSchema schema() {
    LayerSchema s;
    s.name = "MYSELU";
    s.doc = "y = gain * x * sigmoid(beta * x); beta = p broadcast over x's `axes` (p.numel() == prod(x.shape[axes]))";
    s.inputs = {"x", "p"};
    s.outputs = {"y"};
    s.attrs = {
        intsAttr("axes", {1}, "axes of x that p spans: a contiguous increasing run; [] means p is one scalar",
                 [](const AttrValue& v) {
                   TRTKIT_CHECK(std::get<std::vector<int32_t>>(v).size() <= kMaxDims, "at most ", kMaxDims, " axes");
                 }),
        floatAttr("gain", 1.0f, "output scale"),
        stringAttr("info", "{}", "JSON object of free-form metadata (e.g. the source layer), quoted in errors",
                   checkJsonObject()),
    };
    using D = DType;
    s.typeCombinations = {{D::kFloat32, D::kFloat32, D::kFloat32},
                          {D::kFloat16, D::kFloat32, D::kFloat16},
                          {D::kFloat16, D::kFloat16, D::kFloat16}};
    return s;
  }

  explicit MySelu(const LayerConfig& c) : Layer(c) {}

  std::vector<ExprDims> outputShapes(const std::vector<ExprDims>& in) const override {
    const int rank = static_cast<int>(in.at(0).size());
    TRTKIT_CHECK(rank >= 1, "MYSELU", label(config()), ": x must have rank >= 1");
    int first, last;
    axesRange(config(), rank, &first, &last);
    return {in[0]};
  }

  void configure(const std::vector<TensorDesc>& in, const std::vector<TensorDesc>& out) override {
    const auto& x = in.at(0).dims;
    int first, last;
    axesRange(config(), static_cast<int>(x.size()), &first, &last);
    int64_t want = 1;
    bool known = true;
    for (int a = first; a <= last; ++a) {
      known = known && x[a] >= 0;
      want *= x[a];
    }
    int64_t have = 1;
    for (int64_t d : in.at(1).dims) {
      known = known && d >= 0;
      have *= d;
    }
    TRTKIT_CHECK(!known || have == want, "MYSELU", label(config()), ": p has ", have, " elements, x's axes need ",
                 want);
    (void)out;
  }

  void enqueue(Span<const GTensor> in, Span<GTensor> out, void* workspace, cudaStream_t stream) override {
    (void)workspace;
    const GTensor& x = in[0];
    int first, last;
    axesRange(config(), x.ndim(), &first, &last);
    int64_t pcount = 1;
    for (int a = first; a <= last; ++a) pcount *= x.size(a);
    TRTKIT_CHECK(in[1].count() == pcount, "MYSELU", label(config()), ": p has ", in[1].count(),
                 " elements, x's axes need ", pcount);
    MySeluArgs args;
    args.x = x.data();
    args.p = in[1].data();
    args.y = out[0].data();
    args.count = x.count();
    args.inner = x.count(last + 1);
    args.pcount = pcount;
    args.gain = config().getFloat("gain");
    args.xType = x.dtype() == DType::kFloat16 ? MySeluType::kFloat16 : MySeluType::kFloat32;
    args.pType = in[1].dtype() == DType::kFloat16 ? MySeluType::kFloat16 : MySeluType::kFloat32;
    const cudaError_t err = launchMySelu(args, stream);
    TRTKIT_CHECK(err == cudaSuccess, "MYSELU: kernel launch failed: ", cudaGetErrorString(err));
  }
};

TRTKIT_REGISTER_LAYER(MySelu);

}  // namespace trtkit::plugins
