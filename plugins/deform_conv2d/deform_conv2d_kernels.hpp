// deform_conv2d kernels: a TensorRT-free launcher (the Layer in deform_conv2d.cpp and the standalone test shim
// in bench/ both call it; from the core it needs only blas.hpp). Semantics are torchvision.ops.deform_conv2d's.
//
// Three algorithms compute the same thing:
//   kPipelined (deform_conv2d_pipelined.cu): one warp-specialised implicit GEMM, samples gathered into a
//     shared-memory ring while tensor cores (fp16, TF32) or FFMA (strict fp32) multiply the previous stages; per
//     group, channels in 64s (fp16) / 32s (fp32) and output channels in 64s, channels per offset group in 8s / 4s
//     (pipelinedPathSupports); sm_80+ with enough shared memory (pipelinedRunsOn). Needs no cuBLAS; faster than
//     kSampledGemm with up to 64 output channels per group (bench/results).
//   kSampledGemm (deform_conv2d_sampled.cu): bilinear samples into a column matrix, then cuBLAS. The fastest with
//     more output channels (bench/results); needs a usable blas::Handle and sampledPathSupports().
//   kFused (deform_conv2d.cu): one implicit-GEMM kernel that samples into shared memory. No cuBLAS, no large
//     workspace; the fallback where cuBLAS cannot be loaded. Needs ~75 KB of shared memory per block (not sm_75).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "trtkit/core/blas.hpp"

namespace trtkit {
namespace dcn {

struct DeformConvParams {
  int64_t batch = 0;  // N
  int64_t inChannels = 0, height = 0, width = 0;
  int64_t outChannels = 0, kernelH = 0, kernelW = 0;
  int64_t outH = 0, outW = 0;
  int32_t strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1;
  int32_t groups = 1, offsetGroups = 1;
  bool useMask = false;
  bool hasBias = false;
  // 0: the weight is [Cout][Cin/g][kh][kw] (torchvision's) and the bias an input of its own. > 0: the weight is the
  // sampled GEMM's operand itself, "GEMM rows" [Cout][weightRowElems]: row co holds W[co] tap-major (element
  // tap * Cin/g + c), then bias[co], then zeros (weightRowElems >= kh*kw*Cin/g + 1, a multiple of 8); the bias input
  // is not read. trtkit.export writes DeformConv2d initializers this way (node attribute weight_layout=1), so that
  // no per-call relayout of the weight runs (H100, bench/results/deform_conv2d_notes.md: 3-4 us of a 61 us fp16 call
  // at N4 C512, running beside the sampler).
  int64_t weightRowElems = 0;
};

enum class Precision : int32_t {
  kFloat32Strict = 0,  // fp32 tensors, never TF32: FFMA, or fp64 MMAs on Hopper (exact products, fp64 sums)
  kFloat32TF32 = 1,    // fp32 tensors, TF32 tensor-core products, fp32 accumulation (opt-in)
  kFloat16 = 2,        // fp16 tensors, fp16 tensor-core products, fp32 accumulation
};

// Returns an empty string when the parameters are consistent, else what is wrong (shapes, groups...).
const char* checkParams(const DeformConvParams& p);

enum class Algorithm : int32_t {
  kAuto = 0,         // see chooseAlgorithm
  kFused = 1,        //
  kSampledGemm = 2,  //
  kPipelined = 3,    //
};

// Images per chunk of the sampled path: as many as keep the channels-last input and column matrix of the chunk
// under this many bytes (at least one image).
#ifndef TRTKIT_DCN_SAMPLED_CHUNK_BYTES
#define TRTKIT_DCN_SAMPLED_CHUNK_BYTES (size_t{256} << 20)  // tests build a small value to cover many chunks
#endif
constexpr size_t kSampledChunkBytes = TRTKIT_DCN_SAMPLED_CHUNK_BYTES;

// Whether kSampledGemm handles these parameters (one pixel's kh*kw*offsetGroups entries fit shared memory).
bool sampledPathSupports(const DeformConvParams& p);

// x / d as the sampled and pipelined kernels divide by run-time divisors (multiply and shift), computed on the
// host: for tests of that arithmetic over 0 <= x < 2^31, 1 <= d < 2^31.
int fastDivide(int x, int d);

// Scratch bytes of kSampledGemm at these (maximum) shapes, e = element size, V = 16 / e:
//   k     = kh*kw*Cin/groups + 1                     (a weight group's K: taps x channels + the bias column)
//   kgPad = roundUp(k, 32 / e) for strict fp32; fp16 and TF32: roundUp(k, 128 / e) where that adds <= 5 % to k,
//           else roundUp(k, 32 / e)                   (row alignments cuBLAS is fastest with, measured)
//   perImage = H*W*Cin*e + Ho*Wo*groups*kgPad*e     (channels-last input + column matrix of one image)
//   bytes = 32 MiB (cuBLAS) + align256(Cout*kgPad*e) + min(N*perImage, max(kSampledChunkBytes, perImage)) + 512
// With GEMM rows (weightRowElems > 0): kgPad = weightRowElems, and no Cout*kgPad term (the GEMM reads the weight).
size_t sampledWorkspaceBytes(const DeformConvParams& p, Precision precision);

// Scratch bytes of kFused: the input re-laid as NHWC (channels padded per run of channels that share
// a group and an offset group) plus the weight re-laid as [groups][kh*kw][Cin/groups][Cout/groups padded].
//   unit  = gcd(Cin/groups, Cin/offsetGroups), unitPad = roundUp(unit, V), V = 16 bytes / element size
//   bytes = align256(N*H*W*(Cin/unit)*unitPad*e) + align256(groups*kh*kw*(Cin/groups)*roundUp(Cout/groups, V)*e)
size_t fusedWorkspaceBytes(const DeformConvParams& p, Precision precision);

// What a layer declares: max(fused, sampled, pipelined) bytes of the algorithms that support p, so an engine runs with
// any of them wherever it is deserialized (cuBLAS may load on one machine and not on another).
size_t workspaceBytes(const DeformConvParams& p, Precision precision);

// Whether kPipelined handles these shapes and this precision (the GPU: pipelinedRunsOn).
bool pipelinedPathSupports(const DeformConvParams& p, Precision precision);

// Scratch bytes of kPipelined, e = element bytes (2 fp16, 4 fp32):
//   align256(Cout*kh*kw*(Cin/groups)*e) + align256(min(N*xs, max(cap, xs))) + Cin*e
// with xs = H*W*Cin*e (channels-last input of one image), cap = kSampledChunkBytes.
size_t pipelinedWorkspaceBytes(const DeformConvParams& p, Precision precision);

// Shared memory one CTA of kPipelined needs: ~79-108 KB for 64-output-channel tiles, ~104-132 KB for 128-channel
// tiles (the corner tables grow with the offset groups per stage; sm_80, sm_87, sm_90+ have it; sm_86/89, with 99 KB,
// run the 64-channel tiles with up to 4 offset groups per stage). Strict fp32 has a 4-stage ring: ~97-129 KB and
// ~129-161 KB.
size_t pipelinedSharedBytes(const DeformConvParams& p, Precision precision);

// Output channels per pipelined tile on a GPU with `sms` SMs (pure logic): 128 where a group has 128s of them,
// unless 64-channel tiles of the first chunk still fit one wave (2 x the 128-channel tiles <= sms); pixelTile: the
// tiles' pixels (128; strict fp32 on Hopper 64).
int pipelinedTileChannels(const DeformConvParams& p, Precision precision, int sms, int pixelTile = 128);

// What kAuto and the launchers need to know of the GPU (queried once per enqueue by launchDeformConv2d).
struct DeviceLimits {
  int computeMajor = 0;
  size_t maxSharedBytesPerBlock = 0;  // opt-in maximum
  int multiprocessors = 0;            // tile choices; 0 where only kAuto's rule asks (pure logic)
};

// The current GPU's limits (all fields); false, with no sticky CUDA error left behind, where it cannot be queried.
bool queryDevice(DeviceLimits* limits);

// Whether kPipelined supports p and fits the GPU.
bool pipelinedRunsOn(const DeformConvParams& p, Precision precision, const DeviceLimits& device);

// Which algorithm kAuto picks, given whether cuBLAS is usable and the GPU: kPipelined where it runs and either
// cuBLAS is unusable or a group has at most 64 output channels; else kSampledGemm where cuBLAS is usable; else
// kFused. Pure logic (no CUDA calls): the cpu tier tests it for GPUs the GPU machine is not.
Algorithm chooseAlgorithm(const DeformConvParams& p, Precision precision, Algorithm requested, bool blasUsable,
                          const DeviceLimits& device);

// Whether `algorithm` (not kAuto) can run p here: its shape rules, the GPU, cuBLAS for kSampledGemm.
bool algorithmRuns(const DeformConvParams& p, Precision precision, Algorithm algorithm, bool blasUsable,
                   const DeviceLimits& device);

// Tactics (IPluginV3: TensorRT's builder times each and keeps the fastest). A tactic is an algorithm and, for
// kSampledGemm, a GEMM variant (blas.hpp: 0 cuBLAS's own choice, v >= 1 cuBLASLt's candidate #v):
//   tactic = 16 * algorithm + variant, so never 0 (TensorRT's default, here kAuto).
struct Tactic {
  Algorithm algorithm = Algorithm::kAuto;
  int gemmVariant = 0;
};
int32_t encodeTactic(Tactic t);
// Whether `code` is 0 or a well-formed tactic; fills *t (kAuto for 0).
bool decodeTactic(int32_t code, Tactic* t);
// What the layer offers for p (pure logic given these facts): every GEMM variant of kSampledGemm where it runs
// (variants 1+ only with cuBLASLt) and kPipelined where it runs; nothing where fewer than two would be offered.
std::vector<int32_t> offeredTactics(const DeformConvParams& p, Precision precision, bool blasUsable, bool ltUsable,
                                    const DeviceLimits& device);

// Prepares (blas::Handle::prepare) GEMM variant `variant` for every GEMM launchSampled runs for p, with the
// workspace and output 256-byte aligned (as TensorRT allocates them). Host work: configure time, not enqueue.
// True when every GEMM of p has the variant (a GEMM without it runs cuBLAS's own choice).
bool prepareSampledGemms(const DeformConvParams& p, Precision precision, blas::Handle& blas, int variant);

// Runs the whole op on `stream`. mask may be null when !useMask, bias null when !hasBias. The workspace must hold
// workspaceBytes() (or the chosen algorithm's own bytes) and be 256-byte aligned. Returns nullptr once the work is
// enqueued (no synchronisation), else a static message saying what failed. gemmVariant: the sampled algorithm's
// GEMM variant (see Tactic; unprepared ones run as 0). autoWhereUnable: an algorithm that cannot run p gives way
// to kAuto's choice (a tactic timed at one shape of a dynamic range) instead of failing.
const char* launchDeformConv2d(const DeformConvParams& p, Precision precision, Algorithm algorithm,
                               const blas::Handle* blas, const void* input, const void* weight, const void* offset,
                               const void* mask, const void* bias, void* output, void* workspace, cudaStream_t stream,
                               int gemmVariant = 0, bool autoWhereUnable = false);

// The pipelined path alone (launchDeformConv2d dispatches to it; pipelinedPathSupports()).
const char* launchPipelined(const DeformConvParams& p, Precision precision, const DeviceLimits& device,
                            const void* input, const void* weight, const void* offset, const void* mask,
                            const void* bias, void* output, void* workspace, cudaStream_t stream);

// The sampled path alone (launchDeformConv2d dispatches to it).
const char* launchSampled(const DeformConvParams& p, Precision precision, const DeviceLimits& device,
                          const blas::Handle& blas, const void* input, const void* weight, const void* offset,
                          const void* mask, const void* bias, void* output, void* workspace, cudaStream_t stream,
                          int gemmVariant = 0);

}  // namespace dcn
}  // namespace trtkit
