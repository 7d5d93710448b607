// Host-side helpers the deform_conv2d launchers share (included by each algorithm's .cu; one copy per file).
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdint>

#include "deform_conv2d_kernels.hpp"
#include "trtkit/core/fast_divide.cuh"

namespace trtkit {
namespace dcn {
namespace {

inline int64_t roundUp(int64_t a, int64_t b) {
  return (a + b - 1) / b * b;
}

// Raises Kernel's dynamic shared-memory limit to `bytes` once per device (the attribute belongs to the function on
// the current device, so a process-wide flag would miss a second GPU). cudaFuncSetAttribute allocates on the
// host: the atomic per-device flags keep later enqueues allocation-free; racing first launches set the same value.
template <auto Kernel>
cudaError_t allowDynamicSharedMemory(int bytes) {
  constexpr int kMaxDevices = 64;
  static std::atomic<bool> raised[kMaxDevices];  // static storage: zero-initialized (false)
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  const bool cached = device >= 0 && device < kMaxDevices;
  if (cached && raised[device].load(std::memory_order_acquire)) return cudaSuccess;
  err = cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (err != cudaSuccess) return err;
  if (cached) raised[device].store(true, std::memory_order_release);
  return cudaSuccess;
}

// Programmatic dependent launch (sm_90+): the kernel that consumes the re-layout pass (prepare) is launched while
// prepare's last blocks still run; it does its input-independent part (offsets, mask, corners, barriers), then
// waits in waitForPreviousGrid(). Off on older GPUs and with the benchmark switch TRTKIT_DCN_PDL=0.
#ifndef TRTKIT_DCN_PDL
#define TRTKIT_DCN_PDL 1
#endif
// Whether launchAfterPrepare's launches overlap the previous grid on this GPU (callers that place work by it, too).
inline bool dependentLaunchRuns(const DeviceLimits& device) {
  return TRTKIT_DCN_PDL && device.computeMajor >= 9;
}

template <typename... Params, typename... Args>
cudaError_t launchAfterPrepare(const DeviceLimits& device, void (*kernel)(Params...), dim3 grid, dim3 block,
                               size_t smem, cudaStream_t stream, Args... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute dependent{};
  dependent.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  dependent.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = &dependent;
  config.numAttrs = dependentLaunchRuns(device) ? 1 : 0;
  return cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
}

// Where the fused and pipelined epilogues read bias[co]: the bias input (stride 1), or column kh*kw*Cin/g of
// GEMM-row weights (stride R, deform_conv2d_kernels.hpp); values is null where there is no bias.
template <typename T>
struct BiasSource {
  const T* values;
  int64_t stride;
};
template <typename T>
BiasSource<T> biasSourceOf(const DeformConvParams& p, const T* weight, const T* bias) {
  if (p.weightRowElems > 0) return {weight + p.kernelH * p.kernelW * (p.inChannels / p.groups), p.weightRowElems};
  return {p.hasBias ? bias : nullptr, 1};
}

// The sampling geometry the sampled and pipelined kernels' argument structs share (same field names).
template <typename Args>
void fillSamplingGeometry(Args& a, const DeformConvParams& p) {
  a.height = static_cast<int>(p.height);
  a.width = static_cast<int>(p.width);
  a.channels = static_cast<int>(p.inChannels);
  a.outH = static_cast<int>(p.outH);
  a.outW = static_cast<int>(p.outW);
  a.pixels = static_cast<int>(p.outH * p.outW);
  a.kernelW = static_cast<int>(p.kernelW);
  a.kk = static_cast<int>(p.kernelH * p.kernelW);
  a.strideH = p.strideH;
  a.strideW = p.strideW;
  a.padH = p.padH;
  a.padW = p.padW;
  a.dilationH = p.dilationH;
  a.dilationW = p.dilationW;
  a.offsetGroups = p.offsetGroups;
  a.cinOG = static_cast<int>(p.inChannels / p.offsetGroups);
  a.cinG = static_cast<int>(p.inChannels / p.groups);
  a.useMask = p.useMask ? 1 : 0;
}

}  // namespace
}  // namespace dcn
}  // namespace trtkit
