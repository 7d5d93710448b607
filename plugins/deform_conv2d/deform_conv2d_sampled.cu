// deform_conv2d as "sample, then one GEMM per weight group" (the path used where cuBLAS loads).
//
// Per chunk of images (bounded workspace, formula in deform_conv2d_kernels.hpp):
//   1. prepareChunk: x[n][C][H][W] -> xs[n][H][W][C], so a bilinear corner is one contiguous run of channels
//      (16-byte loads); in the first chunk's launch also the weight relayout (below).
//   2. sampleColumns: cols[n][p][g][tap][c] = mask * bilinear(xs, p, tap, c), then per weight group a "bias
//      column" (1, 0, ..., 0) padding the group's K to 32 or 128 bytes. A block owns an 8x4 rectangle of output
//      pixels, every tap of them and one channel slice, so the neighbourhoods it reads overlap in L1. It first
//      computes each (pixel, tap, offset group)'s four corner indices and weights (mask folded in) once into
//      shared memory; then lanes stream 16-byte channel vectors: 4 loads, a blend, one store.
//   3. cuBLAS: out[n][g*Cout/g + co][p] = sum_k Wr[g][co][k] * cols[n][p][g][k], one strided-batched GEMM over
//      the chunk's images per weight group, fp32 sums; the bias rides in the GEMM as Wr's extra column.
// The weight is re-laid once per call: Wr[g][co][tap*Cin/g + c], Wr[g][co][kk*Cin/g] = bias[co], zeros after;
// where it comes as GEMM rows (DeformConvParams::weightRowElems, what trtkit.export writes), it is Wr already.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "deform_conv2d_kernels.hpp"
#include "deform_conv2d_launch.cuh"
#include "deform_conv2d_prepare.cuh"
#include "trtkit/core/device_convert.cuh"

namespace trtkit {
namespace dcn {
namespace {

constexpr int64_t kAlign = 256;
constexpr int kSampleThreads = 256;
#ifndef TRTKIT_DCN_COLS_STREAMING
#define TRTKIT_DCN_COLS_STREAMING 1  // benchmark switch: fp32 column stores marked evict-first (st.global.cs)
#endif
constexpr bool kStreamingColumns = TRTKIT_DCN_COLS_STREAMING != 0;
constexpr int kMaxEntriesPerBlock = 1024;  // (pixel, tap, offset group) entries per tile: 32 KB of shared memory
#ifndef TRTKIT_DCN_K_ALIGN_BYTES
#define TRTKIT_DCN_K_ALIGN_BYTES 0  // benchmark switch: a fixed row alignment instead of the measured choice
#endif
#ifndef TRTKIT_DCN_SAMPLE_MIN_BLOCKS
#define TRTKIT_DCN_SAMPLE_MIN_BLOCKS 6  // benchmark switch: sampler blocks per SM the register budget must allow
#endif
#ifndef TRTKIT_DCN_F32_LANE_SHIFT
#define TRTKIT_DCN_F32_LANE_SHIFT 4  // benchmark switch: log2 of the lanes per item for fp32 (16: measured best)
#endif
#ifndef TRTKIT_DCN_F16_LANE_SHIFT
#define TRTKIT_DCN_F16_LANE_SHIFT 3  // benchmark switch: log2 of the lanes per item for fp16 (8: 16 measured slower)
#endif
constexpr int64_t kKAlignBytes = TRTKIT_DCN_K_ALIGN_BYTES;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
constexpr int kSampleMinBlocks = 4;  // sm_75 runs at most 1024 threads per SM
#else
constexpr int kSampleMinBlocks = TRTKIT_DCN_SAMPLE_MIN_BLOCKS;
#endif
// Lanes per (pixel, tap) item, log2: a block's channel slice is 8 x 16 bytes (fp16) or 16 x 16 bytes (fp32).
template <typename T>
constexpr int kMaxLaneShift = sizeof(T) == 4 ? TRTKIT_DCN_F32_LANE_SHIFT : TRTKIT_DCN_F16_LANE_SHIFT;

template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// ---- 2. sampling ---------------------------------------------------------------------------------------------
struct SampleArgs {
  int height, width, channels, outH, outW, pixels;  // pixels = Ho*Wo
  int kernelW, kk, strideH, strideW, padH, padW, dilationH, dilationW;
  int offsetGroups, cinOG, cinG, groups, kgPad, kTot;
  FastDivisor kkDivisor, kernelWDivisor;  // phase 1 splits (og, tap) and (ki, kj) without integer divisions
  int tileWShift, tileHShift, tilesX;     // a block's pixels: a (1 << tileHShift) x (1 << tileWShift) rectangle
  int laneShift;                          // lanes per (pixel, tap) item = 1 << laneShift: one channel slice
  int ogSpan;                             // most offset groups one slice's channels touch
  int useMask;
};

// Why rectangles and channel slices: the bilinear corners are read from L2 unless L1 still holds them. A block's
// footprint is (tile + kernel extent + offsets) pixels x slice bytes; 8x4 pixels x 128 bytes stays ~10-25 KB, so
// the blocks resident on an SM keep theirs in L1 and the 36 corner reads per input pixel (3x3 taps x 4 corners)
// mostly hit there. The same kernel over whole 32-pixel rows and all channels ran at L2 bandwidth.
//
// Entries (corner indices and weights) exist only for the offset groups of the block's slice, indexed
// (tap * tile + pixel) * ogSpan + (og - first og of the slice).
// kDeep: the variant for grids of at most one wave at kDeepMinBlocks per SM (one 64x64 image): occupancy is
// low there anyway, so each lane may use more registers and keep more items' corner loads in flight.
#ifndef TRTKIT_DCN_SMALL_TILES
#define TRTKIT_DCN_SMALL_TILES 1  // benchmark switch: 0 keeps 32-pixel tiles where the grid is under two waves
#endif
#ifndef TRTKIT_DCN_RELAYOUT_BEHIND
#define TRTKIT_DCN_RELAYOUT_BEHIND 1  // benchmark switch: 0 re-lays the weight inside the prepare pass
#endif
#ifndef TRTKIT_DCN_SAMPLE_DEEP
#define TRTKIT_DCN_SAMPLE_DEEP 1  // benchmark switch: 0 runs the default variant for small grids too
#endif
constexpr int kDeepMinBlocks = 4;
// fp16 runs a leaner variant of both phases: phase 1 without integer divisions, with the corners as byte offsets of
// their channel rows and the weights as half2 pairs (computed once per entry instead of by each of 8 lanes), phase 2
// with the pixel (and its bounds check) per pixel instead of per item, at 48 registers (5 blocks per SM). Measured
// on the H100 (notes, session 9): the fp16 sampler 12-17 % faster at every benchmark shape. The first half of it
// (same registers as before) made the fp32 sampler 2-20 % slower (capped at 40 registers for 6 blocks per SM),
// so fp32 keeps the plain variant, with the corners as byte offsets only (session 14, kSampleBlocksPerSM).
#ifndef TRTKIT_DCN_FP16_LEAN_SAMPLER
#define TRTKIT_DCN_FP16_LEAN_SAMPLER 1  // benchmark switch: 0 runs the plain variant for fp16 too
#endif
#ifndef TRTKIT_DCN_LEAN_BYTE_OFFSETS
#define TRTKIT_DCN_LEAN_BYTE_OFFSETS 1  // benchmark switch: 0 keeps lean corners as pixel indices
#endif
#ifndef TRTKIT_DCN_F32_BYTE_OFFSETS
#define TRTKIT_DCN_F32_BYTE_OFFSETS 1  // benchmark switch: 0 keeps fp32 corners as pixel indices (6 blocks/SM)
#endif
#ifndef TRTKIT_DCN_F16_MIN_BLOCKS
#define TRTKIT_DCN_F16_MIN_BLOCKS 5  // benchmark switch: fp16 sampler blocks per SM the register budget must allow
#endif
#ifndef TRTKIT_DCN_F32_MIN_BLOCKS
#define TRTKIT_DCN_F32_MIN_BLOCKS 5  // benchmark switch: fp32 sampler blocks per SM the register budget must allow
#endif
// Blocks per SM the register budget must allow: the lean fp16 variant needs 48 registers (5 blocks) for its
// byte-offset corners without spills (at 40 registers ptxas spilled 20 bytes; 4 blocks measured no faster). So does
// fp32 with byte-offset corners (at 40 registers it spilled 8 bytes in the item loop); measured on the H100 against
// pixel indices at 6 blocks (notes, session 14): the fp32 sampler 4-11 % faster (N8 C256 140.8 -> 132.1 µs).
template <typename T>
constexpr int kSampleBlocksPerSM =
    TRTKIT_DCN_FP16_LEAN_SAMPLER && std::is_same_v<T, __half> ? std::min(kSampleMinBlocks, TRTKIT_DCN_F16_MIN_BLOCKS)
    : sizeof(T) == 4 && TRTKIT_DCN_F32_BYTE_OFFSETS           ? std::min(kSampleMinBlocks, TRTKIT_DCN_F32_MIN_BLOCKS)
                                                              : kSampleMinBlocks;

// torchvision's rule: zero unless -1 < y < H and -1 < x < W; then each corner counts only inside the image.
// c: the corners' pixel indices (-1 outside), wt: their weights with the mask m folded in.
__device__ __forceinline__ void bilinearCorners(float y, float x, float m, int height, int width, int4& c, float4& wt) {
  if (y <= -1.f || y >= static_cast<float>(height) || x <= -1.f || x >= static_cast<float>(width)) return;
  const float yf = floorf(y), xf = floorf(x);
  const int yl = static_cast<int>(yf), xl = static_cast<int>(xf), yh = yl + 1, xh = xl + 1;
  const float ly = y - yf, lx = x - xf, hy = 1.f - ly, hx = 1.f - lx;
  if (yl >= 0 && xl >= 0) {
    c.x = yl * width + xl;
    wt.x = hy * hx * m;
  }
  if (yl >= 0 && xh < width) {
    c.y = yl * width + xh;
    wt.y = hy * lx * m;
  }
  if (yh < height && xl >= 0) {
    c.z = yh * width + xl;
    wt.z = ly * hx * m;
  }
  if (yh < height && xh < width) {
    c.w = yh * width + xh;
    wt.w = ly * lx * m;
  }
}

// fp16 weights travel through shared memory as the half2 pair (w, w) in a float's bits.
__device__ __forceinline__ float halfWeight(float w) {
  const __half2 h = __float2half2_rn(w);
  return __uint_as_float(*reinterpret_cast<const uint32_t*>(&h));
}
__device__ __forceinline__ float4 halfWeights(float4 w) {
  return make_float4(halfWeight(w.x), halfWeight(w.y), halfWeight(w.z), halfWeight(w.w));
}
__device__ __forceinline__ __half2 asHalf2(float bits) {
  const uint32_t u = __float_as_uint(bits);
  return *reinterpret_cast<const __half2*>(&u);
}
template <typename T, int V, bool kDeep>
__global__ void __launch_bounds__(kSampleThreads, kDeep ? kDeepMinBlocks : kSampleBlocksPerSM<T>)
    sampleColumns(const T* __restrict__ xs, const T* __restrict__ offset, const T* __restrict__ mask,
                  T* __restrict__ cols, SampleArgs a, int64_t firstImage) {
  extern __shared__ int4 smem[];
  allowDependentLaunch();  // the weight relayout behind this grid may start once all of its blocks run
  const int tileShift = a.tileWShift + a.tileHShift, tile = 1 << tileShift;
  const int nl = blockIdx.z, slice = blockIdx.y;
  const int sliceChannels = V << a.laneShift;
  const int ogFirst = slice * sliceChannels / a.cinOG;
  const int ogCount = min(a.offsetGroups - 1, ((slice + 1) * sliceChannels - 1) / a.cinOG) - ogFirst + 1;
  int4* corners = smem;
  float4* weights = reinterpret_cast<float4*>(smem + tile * a.kk * a.ogSpan);
  const int64_t n = firstImage + nl;
  const int tileY = blockIdx.x / a.tilesX, tileX = blockIdx.x - tileY * a.tilesX;
  const int ho0 = tileY << a.tileHShift, wo0 = tileX << a.tileWShift;
  // pixel index of tile slot pl, or -1 past the output's edge
  auto pixelOf = [&](int pl) {
    const int ho = ho0 + (pl >> a.tileWShift), wo = wo0 + (pl & ((1 << a.tileWShift) - 1));
    return ho < a.outH && wo < a.outW ? ho * a.outW + wo : -1;
  };

  // Phase 1: corner indices (pixel index in the image, -1 outside) and weights (mask folded in), once per entry.
  // The lean variant stores the blend's operands instead: byte offsets of the corners' channel rows (< 2^31:
  // checkParams bounds an image to 2^31 / 9 elements, so 4-byte elements stay under 2^31 bytes too) and fp16
  // weights as half2 pairs; fp32 stores byte offsets as well (no 64-bit index arithmetic per corner).
  constexpr bool kLean = TRTKIT_DCN_FP16_LEAN_SAMPLER && std::is_same_v<T, __half>;
  constexpr bool kHalfBlend = std::is_same_v<T, __half> && V % 2 == 0;
  constexpr bool kHalfWeights = kLean && kHalfBlend;
  constexpr bool kByteOffsets =
      (kLean && TRTKIT_DCN_LEAN_BYTE_OFFSETS) || (sizeof(T) == 4 && TRTKIT_DCN_F32_BYTE_OFFSETS);
  auto toByteOffsets = [&](int4 c) {  // pixel indices -> byte offsets of their channel rows (-1 stays)
    const int rowBytes = a.channels * static_cast<int>(sizeof(T));
    return make_int4(c.x < 0 ? -1 : c.x * rowBytes, c.y < 0 ? -1 : c.y * rowBytes, c.z < 0 ? -1 : c.z * rowBytes,
                     c.w < 0 ? -1 : c.w * rowBytes);
  };
  // One entry: the corners and weights of (pixel p at ho, wo; offset group og; tap at ki, kj).
  auto entryOf = [&](int p, int ho, int wo, int og, int tap, int ki, int kj, int4& c, float4& wt) {
    const int64_t ob = ((n * a.offsetGroups + og) * 2 * a.kk + 2 * tap) * a.pixels + p;
    const float y = static_cast<float>(ho * a.strideH - a.padH + ki * a.dilationH) + toFloat(offset[ob]);
    const float x = static_cast<float>(wo * a.strideW - a.padW + kj * a.dilationW) + toFloat(offset[ob + a.pixels]);
    const float m = a.useMask ? toFloat(mask[((n * a.offsetGroups + og) * a.kk + tap) * a.pixels + p]) : 1.f;
    bilinearCorners(y, x, m, a.height, a.width, c, wt);
  };
  auto store = [&](int idx, int4 c, float4 wt) {
    corners[idx] = c;
    weights[idx] = kHalfWeights ? halfWeights(wt) : wt;
  };
  if constexpr (kLean) {
    // blockDim.x is a multiple of the tile, so a thread's tile slot (and pixel) is the same in every round; the
    // (offset group, tap) row advances by a constant step.
    const int pl = threadIdx.x & (tile - 1);
    const int ho = ho0 + (pl >> a.tileWShift), wo = wo0 + (pl & ((1 << a.tileWShift) - 1));
    const bool pixelInside = ho < a.outH && wo < a.outW;
    const int p = ho * a.outW + wo;
    const int rows = a.kk * ogCount, step = blockDim.x >> tileShift;
    for (int r = threadIdx.x >> tileShift; r < rows; r += step) {
      const int ogl = static_cast<int>(a.kkDivisor.divide(r)), tap = r - ogl * a.kk;
      int4 c = make_int4(-1, -1, -1, -1);
      float4 wt = make_float4(0.f, 0.f, 0.f, 0.f);
      if (pixelInside) {
        const int og = ogFirst + ogl;
        const int ki = static_cast<int>(a.kernelWDivisor.divide(tap)), kj = tap - ki * a.kernelW;
        entryOf(p, ho, wo, og, tap, ki, kj, c, wt);
        if constexpr (kByteOffsets) c = toByteOffsets(c);
      }
      store((tap * tile + pl) * a.ogSpan + ogl, c, wt);
    }
  } else {
    const int entries = tile * a.kk * ogCount;
    for (int en = threadIdx.x; en < entries; en += blockDim.x) {
      const int pl = en & (tile - 1), r = en >> tileShift;
      const int tap = r % a.kk, og = ogFirst + r / a.kk;
      const int p = pixelOf(pl);
      int4 c = make_int4(-1, -1, -1, -1);
      float4 wt = make_float4(0.f, 0.f, 0.f, 0.f);
      if (p >= 0) {
        const int ho = p / a.outW, wo = p - ho * a.outW;
        const int ki = tap / a.kernelW, kj = tap - ki * a.kernelW;
        entryOf(p, ho, wo, og, tap, ki, kj, c, wt);
        if constexpr (kByteOffsets) c = toByteOffsets(c);
      }
      store((tap * tile + pl) * a.ogSpan + (og - ogFirst), c, wt);
    }
  }
  __syncthreads();

  waitForPreviousGrid();  // phase 1 read only offsets and mask: it overlaps the re-layout pass's last blocks
  // Phase 2: each lane owns one channel vector of this block's slice; a warp covers 32 >> laneShift items at once.
  const T* img = xs + nl * static_cast<int64_t>(a.height) * a.width * a.channels;  // xs holds the chunk only
  T* colsImage = cols + static_cast<int64_t>(nl) * a.pixels * a.kTot;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const int itemsPerWarp = 32 >> a.laneShift;
  const int sub = lane >> a.laneShift;
  const int u = (slice << a.laneShift) + (lane & ((1 << a.laneShift) - 1));  // channel vector of this lane
  if (u < a.channels / V) {
    const int c0 = u * V, og = c0 / a.cinOG, g = c0 / a.cinG;
    const int dstChannel = c0 + g * (a.kgPad - a.cinG);  // g * kgPad + (c0 - g * cinG)
    const int ogInSlice = og - ogFirst;
    // The lane's channel vector of a corner: from its byte offset (lean fp16, fp32) or its pixel index.
    auto cornerRow = [&](int corner) {
      if constexpr (kByteOffsets)
        return reinterpret_cast<const Vec<T, V>*>(reinterpret_cast<const char*>(img + c0) +
                                                  static_cast<uint32_t>(corner));
      else
        return reinterpret_cast<const Vec<T, V>*>(img + static_cast<int64_t>(corner) * a.channels + c0);
    };
    // One item: the lane's channel vector of entry e's four corners, blended, stored at dst.
    auto blendStore = [&](int e, T* dst) {
      const int4 c = corners[e];
      const float4 wt = weights[e];
      const int idx[4] = {c.x, c.y, c.z, c.w};
      const float wq[4] = {wt.x, wt.y, wt.z, wt.w};
      Vec<T, V> out;
      if constexpr (kHalfBlend) {
        // fp16: the blend in half2 FMAs (4 per corner for 8 channels instead of 8 conversions + 8 FFMAs). This
        // kernel is issue-bound, and one more rounding of a 4-term convex combination costs little next to the
        // fp16 storage of the sample (relative errors in bench/results).
        __half2 acc[V / 2];
#pragma unroll
        for (int i = 0; i < V / 2; ++i) acc[i] = __float2half2_rn(0.f);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          if (idx[q] >= 0) {
            const Vec<T, V> s = *cornerRow(idx[q]);
            const __half2 w2 = kHalfWeights ? asHalf2(wq[q]) : __float2half2_rn(wq[q]);
            const __half2* h = reinterpret_cast<const __half2*>(s.v);
#pragma unroll
            for (int i = 0; i < V / 2; ++i) acc[i] = __hfma2(w2, h[i], acc[i]);
          }
        }
#pragma unroll
        for (int i = 0; i < V / 2; ++i) reinterpret_cast<__half2*>(out.v)[i] = acc[i];
      } else {
        float acc[V];
#pragma unroll
        for (int i = 0; i < V; ++i) acc[i] = 0.f;
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          if (idx[q] >= 0) {
            const Vec<T, V> s = *cornerRow(idx[q]);
#pragma unroll
            for (int i = 0; i < V; ++i) acc[i] = fmaf(wq[q], toFloat(s.v[i]), acc[i]);
          }
        }
#pragma unroll
        for (int i = 0; i < V; ++i) out.v[i] = fromFloat<T>(acc[i]);
      }
      if constexpr (kStreamingColumns && sizeof(T) == 4 && sizeof(Vec<T, V>) == 16) {
        // evict-first: the columns leave L2 to the corners (fp32 N8 sampler 155 -> 145 us; fp16 no gain)
        __stcs(reinterpret_cast<int4*>(dst), *reinterpret_cast<const int4*>(&out));
      } else {
        *reinterpret_cast<Vec<T, V>*>(dst) = out;
      }
    };
    if constexpr (kLean) {
      // The lane's items, pixel outer and tap inner, so that the pixel (and its bounds check) is computed once per
      // pixel rather than per item: sub-warp id covers slots id, id + S, ... (S = items a block covers at once) when
      // S < tile, else slot id % tile with taps id / tile, + S / tile, ... (the same items as item = id + S * i).
      const int id = warp * itemsPerWarp + sub, S = warps * itemsPerWarp;
      const int tapStep = S >= tile ? S >> tileShift : 1, plStep = S >= tile ? tile : S;
      for (int pl = id & (tile - 1); pl < tile; pl += plStep) {
        const int p = pixelOf(pl);
        if (p < 0) continue;
        int tap = S >= tile ? id >> tileShift : 0;
        int e = (tap * tile + pl) * a.ogSpan + ogInSlice;
        T* dst = colsImage + static_cast<int64_t>(p) * a.kTot + tap * a.cinG + dstChannel;
#pragma unroll(kDeep ? 4 : 2)
        for (; tap < a.kk; tap += tapStep) {
          blendStore(e, dst);
          e += tapStep * tile * a.ogSpan;
          dst += tapStep * a.cinG;
        }
      }
    } else {
      const int items = tile * a.kk;
#pragma unroll(kDeep ? 4 : 2)
      for (int item = warp * itemsPerWarp + sub; item < items; item += warps * itemsPerWarp) {
        const int pl = item & (tile - 1), tap = item >> tileShift;
        const int p = pixelOf(pl);
        if (p < 0) continue;
        blendStore(item * a.ogSpan + ogInSlice,
                   colsImage + static_cast<int64_t>(p) * a.kTot + tap * a.cinG + dstChannel);
      }
    }
  }

  // The bias column of each weight group (written by the first slice): 1 then zeros up to kgPad.
  if (slice != 0) return;
  const int padLen = a.kgPad - a.kk * a.cinG;
  for (int i = threadIdx.x; i < tile * a.groups * padLen; i += blockDim.x) {
    const int pl = i / (a.groups * padLen), r = i - pl * a.groups * padLen;
    const int g = r / padLen, k = r - g * padLen;
    const int p = pixelOf(pl);
    if (p >= 0)
      colsImage[static_cast<int64_t>(p) * a.kTot + g * a.kgPad + a.kk * a.cinG + k] = fromFloat<T>(k == 0 ? 1.f : 0.f);
  }
}

template <typename T, int V>
auto samplerKernel(bool deep) {
  return deep ? sampleColumns<T, V, true> : sampleColumns<T, V, false>;
}

// Sizes shared by the workspace formula and the launcher.
struct Layout {
  int64_t elem, cinG, coutG, cinOG, kk, kgPad, kTot, pixels;
  bool vectorized;
  int64_t weightBytes, xsPerImage, colsPerImage;
};

Layout layoutOf(const DeformConvParams& p, Precision prec) {
  Layout l{};
  l.elem = prec == Precision::kFloat16 ? 2 : 4;
  const int64_t vec = 16 / l.elem;
  l.cinG = p.inChannels / p.groups;
  l.coutG = p.outChannels / p.groups;
  l.cinOG = p.inChannels / p.offsetGroups;
  l.kk = p.kernelH * p.kernelW;
  // + the bias column. cuBLAS picks its kernels by leading dimension: 16-byte rows made the SGEMM 956 us at N8
  // C256 where 32-byte rows take 750 (bench/results/deform_conv2d_notes.md). Strict fp32 rows are 32-byte
  // aligned; fp16/TF32 rows 128-byte aligned where that adds at most 5 % to K, else 32-byte.
  const int64_t k = l.kk * l.cinG + 1;
  const int64_t alignBytes = kKAlignBytes > 0 ? kKAlignBytes : prec == Precision::kFloat32Strict ? 32 : 0;
  if (alignBytes > 0) {
    l.kgPad = roundUp(k, std::max<int64_t>(vec, alignBytes / l.elem));
  } else {
    l.kgPad = roundUp(k, 128 / l.elem);
    if ((l.kgPad - k) * 20 > k) l.kgPad = roundUp(k, 32 / l.elem);
  }
  if (p.weightRowElems > 0) l.kgPad = p.weightRowElems;  // GEMM rows: the GEMM's K is the weight's row
  l.kTot = p.groups * l.kgPad;
  l.pixels = p.outH * p.outW;
  l.vectorized = l.cinG % vec == 0 && l.cinOG % vec == 0;  // a 16-byte vector stays in one group of each kind
  l.weightBytes = p.weightRowElems > 0 ? 0 : roundUp(p.outChannels * l.kgPad * l.elem, kAlign);  // Wr
  l.xsPerImage = p.height * p.width * p.inChannels * l.elem;
  l.colsPerImage = l.pixels * l.kTot * l.elem;
  return l;
}

// The most images under kSampledChunkBytes (at least one), then balanced: 8 images with room for 6 run as 4 + 4,
// two GEMMs of one shape rather than 6 + 2.
int64_t chunkImages(const Layout& l, int64_t batch) {
  const int64_t perImage = l.xsPerImage + l.colsPerImage;
  const int64_t most =
      std::max<int64_t>(1, std::min<int64_t>(batch, static_cast<int64_t>(kSampledChunkBytes) / perImage));
  const int64_t chunks = (batch + most - 1) / most;
  return std::max<int64_t>(1, (batch + chunks - 1) / chunks);
}

// Workspace: [cuBLAS][Wr][xs chunk][cols chunk], each 256-byte aligned.
template <typename T>
struct Buffers {
  char* blasWs;
  T *wr, *xs, *cols;
  Buffers(const Layout& l, int64_t chunk, char* workspace) : blasWs(workspace) {
    wr = reinterpret_cast<T*>(blasWs + blas::kWorkspaceBytes);
    xs = reinterpret_cast<T*>(reinterpret_cast<char*>(wr) + l.weightBytes);
    cols = reinterpret_cast<T*>(reinterpret_cast<char*>(xs) + roundUp(chunk * l.xsPerImage, kAlign));
  }
};

// The GEMM of weight group g for the nc images from n0: out[n][g*coutG + co][p] = sum_k Wr[g][co][k] cols[n][p][g][k].
// Wr is the weight itself where it comes as GEMM rows (w), else its relayout in the workspace.
template <typename T>
blas::StridedBatchedGemm sampledGemm(const DeformConvParams& p, const Layout& l, const Buffers<T>& b, const T* w,
                                     T* out, int64_t n0, int64_t nc, int64_t g) {
  blas::StridedBatchedGemm gemm;
  gemm.transA = true;  // cols is [pixel][k]: column-major K x P, used transposed
  gemm.m = l.pixels;
  gemm.n = l.coutG;
  gemm.k = l.kgPad;
  gemm.a = b.cols + g * l.kgPad;
  gemm.lda = l.kTot;
  gemm.strideA = l.pixels * l.kTot;
  gemm.b = (p.weightRowElems > 0 ? w : b.wr) + g * l.coutG * l.kgPad;
  gemm.ldb = l.kgPad;
  gemm.strideB = 0;
  gemm.c = out + (n0 * p.outChannels + g * l.coutG) * l.pixels;
  gemm.ldc = l.pixels;
  gemm.strideC = p.outChannels * l.pixels;
  gemm.batch = nc;
  return gemm;
}

blas::Math mathOf(Precision prec) {
  return prec == Precision::kFloat16       ? blas::Math::kFloat16
         : prec == Precision::kFloat32TF32 ? blas::Math::kFloat32TF32
                                           : blas::Math::kFloat32Strict;
}

template <typename T>
bool prepareSampledGemmsTyped(const DeformConvParams& p, Precision prec, blas::Handle& blas, int variant) {
  const Layout l = layoutOf(p, prec);
  const int64_t chunk = chunkImages(l, p.batch);
  // Only the alignment of these addresses matters to a prepared variant: TensorRT's buffers are 256-byte aligned.
  char* const kAlignedBase = reinterpret_cast<char*>(uintptr_t{1} << 20);
  const Buffers<T> b(l, chunk, kAlignedBase);
  T* out = reinterpret_cast<T*>(kAlignedBase);
  bool all = true;
  for (int64_t n0 = 0; n0 < p.batch; n0 += chunk) {
    if (n0 > 0 && n0 + chunk < p.batch) continue;  // middle chunks repeat the first one's GEMMs
    for (int64_t g = 0; g < p.groups; ++g)
      all = blas.prepare(sampledGemm(p, l, b, out, out, n0, std::min(chunk, p.batch - n0), g), mathOf(prec), variant) &&
            all;
  }
  return all;
}

template <typename T>
const char* launchSampledTyped(const DeformConvParams& p, Precision prec, const DeviceLimits& device,
                               const blas::Handle& blas, const T* x, const T* w, const T* offset, const T* mask,
                               const T* bias, T* out, char* workspace, cudaStream_t stream, int gemmVariant) {
  const Layout l = layoutOf(p, prec);
  const int64_t chunk = chunkImages(l, p.batch);
  const Buffers<T> buffers(l, chunk, workspace);
  char* blasWs = buffers.blasWs;
  T* wr = buffers.wr;
  T* xs = buffers.xs;
  T* cols = buffers.cols;

  // Tile: the most pixels (a power of two, <= 32, as square as possible) whose entries fit kMaxEntriesPerBlock;
  // a channel slice is what 8 (fp16) or 16 (fp32) lanes cover, fewer for few channels.
  SampleArgs a{};
  const int V = l.vectorized ? static_cast<int>(16 / sizeof(T)) : 1;
  const int vectors = static_cast<int>(p.inChannels / V);
  int laneShift = 0;
  while ((1 << laneShift) < vectors && laneShift < kMaxLaneShift<T>) ++laneShift;
  const int slices = (vectors + (1 << laneShift) - 1) >> laneShift;
  const int64_t sliceChannels = static_cast<int64_t>(V) << laneShift;
  int64_t ogSpan = 1;
  for (int64_t sl = 0; sl < slices; ++sl) {
    const int64_t first = sl * sliceChannels / l.cinOG;
    const int64_t last = std::min<int64_t>(p.offsetGroups - 1, ((sl + 1) * sliceChannels - 1) / l.cinOG);
    ogSpan = std::max(ogSpan, last - first + 1);
  }
  const int64_t perPixel = l.kk * ogSpan;
  int tileShift = 5;
  while (tileShift > 0 && (perPixel << tileShift) > kMaxEntriesPerBlock) --tileShift;
  auto tilesOf = [&](int shift) {  // tiles in x and y of (1 << shift)-pixel rectangles
    return std::make_pair((p.outW + (1 << (shift + 1) / 2) - 1) >> (shift + 1) / 2,
                          (p.outH + (1 << shift / 2) - 1) >> shift / 2);
  };
  // With GEMM rows (no weight relayout behind the sampler) and fewer than two waves of 32-pixel fp16 blocks,
  // 16-pixel blocks: the last wave's tail is half as long (H100, one run: N4 C512 58.8 -> 57.5 us, N1 C256 29.2 ->
  // 28.2). With a relayout behind the sampler they were not faster: it starts once the last wave has started.
  if (TRTKIT_DCN_SMALL_TILES && std::is_same_v<T, __half> && p.weightRowElems > 0 && tileShift == 5) {
    const auto [x32, y32] = tilesOf(5);
    if (x32 * y32 * slices * chunk < 2 * static_cast<int64_t>(device.multiprocessors) * kSampleBlocksPerSM<T>)
      tileShift = 4;
  }
  const int tileWShift = (tileShift + 1) / 2, tileHShift = tileShift / 2;
  const auto [tilesX, tilesY] = tilesOf(tileShift);
  if (tilesX * tilesY > 0x7fffffff || slices > 65535) return "output too large for the sampled algorithm's grid";
  fillSamplingGeometry(a, p);
  a.groups = p.groups;
  a.kgPad = static_cast<int>(l.kgPad);
  a.kTot = static_cast<int>(l.kTot);
  a.tileWShift = tileWShift;
  a.tileHShift = tileHShift;
  a.tilesX = static_cast<int>(tilesX);
  a.laneShift = laneShift;
  a.ogSpan = static_cast<int>(ogSpan);
  a.kkDivisor = FastDivisor(static_cast<uint32_t>(a.kk));
  a.kernelWDivisor = FastDivisor(static_cast<uint32_t>(a.kernelW));
  const size_t smem = static_cast<size_t>(perPixel << tileShift) * (sizeof(int4) + sizeof(float4));
  const int64_t samplerBlocks = tilesX * tilesY * slices * chunk;
  const bool deep =
      TRTKIT_DCN_SAMPLE_DEEP && samplerBlocks <= static_cast<int64_t>(device.multiprocessors) * kDeepMinBlocks;
  auto sampler = l.vectorized ? samplerKernel<T, 16 / sizeof(T)>(deep) : samplerKernel<T, 1>(deep);
  if (smem > 48 * 1024) return "too many taps x offset groups for the sampled path (see sampledPathSupports)";

  const blas::Math math = mathOf(prec);
  // The weight relayout is needed by the first GEMM only: where dependent launches run and the sampler takes more
  // than one wave, it goes behind the sampler (relayoutWeightBehindSampler), into the SMs its last wave leaves idle,
  // instead of into the prepare pass on the critical path (N4 C512 fp16: 0.067 -> 0.065 ms). Within one wave (the
  // deep sampler) the extra grid boundary before the GEMM cost more than it saved (N1 C256 fp16: 0.033 -> 0.035).
  const bool rows = p.weightRowElems > 0;  // the weight is the GEMM's operand already: nothing to re-lay
  const bool relayoutBehind = !rows && TRTKIT_DCN_RELAYOUT_BEHIND && dependentLaunchRuns(device) && !deep &&
                              weightRowsOf(p, w, sizeof(T), l.kgPad).fitShared();
  for (int64_t n0 = 0; n0 < p.batch; n0 += chunk) {
    const int64_t nc = std::min(chunk, p.batch - n0);
    const bool relayoutHere = n0 == 0 && !relayoutBehind && !rows;
    if (const char* why = enqueuePrepare<T>(p, x + n0 * l.xsPerImage / l.elem, xs, nc, relayoutHere, w,
                                            p.hasBias ? bias : nullptr, wr, l.kgPad, stream))
      return why;
    const dim3 sgrid(static_cast<unsigned>(tilesX * tilesY), static_cast<unsigned>(slices), static_cast<unsigned>(nc));
    if (launchAfterPrepare(device, sampler, sgrid, dim3(kSampleThreads), smem, stream, xs, offset, mask, cols, a, n0) !=
        cudaSuccess)
      return cudaGetErrorString(cudaGetLastError());
    if (n0 == 0 && relayoutBehind) {
      if (const char* why =
              enqueueWeightRelayoutBehind<T>(device, p, w, p.hasBias ? bias : nullptr, wr, l.kgPad, stream))
        return why;
    }
    for (int64_t g = 0; g < p.groups; ++g) {
      if (const char* why = blas.gemm(sampledGemm(p, l, buffers, w, out, n0, nc, g), math, stream, blasWs, gemmVariant))
        return why;
    }
  }
  return nullptr;
}

}  // namespace

int fastDivide(int x, int d) {
  return static_cast<int>(FastDivisor(static_cast<uint32_t>(d)).divide(static_cast<uint32_t>(x)));
}

bool sampledPathSupports(const DeformConvParams& p) {
  // One pixel's taps x offset groups (32 bytes each) must fit the 48 KB of shared memory every GPU gives a block.
  return p.kernelH * p.kernelW * p.offsetGroups * 32 <= 48 * 1024;
}

size_t sampledWorkspaceBytes(const DeformConvParams& p, Precision precision) {
  const Layout l = layoutOf(p, precision);
  const int64_t perImage = l.xsPerImage + l.colsPerImage;
  // Monotone in every dimension (TensorRT sizes the workspace at the profile's maximum shapes, enqueue lays it out
  // for the actual ones): chunk * perImage <= min(N * perImage, max(cap, perImage)), + 2 alignments.
  const int64_t chunkBytes =
      std::min<int64_t>(p.batch * perImage, std::max<int64_t>(static_cast<int64_t>(kSampledChunkBytes), perImage));
  return blas::kWorkspaceBytes + static_cast<size_t>(l.weightBytes + chunkBytes + 2 * kAlign);
}

bool prepareSampledGemms(const DeformConvParams& p, Precision precision, blas::Handle& blas, int variant) {
  if (checkParams(p)[0] != '\0' || p.batch == 0 || !sampledPathSupports(p)) return false;
  return precision == Precision::kFloat16 ? prepareSampledGemmsTyped<__half>(p, precision, blas, variant)
                                          : prepareSampledGemmsTyped<float>(p, precision, blas, variant);
}

const char* launchSampled(const DeformConvParams& p, Precision precision, const DeviceLimits& device,
                          const blas::Handle& blas, const void* input, const void* weight, const void* offset,
                          const void* mask, const void* bias, void* output, void* workspace, cudaStream_t stream,
                          int gemmVariant) {
  auto* ws = static_cast<char*>(workspace);
  if (precision == Precision::kFloat16)
    return launchSampledTyped<__half>(p, precision, device, blas, static_cast<const __half*>(input),
                                      static_cast<const __half*>(weight), static_cast<const __half*>(offset),
                                      static_cast<const __half*>(mask), static_cast<const __half*>(bias),
                                      static_cast<__half*>(output), ws, stream, gemmVariant);
  return launchSampledTyped<float>(p, precision, device, blas, static_cast<const float*>(input),
                                   static_cast<const float*>(weight), static_cast<const float*>(offset),
                                   static_cast<const float*>(mask), static_cast<const float*>(bias),
                                   static_cast<float*>(output), ws, stream, gemmVariant);
}

}  // namespace dcn
}  // namespace trtkit
