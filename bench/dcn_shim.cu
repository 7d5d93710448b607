// Test/benchmark shim: a C ABI over the deform_conv2d launcher so that scripts can call the kernels through
// ctypes on torch tensors' device pointers without the kit's core or the TensorRT adapter. Build:
// see build() in dcn_shim.py (nvcc; the two algorithms' .cu files, csrc/core/trtkit/core/blas.cpp with the
// cuBLAS headers of the CUDA toolkit or the nvidia-cublas wheel; cuBLAS itself is loaded at run time).
#include <cstdint>
#include <vector>

#include "deform_conv2d_kernels.hpp"

using trtkit::dcn::DeformConvParams;
using trtkit::dcn::Precision;

namespace {
DeformConvParams unpack(const int64_t* v) {
  DeformConvParams p;
  p.batch = v[0];
  p.inChannels = v[1];
  p.height = v[2];
  p.width = v[3];
  p.outChannels = v[4];
  p.kernelH = v[5];
  p.kernelW = v[6];
  p.outH = v[7];
  p.outW = v[8];
  p.strideH = static_cast<int32_t>(v[9]);
  p.strideW = static_cast<int32_t>(v[10]);
  p.padH = static_cast<int32_t>(v[11]);
  p.padW = static_cast<int32_t>(v[12]);
  p.dilationH = static_cast<int32_t>(v[13]);
  p.dilationW = static_cast<int32_t>(v[14]);
  p.groups = static_cast<int32_t>(v[15]);
  p.offsetGroups = static_cast<int32_t>(v[16]);
  p.useMask = v[17] != 0;
  p.hasBias = v[18] != 0;
  p.weightRowElems = v[19];
  return p;
}
}  // namespace

extern "C" __attribute__((visibility("default"))) int64_t dcn_workspace(const int64_t* params, int precision) {
  return static_cast<int64_t>(trtkit::dcn::workspaceBytes(unpack(params), static_cast<Precision>(precision)));
}

extern "C" __attribute__((visibility("default"))) const char* dcn_check(const int64_t* params) {
  return trtkit::dcn::checkParams(unpack(params));
}

// One cuBLAS handle for the process (the tests and benchmark run one stream at a time).
static trtkit::blas::Handle& handle() {
  static trtkit::blas::Handle h;
  return h;
}

static int copyTactics(const std::vector<int32_t>& tactics, int32_t* out, int cap) {
  for (size_t i = 0; i < tactics.size() && static_cast<int>(i) < cap; ++i) out[i] = tactics[i];
  return static_cast<int>(tactics.size());
}

// "" when cuBLAS is usable, else why not.
extern "C" __attribute__((visibility("default"))) const char* dcn_blas_status() {
  return handle().unusableReason();
}

extern "C" __attribute__((visibility("default"))) int dcn_blas_version() {
  return trtkit::blas::loadedVersion();
}

// The algorithm "auto" picks on the current GPU (1 fused, 2 sampled + cuBLAS, 3 pipelined), or -1 on CUDA errors.
extern "C" __attribute__((visibility("default"))) int dcn_auto_algorithm(const int64_t* params, int precision) {
  trtkit::dcn::DeviceLimits limits;
  if (!trtkit::dcn::queryDevice(&limits)) return -1;
  return static_cast<int>(trtkit::dcn::chooseAlgorithm(unpack(params), static_cast<Precision>(precision),
                                                       trtkit::dcn::Algorithm::kAuto, handle().ok(), limits));
}

// The same rule for a GPU described by its compute capability major and opt-in shared memory per block, with or
// without cuBLAS: pure logic, no CUDA call (the cpu tier uses it).
extern "C" __attribute__((visibility("default"))) int dcn_choose_algorithm(const int64_t* params, int precision,
                                                                           int blas_usable, int compute_major,
                                                                           int64_t max_shared_bytes) {
  const trtkit::dcn::DeviceLimits limits{compute_major, static_cast<size_t>(max_shared_bytes)};
  return static_cast<int>(trtkit::dcn::chooseAlgorithm(unpack(params), static_cast<Precision>(precision),
                                                       trtkit::dcn::Algorithm::kAuto, blas_usable != 0, limits));
}

// Output channels per pipelined tile (64 or 128) on a GPU with `sms` SMs: pure logic (the cpu tier uses it).
extern "C" __attribute__((visibility("default"))) int dcn_pipelined_tile_channels(const int64_t* params, int precision,
                                                                                  int sms) {
  return trtkit::dcn::pipelinedTileChannels(unpack(params), static_cast<Precision>(precision), sms);
}

// algorithm: 0 auto, 1 fused, 2 sampled + cuBLAS, 3 pipelined. Returns "" once enqueued, else what failed.
extern "C" __attribute__((visibility("default"))) const char* dcn_run(const int64_t* params, int precision,
                                                                      int algorithm, void* input, void* weight,
                                                                      void* offset, void* mask, void* bias,
                                                                      void* output, void* workspace, void* stream) {
  const char* why = trtkit::dcn::launchDeformConv2d(
      unpack(params), static_cast<Precision>(precision), static_cast<trtkit::dcn::Algorithm>(algorithm), &handle(),
      input, weight, offset, mask, bias, output, workspace, static_cast<cudaStream_t>(stream));
  return why == nullptr ? "" : why;
}

// The tactics the layer offers for p on the current GPU (as IPluginV3::getValidTactics), written to out (up to cap);
// returns how many there are, or -1 on CUDA errors.
extern "C" __attribute__((visibility("default"))) int dcn_tactics(const int64_t* params, int precision, int32_t* out,
                                                                  int cap) {
  trtkit::dcn::DeviceLimits limits;
  if (!trtkit::dcn::queryDevice(&limits)) return -1;
  return copyTactics(trtkit::dcn::offeredTactics(unpack(params), static_cast<Precision>(precision), handle().ok(),
                                                 trtkit::blas::ltAvailable(), limits),
                     out, cap);
}

// What the layer does in setTactic/configure: prepares the tactic's GEMM variant for p. Returns 1 when every GEMM
// has it (or the tactic has no variant), 0 when some GEMM will run cuBLAS's own choice, -1 for an unknown tactic.
extern "C" __attribute__((visibility("default"))) int dcn_prepare_tactic(const int64_t* params, int precision,
                                                                         int tactic) {
  trtkit::dcn::Tactic t;
  if (!trtkit::dcn::decodeTactic(tactic, &t)) return -1;
  return t.gemmVariant == 0 || trtkit::dcn::prepareSampledGemms(unpack(params), static_cast<Precision>(precision),
                                                                handle(), t.gemmVariant)
             ? 1
             : 0;
}

// Runs p with a tactic as the layer's enqueue does (dcn_prepare_tactic first). Returns "" once enqueued, else what
// failed.
extern "C" __attribute__((visibility("default"))) const char* dcn_run_tactic(const int64_t* params, int precision,
                                                                             int tactic, void* input, void* weight,
                                                                             void* offset, void* mask, void* bias,
                                                                             void* output, void* workspace,
                                                                             void* stream) {
  trtkit::dcn::Tactic t;
  if (!trtkit::dcn::decodeTactic(tactic, &t)) return "unknown tactic";
  const char* why = trtkit::dcn::launchDeformConv2d(unpack(params), static_cast<Precision>(precision), t.algorithm,
                                                    &handle(), input, weight, offset, mask, bias, output, workspace,
                                                    static_cast<cudaStream_t>(stream), t.gemmVariant, true);
  return why == nullptr ? "" : why;
}

// The kernels' multiply-shift division by a run-time divisor, on the host (pure arithmetic: the cpu tier checks it).
extern "C" __attribute__((visibility("default"))) int dcn_fast_divide(int x, int d) {
  return trtkit::dcn::fastDivide(x, d);
}

// Tactic codes without a GPU (pure logic): 1 when well formed, and the decoded algorithm and variant.
extern "C" __attribute__((visibility("default"))) int dcn_decode_tactic(int tactic, int* algorithm, int* variant) {
  trtkit::dcn::Tactic t;
  const bool ok = trtkit::dcn::decodeTactic(tactic, &t);
  *algorithm = static_cast<int>(t.algorithm);
  *variant = t.gemmVariant;
  return ok ? 1 : 0;
}

// offeredTactics for a described GPU and install (pure logic, no CUDA call: the cpu tier uses it).
extern "C" __attribute__((visibility("default"))) int dcn_offered_tactics(const int64_t* params, int precision,
                                                                          int blas_usable, int lt_usable,
                                                                          int compute_major, int64_t max_shared_bytes,
                                                                          int sms, int32_t* out, int cap) {
  const trtkit::dcn::DeviceLimits limits{compute_major, static_cast<size_t>(max_shared_bytes), sms};
  return copyTactics(trtkit::dcn::offeredTactics(unpack(params), static_cast<Precision>(precision), blas_usable != 0,
                                                 lt_usable != 0, limits),
                     out, cap);
}
