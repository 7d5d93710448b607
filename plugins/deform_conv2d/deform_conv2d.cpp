// DeformConv2d: torchvision.ops.deform_conv2d (DCNv1 / DCNv2) as a kit layer. Inputs in torchvision's operator
// order (input, weight, offset, mask, bias); the mask is a dummy (any shape, not read) when use_mask is 0, as
// torchvision's own op passes [N, 1] zeros. Kernels in deform_conv2d.cu; semantics and numbers in README.md.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "deform_conv2d_kernels.hpp"
#include "trtkit/core/notice.hpp"
#include "trtkit/core/registry.hpp"

namespace trtkit::plugins {
namespace {

constexpr const char* kName = "DeformConv2d";
enum Input { kInput = 0, kWeight = 1, kOffset = 2, kMask = 3, kBias = 4 };

std::function<void(const AttrValue&)> checkFlag() {
  return [](const AttrValue& v) {
    const int32_t x = std::get<int32_t>(v);
    TRTKIT_CHECK(x == 0 || x == 1, "must be 0 or 1, got ", x);
  };
}

std::function<void(const AttrValue&)> checkPair(bool positive) {
  return [positive](const AttrValue& v) {
    const auto& xs = std::get<std::vector<int32_t>>(v);
    TRTKIT_CHECK(xs.size() == 2, "must hold 2 values (height, width), got ", xs.size());
    for (int32_t x : xs) {
      if (positive) {
        TRTKIT_CHECK(x > 0, "must be > 0, got ", x);
      } else {
        TRTKIT_CHECK(x >= 0, "must be >= 0, got ", x);
      }
    }
  };
}

// Attributes read once; the config is validated at creation so the values are in range.
struct Attrs {
  int32_t strideH, strideW, padH, padW, dilationH, dilationW, groups, offsetGroups;
  bool useMask, allowTF32;
  bool gemmRows;             // weight_layout=1: the weight is GEMM rows [Cout, R] (deform_conv2d_kernels.hpp)
  int32_t kernelH, kernelW;  // kernel_shape: (0, 0) = from the weight (weight_layout=0 only)
  explicit Attrs(const LayerConfig& c) {
    const auto& s = c.getInts("stride");
    const auto& p = c.getInts("padding");
    const auto& d = c.getInts("dilation");
    strideH = s[0];
    strideW = s[1];
    padH = p[0];
    padW = p[1];
    dilationH = d[0];
    dilationW = d[1];
    groups = c.getInt("groups");
    offsetGroups = c.getInt("offset_groups");
    useMask = c.getInt("use_mask") != 0;
    allowTF32 = c.getInt("allow_tf32") != 0;
    gemmRows = c.getInt("weight_layout") == 1;
    const auto& k = c.getInts("kernel_shape");
    kernelH = k[0];
    kernelW = k[1];
    TRTKIT_CHECK(!gemmRows || (kernelH > 0 && kernelW > 0), kName,
                 ": kernel_shape (kh, kw > 0) is required with weight_layout=1, got [", kernelH, ", ", kernelW, "]");
  }
  int64_t weightRank() const { return gemmRows ? 2 : 4; }
};

int64_t outSize(int64_t in, int64_t kernel, int32_t stride, int32_t pad, int32_t dilation) {
  return (in + 2 * pad - (dilation * (kernel - 1) + 1)) / stride + 1;
}

// A shape seen without copying it: validateShapes runs in enqueue too, which must not allocate.
struct ShapeView {
  const int64_t* dims = nullptr;
  size_t rank = 0;
  size_t size() const { return rank; }
  int64_t operator[](size_t i) const { return dims[i]; }
};
using InputShapes = ShapeView[5];

// Checks every relation between the five input shapes that the known dims allow (-1 = not known yet).
void validateShapes(const Attrs& a, const InputShapes& in) {
  auto rank = [&](int i, size_t want, const char* what) {
    TRTKIT_CHECK(in[i].size() == want, kName, ": ", what, " must have rank ", want, ", got rank ", in[i].size());
  };
  rank(kInput, 4, "input [N, Cin, H, W]");
  if (a.gemmRows)
    rank(kWeight, 2, "weight [Cout, R] (GEMM rows, weight_layout=1)");
  else
    rank(kWeight, 4, "weight [Cout, Cin/groups, kh, kw]");
  rank(kOffset, 4, "offset [N, 2*offset_groups*kh*kw, Ho, Wo]");
  if (a.useMask) rank(kMask, 4, "mask [N, offset_groups*kh*kw, Ho, Wo] (use_mask=1)");
  if (!a.gemmRows) rank(kBias, 1, "bias [Cout]");  // GEMM rows carry the bias; the input is not read
  const auto& x = in[kInput];
  const auto& w = in[kWeight];
  const auto& off = in[kOffset];
  auto known = [](std::initializer_list<int64_t> ds) {
    for (int64_t d : ds)
      if (d < 0) return false;
    return true;
  };
  const int64_t n = x[0], cin = x[1], cout = w[0];
  const int64_t kh = a.gemmRows ? a.kernelH : w[2], kw = a.gemmRows ? a.kernelW : w[3];
  if (!a.gemmRows && (a.kernelH != 0 || a.kernelW != 0) && known({kh, kw}))
    TRTKIT_CHECK(kh == a.kernelH && kw == a.kernelW, kName, ": kernel_shape [", a.kernelH, ", ", a.kernelW,
                 "] differs from the weight's kernel ", kh, "x", kw);
  if (known({cin})) {
    TRTKIT_CHECK(cin % a.groups == 0, kName, ": groups (", a.groups, ") must divide the input channels (", cin, ")");
    TRTKIT_CHECK(cin % a.offsetGroups == 0, kName, ": offset_groups (", a.offsetGroups,
                 ") must divide the input channels (", cin, ")");
  }
  if (!a.gemmRows && known({cin, w[1]}))
    TRTKIT_CHECK(w[1] * a.groups == cin, kName, ": weight.shape[1] (", w[1], ") times groups (", a.groups,
                 ") must equal the input channels (", cin, ")");
  if (a.gemmRows && known({cin, w[1]})) {
    const int64_t taps = kh * kw * (cin / a.groups);
    TRTKIT_CHECK(w[1] > taps && w[1] % 8 == 0, kName, ": GEMM-row weight (weight_layout=1) rows hold ", w[1],
                 " elements; they need kh*kw*Cin/groups = ", taps, " weights, the bias, and a multiple of 8");
  }
  if (known({cout}))
    TRTKIT_CHECK(cout > 0 && cout % a.groups == 0, kName, ": groups (", a.groups,
                 ") must divide the output channels weight.shape[0] (", cout, ")");
  if (known({kh, kw})) {
    TRTKIT_CHECK(kh > 0 && kw > 0, kName, ": kernel size must be positive, got ", kh, "x", kw);
    if (known({off[1]}))
      TRTKIT_CHECK(off[1] == 2 * a.offsetGroups * kh * kw, kName, ": offset.shape[1] is ", off[1],
                   ", expected 2*offset_groups*kh*kw = ", 2 * a.offsetGroups * kh * kw);
  }
  int64_t ho = -1, wo = -1;  // -1: not known yet
  if (known({x[2], kh})) {
    ho = outSize(x[2], kh, a.strideH, a.padH, a.dilationH);
    TRTKIT_CHECK(ho > 0, kName, ": the output would be empty (height ", ho, "): input height ", x[2], " (padded by ",
                 a.padH, ") is smaller than the dilated kernel");
  }
  if (known({x[3], kw})) {
    wo = outSize(x[3], kw, a.strideW, a.padW, a.dilationW);
    TRTKIT_CHECK(wo > 0, kName, ": the output would be empty (width ", wo, "): input width ", x[3], " (padded by ",
                 a.padW, ") is smaller than the dilated kernel");
  }
  auto sameDim = [&](int i, int axis, int64_t want, const char* what, const char* whatWant) {
    const int64_t have = in[i][axis];
    if (have >= 0 && want >= 0)
      TRTKIT_CHECK(have == want, kName, ": ", what, " is ", have, ", expected ", whatWant, " = ", want);
  };
  sameDim(kOffset, 0, n, "offset.shape[0]", "the batch size");
  sameDim(kOffset, 2, ho, "offset.shape[2]", "the output height");
  sameDim(kOffset, 3, wo, "offset.shape[3]", "the output width");
  if (a.useMask) {
    sameDim(kMask, 0, n, "mask.shape[0]", "the batch size");
    if (known({kh, kw})) sameDim(kMask, 1, a.offsetGroups * kh * kw, "mask.shape[1]", "offset_groups*kh*kw");
    sameDim(kMask, 2, ho, "mask.shape[2]", "the output height");
    sameDim(kMask, 3, wo, "mask.shape[3]", "the output width");
  }
  if (!a.gemmRows) sameDim(kBias, 0, cout, "bias.shape[0]", "the output channels");
}

dcn::DeformConvParams makeParams(const Attrs& a, const int64_t* x, const int64_t* w) {
  dcn::DeformConvParams p;
  p.batch = x[0];
  p.inChannels = x[1];
  p.height = x[2];
  p.width = x[3];
  p.outChannels = w[0];
  p.kernelH = a.gemmRows ? a.kernelH : w[2];
  p.kernelW = a.gemmRows ? a.kernelW : w[3];
  p.weightRowElems = a.gemmRows ? w[1] : 0;
  p.outH = outSize(x[2], p.kernelH, a.strideH, a.padH, a.dilationH);
  p.outW = outSize(x[3], p.kernelW, a.strideW, a.padW, a.dilationW);
  p.strideH = a.strideH;
  p.strideW = a.strideW;
  p.padH = a.padH;
  p.padW = a.padW;
  p.dilationH = a.dilationH;
  p.dilationW = a.dilationW;
  p.groups = a.groups;
  p.offsetGroups = a.offsetGroups;
  p.useMask = a.useMask;
  p.hasBias = true;
  return p;
}

dcn::Precision precisionOf(DType t, const Attrs& a) {
  if (t == DType::kFloat16) return dcn::Precision::kFloat16;
  return a.allowTF32 ? dcn::Precision::kFloat32TF32 : dcn::Precision::kFloat32Strict;
}

bool concrete(const Attrs& a, const std::vector<TensorDesc>& in) {
  if (in.size() != 5 || in[kInput].dims.size() != 4 || in[kWeight].dims.size() != static_cast<size_t>(a.weightRank()))
    return false;
  for (const TensorDesc& t : in)
    for (int64_t d : t.dims)
      if (d < 0) return false;
  return true;
}

}  // namespace

class DeformConv2d final : public Layer {
 public:
  static LayerSchema schema() {
    LayerSchema s;
    s.name = kName;
    s.doc =
        "torchvision.ops.deform_conv2d (DCNv1/DCNv2): out = conv of bilinear samples at offset positions, "
        "modulated by mask when use_mask=1";
    s.inputs = {"input", "weight", "offset", "mask", "bias"};
    s.outputs = {"output"};
    s.attrs = {
        intsAttr("stride", {1, 1}, "stride (height, width), each > 0", checkPair(true)),
        intsAttr("padding", {0, 0}, "zero padding (height, width), each >= 0", checkPair(false)),
        intsAttr("dilation", {1, 1}, "kernel dilation (height, width), each > 0", checkPair(true)),
        intAttr("groups", 1, "weight groups: Cin / weight.shape[1]", checkAllPositive()),
        intAttr("offset_groups", 1, "offset groups: offset.shape[1] / (2*kh*kw)", checkAllPositive()),
        intAttr("use_mask", 1, "1: modulate by mask (DCNv2); 0: mask is a dummy that is not read (DCNv1)", checkFlag()),
        intAttr("allow_tf32", 0,
                "fp32 only: 1 lets the products run on TF32 tensor cores (10-bit mantissa, fp32 sums); "
                "0 (default) never uses TF32: exact products (fp32 FFMA, or fp64 tensor cores on Hopper)",
                checkFlag()),
        intAttr("weight_layout", 0,
                "0: weight [Cout, Cin/groups, kh, kw] and bias [Cout] (torchvision's); 1: weight is GEMM rows "
                "[Cout, R]: row co = the weights of co tap-major (kh, kw, Cin/groups), then bias[co], then zeros "
                "(R > kh*kw*Cin/groups, a multiple of 8); the bias input is not read. trtkit.export writes "
                "initializers this way, so that no weight relayout runs per inference",
                checkFlag()),
        intsAttr("kernel_shape", {0, 0},
                 "(kh, kw): required with weight_layout=1; with 0, (0, 0) or the weight's kernel", checkPair(false)),
    };
    using D = DType;
    s.typeCombinations = {{D::kFloat32, D::kFloat32, D::kFloat32, D::kFloat32, D::kFloat32, D::kFloat32},
                          {D::kFloat16, D::kFloat16, D::kFloat16, D::kFloat16, D::kFloat16, D::kFloat16}};
    return s;
  }

  explicit DeformConv2d(const LayerConfig& c) : Layer(c), attrs_(c) {}

  std::vector<ExprDims> outputShapes(const std::vector<ExprDims>& in) const override {
    TRTKIT_CHECK(in.size() == 5, kName, ": expects 5 inputs (input, weight, offset, mask, bias), got ", in.size());
    std::vector<std::vector<int64_t>> dims;  // build time: allocation is fine here
    InputShapes shapes;
    for (size_t i = 0; i < 5; ++i) {
      std::vector<int64_t> d;
      for (const Expr& e : in[i]) d.push_back(e.isConstant() ? e.constant() : -1);
      dims.push_back(std::move(d));
    }
    for (size_t i = 0; i < 5; ++i) shapes[i] = {dims[i].data(), dims[i].size()};
    validateShapes(attrs_, shapes);
    const Attrs& a = attrs_;
    auto out = [](const Expr& size, const Expr& kernel, int32_t stride, int32_t pad, int32_t dilation) {
      return floorDiv(size + Expr(2 * pad) - (Expr(dilation) * (kernel - 1) + 1), Expr(stride)) + 1;
    };
    const Expr kh = a.gemmRows ? Expr(a.kernelH) : in[kWeight][2];
    const Expr kw = a.gemmRows ? Expr(a.kernelW) : in[kWeight][3];
    return {{in[kInput][0], in[kWeight][0], out(in[kInput][2], kh, a.strideH, a.padH, a.dilationH),
             out(in[kInput][3], kw, a.strideW, a.padW, a.dilationW)}};
  }

  void configure(const std::vector<TensorDesc>& in, const std::vector<TensorDesc>& out) override {
    TRTKIT_CHECK(in.size() == 5 && out.size() == 1, kName, ": expects 5 inputs and 1 output");
    InputShapes shapes;
    for (size_t i = 0; i < 5; ++i) shapes[i] = {in[i].dims.data(), in[i].dims.size()};
    validateShapes(attrs_, shapes);
    shaped_ = concrete(attrs_, in);  // run time (onShapeChange), or a build without dynamic dims
    if (shaped_) {
      params_ = makeParams(attrs_, in[kInput].dims.data(), in[kWeight].dims.data());
      precision_ = precisionOf(in[kInput].type.dtype, attrs_);
      prepareTactic();
    }
  }

  // Tactics: the sampled algorithm with each GEMM variant (cuBLAS's choice, cuBLASLt's candidates #1..#4) and the
  // pipelined kernel, where they run at the profile's optimum shapes (deform_conv2d_kernels.hpp, offeredTactics).
  std::vector<int32_t> tactics(const std::vector<TensorDesc>& in, const std::vector<TensorDesc>& out) const override {
    (void)out;
    dcn::DeviceLimits limits;
    if (!concrete(attrs_, in) || !dcn::queryDevice(&limits)) return {};  // no GPU (a CPU-only machine): nothing to time
    const dcn::DeformConvParams p = makeParams(attrs_, in[kInput].dims.data(), in[kWeight].dims.data());
    const bool blasUsable = blas_ != nullptr ? blas_->ok() : blas::available();
    return dcn::offeredTactics(p, precisionOf(in[kInput].type.dtype, attrs_), blasUsable, blas::ltAvailable(), limits);
  }

  void setTactic(int32_t tactic) override {
    dcn::Tactic t;
    TRTKIT_CHECK(dcn::decodeTactic(tactic, &t), kName, ": unknown tactic ", tactic,
                 " (0, or 16 * algorithm + GEMM variant as offered by getValidTactics)");
    tactic_ = t;
    prepareTactic();
  }

  // Enough for either algorithm (formulas in deform_conv2d_kernels.hpp and README.md): the engine may run where
  // cuBLAS loads (sampled algorithm) or where it does not (fused).
  size_t workspaceSize(const std::vector<TensorDesc>& in, const std::vector<TensorDesc>& out) const override {
    (void)out;
    const auto& x = in.at(kInput).dims;
    const auto& w = in.at(kWeight).dims;
    if (x.size() != 4 || w.size() != static_cast<size_t>(attrs_.weightRank())) return 0;
    for (int64_t d : x)
      if (d < 0) return 0;
    for (int64_t d : w)
      if (d < 0) return 0;
    const dcn::DeformConvParams p = makeParams(attrs_, x.data(), w.data());
    return dcn::workspaceBytes(p, precisionOf(in.at(kInput).type.dtype, attrs_));
  }

  void enqueue(Span<const GTensor> in, Span<GTensor> out, void* workspace, cudaStream_t stream) override {
    TRTKIT_CHECK(in.size() == 5 && out.size() == 1, kName, ": expects 5 inputs and 1 output");
    InputShapes shapes;  // on the stack: enqueue allocates nothing
    for (int i = 0; i < 5; ++i) shapes[i] = {in[i].dims(), static_cast<size_t>(in[i].ndim())};
    validateShapes(attrs_, shapes);
    const dcn::DeformConvParams p = makeParams(attrs_, in[kInput].dims(), in[kWeight].dims());
    const char* why = dcn::checkParams(p);
    TRTKIT_CHECK(why[0] == '\0', kName, ": ", why);
    const DType t = in[kInput].dtype();
    for (const GTensor& g : in) TRTKIT_CHECK(g.dtype() == t, kName, ": all inputs must share one dtype");
    TRTKIT_CHECK(out[0].count() == p.batch * p.outChannels * p.outH * p.outW, kName,
                 ": output has the wrong number of elements");
    const dcn::Precision prec = precisionOf(t, attrs_);
    TRTKIT_CHECK(p.batch == 0 || workspace != nullptr || dcn::workspaceBytes(p, prec) == 0, kName,
                 ": no workspace was given (", dcn::workspaceBytes(p, prec), " bytes needed)");
    // A tactic timed at the optimum shapes may not run every shape of the profile: kAuto's choice runs those.
    const char* err =
        dcn::launchDeformConv2d(p, prec, tactic_.algorithm, blas_.get(), in[kInput].data(), in[kWeight].data(),
                                in[kOffset].data(), attrs_.useMask ? in[kMask].data() : nullptr, in[kBias].data(),
                                out[0].data(), workspace, stream, tactic_.gemmVariant, true);
    TRTKIT_CHECK(err == nullptr, kName, ": ", err);
  }

  // One cuBLAS handle per execution context (TensorRT 10+ passes plugins none). Without cuBLAS it stays
  // unusable and enqueue runs the pipelined kernel where it applies, else the fused one.
  void attach() override {
    blas_ = std::make_unique<blas::Handle>();
    prepareTactic();
    if (!blas_->ok()) {
      static std::once_flag once;  // once per process: every context would say the same
      std::call_once(once, [this] {
        notice(std::string(kName) + ": cuBLAS is not usable (" + blas_->unusableReason() +
               "); shapes with more than 64 output channels per group run the pipelined kernel where it applies, "
               "else the fused one, both slower there (plugins/deform_conv2d/README.md)");
      });
    }
  }
  void detach() noexcept override { blas_.reset(); }

 private:
  // A GEMM variant needs cuBLASLt's plan for the shapes it will run: made here, when the handle, the shapes and
  // the tactic are all known (TensorRT calls setTactic, attachToContext and onShapeChange in an order it does not
  // document), never in enqueue. Unprepared GEMMs run cuBLAS's own choice.
  void prepareTactic() {
    if (tactic_.gemmVariant != 0 && shaped_ && blas_ != nullptr && blas_->ok())
      dcn::prepareSampledGemms(params_, precision_, *blas_, tactic_.gemmVariant);
  }

  Attrs attrs_;
  std::unique_ptr<blas::Handle> blas_;
  dcn::Tactic tactic_;
  bool shaped_ = false;  // params_ and precision_ hold the last concrete shapes configure() saw
  dcn::DeformConvParams params_;
  dcn::Precision precision_ = dcn::Precision::kFloat32Strict;
};

TRTKIT_REGISTER_LAYER(DeformConv2d);

}  // namespace trtkit::plugins
