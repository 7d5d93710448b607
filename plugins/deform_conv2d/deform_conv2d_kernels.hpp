// deform_conv2d kernels: a TensorRT-free, core-free launcher (the Layer in deform_conv2d.cpp and the
// standalone test shim in bench/ both call it). Semantics are torchvision.ops.deform_conv2d's.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

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
};

enum class Precision : int32_t {
  kFloat32Strict = 0,  // fp32 tensors, FFMA only (IEEE fp32 products and sums)
  kFloat32TF32 = 1,    // fp32 tensors, TF32 tensor-core products, fp32 accumulation (opt-in)
  kFloat16 = 2,        // fp16 tensors, fp16 tensor-core products, fp32 accumulation
};

// Returns an empty string when the parameters are consistent, else what is wrong (shapes, groups...).
const char* checkParams(const DeformConvParams& p);

// Scratch bytes for one launch: the input re-laid as NHWC (channels padded per run of channels that share
// a group and an offset group) plus the weight re-laid as [groups][kh*kw][Cin/groups][Cout/groups padded].
//   unit  = gcd(Cin/groups, Cin/offsetGroups), unitPad = roundUp(unit, V), V = 16 bytes / element size
//   bytes = align256(N*H*W*(Cin/unit)*unitPad*e) + align256(groups*kh*kw*(Cin/groups)*roundUp(Cout/groups, V)*e)
size_t workspaceBytes(const DeformConvParams& p, Precision precision);

// Runs the whole op on `stream`. mask may be null when !useMask, bias null when !hasBias. Returns the launch
// error, if any (no synchronisation). The workspace must hold workspaceBytes() and be 256-byte aligned.
cudaError_t launchDeformConv2d(const DeformConvParams& p, Precision precision, const void* input, const void* weight,
                               const void* offset, const void* mask, const void* bias, void* output, void* workspace,
                               cudaStream_t stream);

}  // namespace dcn
}  // namespace trtkit
