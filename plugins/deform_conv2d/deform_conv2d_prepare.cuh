// deform_conv2d: the two re-layout passes the sampled and the pipelined algorithms share, in one launch per chunk
// of images: the input NCHW -> NHWC (a bilinear corner becomes one contiguous run of channels: 16-byte loads)
// and, in the first chunk's launch, the weight [Cout][Cin/g][kh][kw] -> Wr[co][kgPad] with K ordered
// tap * Cin/g + c (a K slice of one tap is contiguous channels), then the bias column and zeros up to kgPad.
// Included by the .cu files that launch it (templates in an unnamed namespace: one copy per file).
#pragma once

#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

#include "deform_conv2d_kernels.hpp"
#include "deform_conv2d_launch.cuh"
#include "trtkit/core/device_convert.cuh"

namespace trtkit {
namespace dcn {
namespace {

// ---- 1. NCHW -> NHWC, one image per grid.z --------------------------------------------------------------------
// 64 x 64 tiles through shared memory; where H*W and C are even, each thread moves element pairs (half2 /
// float2), so a warp reads and writes 128-256 contiguous bytes with half the memory instructions.
template <typename T>
struct alignas(2 * sizeof(T)) Pair {
  T a, b;
};

constexpr int kTransposeTile = 64;
#ifndef TRTKIT_DCN_VECTOR_TRANSPOSE
#define TRTKIT_DCN_VECTOR_TRANSPOSE 1  // benchmark switch: 0 keeps the element-pair transpose
#endif
constexpr bool kVectorTranspose = TRTKIT_DCN_VECTOR_TRANSPOSE != 0;

// One 64 x 64 tile (channels x pixels) of image bz; the block's 32 x 8 threads; tile[64][65] in shared memory.
template <typename T, bool kPairs>
__device__ void transposeTile(const T* __restrict__ x, T* __restrict__ xs, int channels, int hw, int bx, int by, int bz,
                              T (*tile)[kTransposeTile + 1]) {
  constexpr int kT = kTransposeTile;
  const int64_t img = static_cast<int64_t>(bz) * channels * hw;
  const int hw0 = bx * kT, c0 = by * kT;
  for (int r = threadIdx.y; r < kT; r += blockDim.y) {
    const int c = c0 + r;
    if (c >= channels) continue;
    if (kPairs) {
      const int i = hw0 + 2 * threadIdx.x;
      if (i < hw) {  // hw is even, so i + 1 < hw too
        const Pair<T> v = *reinterpret_cast<const Pair<T>*>(x + img + static_cast<int64_t>(c) * hw + i);
        tile[r][2 * threadIdx.x] = v.a;
        tile[r][2 * threadIdx.x + 1] = v.b;
      }
    } else {
      for (int j = threadIdx.x; j < kT; j += 32)
        if (hw0 + j < hw) tile[r][j] = x[img + static_cast<int64_t>(c) * hw + hw0 + j];
    }
  }
  __syncthreads();
  for (int r = threadIdx.y; r < kT; r += blockDim.y) {
    const int i = hw0 + r;
    if (i >= hw) continue;
    if (kPairs) {
      const int c = c0 + 2 * threadIdx.x;
      if (c < channels)
        *reinterpret_cast<Pair<T>*>(xs + img + static_cast<int64_t>(i) * channels + c) =
            Pair<T>{tile[2 * threadIdx.x][r], tile[2 * threadIdx.x + 1][r]};
    } else {
      for (int j = threadIdx.x; j < kT; j += 32)
        if (c0 + j < channels) xs[img + static_cast<int64_t>(i) * channels + c0 + j] = tile[j][r];
    }
  }
}

// The same tile for fp16 where channels and H*W are multiples of 8 and both pointers 16-byte aligned: 16-byte loads
// (8 pixels of a channel) and stores (8 channels of a pixel), a quarter of the memory instructions of pairs. The
// tile's 128-byte rows hold their 16-byte chunks XOR-swizzled by (row / 8) % 8, so that the second phase's 32-bit
// reads (two pixels of one channel, eight channels per lane) hit 32 different banks.
__device__ __forceinline__ int vecTileOffset(int row, int chunk) {  // in bytes, tile of 64 rows x 128 bytes
  return row * 128 + ((chunk ^ ((row >> 3) & 7)) << 4);
}
__device__ void transposeTileVec(const __half* __restrict__ x, __half* __restrict__ xs, int channels, int hw, int bx,
                                 int by, int bz, unsigned char* tile) {
  constexpr int kT = kTransposeTile;
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;  // 256 threads
  const int64_t img = static_cast<int64_t>(bz) * channels * hw;
  const int hw0 = bx * kT, c0 = by * kT;
#pragma unroll
  for (int k = 0; k < 2; ++k) {  // 64 channels x 8 chunks of 8 pixels
    const int v = tid + 256 * k, c = v >> 3, chunk = v & 7;
    if (c0 + c < channels && hw0 + 8 * chunk < hw)
      *reinterpret_cast<uint4*>(tile + vecTileOffset(c, chunk)) =
          *reinterpret_cast<const uint4*>(x + img + static_cast<int64_t>(c0 + c) * hw + hw0 + 8 * chunk);
  }
  __syncthreads();
  // Lane: channel group cv (8 channels) of pixels p, p + 1; a warp writes 8 pixels x 128 bytes.
  const int cv = tid & 7, p = 2 * (tid >> 3);
  if (c0 + 8 * cv >= channels) return;
  uint32_t pairs[8];  // channel cv*8 + i: pixels (p, p + 1)
#pragma unroll
  for (int i = 0; i < 8; ++i)
    pairs[i] = *reinterpret_cast<const uint32_t*>(tile + vecTileOffset(8 * cv + i, p >> 3) + 2 * (p & 7));
  uint4 lo, hi;  // pixel p: the low halves, pixel p + 1: the high halves
  lo.x = __byte_perm(pairs[0], pairs[1], 0x5410);
  lo.y = __byte_perm(pairs[2], pairs[3], 0x5410);
  lo.z = __byte_perm(pairs[4], pairs[5], 0x5410);
  lo.w = __byte_perm(pairs[6], pairs[7], 0x5410);
  hi.x = __byte_perm(pairs[0], pairs[1], 0x7632);
  hi.y = __byte_perm(pairs[2], pairs[3], 0x7632);
  hi.z = __byte_perm(pairs[4], pairs[5], 0x7632);
  hi.w = __byte_perm(pairs[6], pairs[7], 0x7632);
  __half* dst = xs + img + static_cast<int64_t>(hw0 + p) * channels + c0 + 8 * cv;
  if (hw0 + p < hw) *reinterpret_cast<uint4*>(dst) = lo;
  if (hw0 + p + 1 < hw) *reinterpret_cast<uint4*>(dst + channels) = hi;
}

// ---- weight [Cout][Cin/g][kh][kw] + bias -> Wr[g][co][kgPad] ---------------------------------------------------
// Threads walk the source in order (coalesced reads); the scattered 2-4 byte writes merge in L2. Then the bias
// column and the zero padding after it.
template <typename T>
__global__ void relayoutWeightForGemm(const T* __restrict__ w, const T* __restrict__ bias, T* __restrict__ wr,
                                      int64_t outChannels, int cinG, int kk, int kgPad) {
  const int taps = kk * cinG, pad = kgPad - taps;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  for (int64_t i = first; i < outChannels * taps; i += stride) {
    const int64_t co = i / taps;
    const int r = static_cast<int>(i - co * taps), c = r / kk, tap = r - c * kk;  // source [co][c][tap]
    wr[co * kgPad + tap * cinG + c] = w[i];
  }
  for (int64_t i = first; i < outChannels * pad; i += stride) {
    const int64_t co = i / pad;
    const int k = static_cast<int>(i - co * pad);
    wr[co * kgPad + taps + k] = k == 0 && bias != nullptr ? bias[co] : fromFloat<T>(0.f);
  }
}

// The same through shared memory, one output channel per block: its [Cin/g][kh*kw] source row is read whole
// (16-byte loads where aligned), then written as kh*kw runs of Cin/g contiguous channels, the bias column and the
// zeros after it. Used where the row fits kMaxRelayoutRowBytes. (Blocks of 64 channels x kh*kw were measured to
// make the merged launch several waves of tiny blocks: 17.7 us at N4 C512, 4096 blocks.)
constexpr int kMaxRelayoutRowBytes = 32 << 10;
template <typename T>
__device__ void relayoutWeightRow(const T* __restrict__ w, const T* __restrict__ bias, T* __restrict__ wr, int cinG,
                                  int kk, int kgPad, int64_t co, bool vectors, T* row) {
  const int tid = threadIdx.y * blockDim.x + threadIdx.x, threads = blockDim.x * blockDim.y;
  const int taps = cinG * kk;
  const T* src = w + co * taps;
  if (vectors) {  // the row starts 16-byte aligned and is a whole number of 16-byte vectors
    for (int i = tid; i < taps * static_cast<int>(sizeof(T)) / 16; i += threads)
      reinterpret_cast<uint4*>(row)[i] = __ldg(reinterpret_cast<const uint4*>(src) + i);
  } else {
    for (int i = tid; i < taps; i += threads) row[i] = src[i];
  }
  __syncthreads();
  T* dst = wr + co * kgPad;
  for (int i = tid; i < taps; i += threads) {
    const int tap = i / cinG, c = i - tap * cinG;
    dst[i] = row[c * kk + tap];
  }
  for (int k = taps + tid; k < kgPad; k += threads)
    dst[k] = k == taps && bias != nullptr ? bias[co] : fromFloat<T>(0.f);
}

// The chunk's NHWC transpose and (first chunk) the weight relayout in one launch: one fewer kernel boundary on
// the critical path. Blocks [0, relayoutBlocks) re-lay weight rows (first, so that no long block is the tail),
// the rest transpose.
struct PrepareArgs {
  int channels, hw, hwTiles, cTiles, relayoutBlocks;
  int cinG, kk, kgPad;
  bool vectorRows;
};

// Device side of the dependent launch (deform_conv2d_launch.cuh): a kernel lets the next one start once all its
// blocks run (prepare, and the sampler for the relayout behind it); the next waits for the previous grid's
// completion (and memory) before reading what it wrote, or, for the relayout, before completing.
__device__ __forceinline__ void allowDependentLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void waitForPreviousGrid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// kLayout: 0 elements, 1 pairs, 2 16-byte vectors (fp16 only).
template <typename T, int kLayout>
__global__ void __launch_bounds__(256)
    prepareChunk(const T* __restrict__ x, T* __restrict__ xs, const T* __restrict__ w, const T* __restrict__ bias,
                 T* __restrict__ wr, PrepareArgs a) {
  extern __shared__ __align__(16) unsigned char prepareBytes[];
  allowDependentLaunch();
  if (static_cast<int>(blockIdx.x) < a.relayoutBlocks) {
    relayoutWeightRow<T>(w, bias, wr, a.cinG, a.kk, a.kgPad, blockIdx.x, a.vectorRows,
                         reinterpret_cast<T*>(prepareBytes));
    return;
  }
  const int b = blockIdx.x - a.relayoutBlocks;
  const int bx = b % a.hwTiles, r = b / a.hwTiles;
  if constexpr (kLayout == 2 && sizeof(T) == 2) {
    transposeTileVec(x, xs, a.channels, a.hw, bx, r % a.cTiles, r / a.cTiles, prepareBytes);
  } else {
    transposeTile<T, kLayout == 1>(x, xs, a.channels, a.hw, bx, r % a.cTiles, r / a.cTiles,
                                   reinterpret_cast<T(*)[kTransposeTile + 1]>(prepareBytes));
  }
}

// The weight relayout as a launch of its own behind the sampler (sampled algorithm, programmatic dependent launch):
// the sampler lets it start once all of its blocks run, so the relayout fills the SMs the sampler's last wave
// leaves idle instead of lengthening the prepare pass that the sampler waits for. Each block then waits for the
// sampler (griddepcontrol.wait: completion and memory), so this grid's completion, which the GEMM after it in the
// stream waits for, implies the sampler's.
template <typename T>
__global__ void __launch_bounds__(256) relayoutWeightBehindSampler(const T* __restrict__ w, const T* __restrict__ bias,
                                                                   T* __restrict__ wr, PrepareArgs a) {
  extern __shared__ __align__(16) unsigned char relayoutBytes[];
  relayoutWeightRow<T>(w, bias, wr, a.cinG, a.kk, a.kgPad, blockIdx.x, a.vectorRows,
                       reinterpret_cast<T*>(relayoutBytes));
  waitForPreviousGrid();
}

// The weight-row part of PrepareArgs (relayoutBlocks = one block per output channel) and the bytes of one row
// [Cin/g][kh][kw], which rows through shared memory need (else relayoutWeightForGemm, element-wise).
struct WeightRows {
  PrepareArgs args;
  int64_t rowBytes;
  bool fitShared() const { return rowBytes <= kMaxRelayoutRowBytes; }
};
inline WeightRows weightRowsOf(const DeformConvParams& p, const void* w, size_t elem, int64_t kgPad) {
  WeightRows r{};
  const int64_t cinG = p.inChannels / p.groups, kk = p.kernelH * p.kernelW;
  r.rowBytes = cinG * kk * static_cast<int64_t>(elem);
  r.args.relayoutBlocks = static_cast<int>(p.outChannels);
  r.args.cinG = static_cast<int>(cinG);
  r.args.kk = static_cast<int>(kk);
  r.args.kgPad = static_cast<int>(kgPad);
  r.args.vectorRows = reinterpret_cast<uintptr_t>(w) % 16 == 0 && r.rowBytes % 16 == 0;
  return r;
}

// Enqueues relayoutWeightBehindSampler as a dependent of the kernel enqueued just before it (rows must fit shared
// memory).
template <typename T>
const char* enqueueWeightRelayoutBehind(const DeviceLimits& device, const DeformConvParams& p, const T* w,
                                        const T* bias, T* wr, int64_t kgPad, cudaStream_t stream) {
  const WeightRows rows = weightRowsOf(p, w, sizeof(T), kgPad);
  if (launchAfterPrepare(device, relayoutWeightBehindSampler<T>, dim3(static_cast<unsigned>(p.outChannels)),
                         dim3(32, 8), static_cast<size_t>(rows.rowBytes), stream, w, bias, wr,
                         rows.args) != cudaSuccess)
    return cudaGetErrorString(cudaGetLastError());
  return nullptr;
}

// Enqueues the NHWC transpose of the nc images at x (a chunk's first image) into xs and, if withWeight, the
// weight relayout into wr (row stride kgPad; bias column at kk*cinG when bias is not null and kgPad leaves room).
template <typename T>
const char* enqueuePrepare(const DeformConvParams& p, const T* x, T* xs, int64_t nc, bool withWeight, const T* w,
                           const T* bias, T* wr, int64_t kgPad, cudaStream_t stream) {
  const WeightRows rows = weightRowsOf(p, w, sizeof(T), kgPad);
  if (withWeight && !rows.fitShared()) {
    const int64_t wrElems = p.outChannels * kgPad;
    relayoutWeightForGemm<T><<<static_cast<int>(std::min<int64_t>((wrElems + 255) / 256, 8192)), 256, 0, stream>>>(
        w, bias, wr, p.outChannels, rows.args.cinG, rows.args.kk, rows.args.kgPad);
    if (cudaPeekAtLastError() != cudaSuccess) return cudaGetErrorString(cudaGetLastError());
  }
  const int64_t hw = p.height * p.width, hwTiles = (hw + kTransposeTile - 1) / kTransposeTile;
  const int64_t cTiles = (p.inChannels + kTransposeTile - 1) / kTransposeTile;
  const int64_t transposeBlocks = hwTiles * cTiles * nc;
  const int64_t relayoutBlocks = withWeight && rows.fitShared() ? p.outChannels : 0;
  if (transposeBlocks + relayoutBlocks > 0x7fffffff) return "input too large for one re-layout launch";
  PrepareArgs pa = rows.args;
  pa.channels = static_cast<int>(p.inChannels);
  pa.hw = static_cast<int>(hw);
  pa.hwTiles = static_cast<int>(hwTiles);
  pa.cTiles = static_cast<int>(cTiles);
  pa.relayoutBlocks = static_cast<int>(relayoutBlocks);
  const size_t smem = std::max<size_t>(sizeof(T) * kTransposeTile * (kTransposeTile + 1),
                                       relayoutBlocks > 0 ? static_cast<size_t>(rows.rowBytes) : 0);
  // Element pairs or 16-byte vectors only where the pointers are aligned for them (an input may be a view at any
  // element offset).
  const uintptr_t both = reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(xs);
  auto prepare =
      hw % 2 == 0 && p.inChannels % 2 == 0 && both % (2 * sizeof(T)) == 0 ? prepareChunk<T, 1> : prepareChunk<T, 0>;
  // (16-byte vectors for fp32 as well, 4 x 4 blocks per thread, were measured slower: 27 -> 37 us at N8 C256.)
  if constexpr (sizeof(T) == 2) {
    if (kVectorTranspose && both % 16 == 0 && hw % 8 == 0 && p.inChannels % 8 == 0) prepare = prepareChunk<T, 2>;
  }
  prepare<<<static_cast<unsigned>(transposeBlocks + relayoutBlocks), dim3(32, 8), smem, stream>>>(x, xs, w, bias, wr,
                                                                                                  pa);
  if (cudaPeekAtLastError() != cudaSuccess) return cudaGetErrorString(cudaGetLastError());
  return nullptr;
}

}  // namespace
}  // namespace dcn
}  // namespace trtkit
