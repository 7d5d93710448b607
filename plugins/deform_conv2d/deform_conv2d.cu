// deform_conv2d on the GPU: two small re-layout passes and one fused implicit GEMM.
//
// 1. The input is re-laid NCHW -> NHWC into the workspace, channels grouped in "units" (runs of channels that
//    share a weight group and an offset group) padded to 16 bytes, so a bilinear sample of 4 or 8 channels is
//    one 16-byte load per corner instead of 4-8 scattered ones.
// 2. The weight is re-laid [Cout][Cin/g][kh][kw] -> [g][kh*kw][Cin/g][Cout/g padded], so a K-chunk of the A
//    operand is rows of contiguous output channels.
// 3. deformGemm: one CTA computes a BM (output channels of one group) x BN (output pixels, flattened over
//    N*Ho*Wo) tile. Its K loop walks (tap, unit, chunk of BK channels): the sampling coordinates and the four
//    corner weights depend on (pixel, tap, offset group) only, so each thread computes them once per tap and
//    unit and reuses them for every channel of the unit. The sampled B chunk goes straight into shared memory
//    (double-buffered: chunk t+1 is gathered while chunk t is multiplied) and never touches device memory.
//    Products: FFMA for strict fp32, TF32 wmma when explicitly allowed, fp16 wmma for fp16; always fp32 sums.
#include <cuda_fp16.h>
#include <mma.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "deform_conv2d_kernels.hpp"
#include "deform_conv2d_launch.cuh"
#include "trtkit/core/device_convert.cuh"

namespace trtkit {
namespace dcn {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kAlign = 256;
#ifndef TRTKIT_DCN_MAX_BM
#define TRTKIT_DCN_MAX_BM 256  // widest output-channel tile (benchmark switch)
#endif
#ifndef TRTKIT_DCN_SHORT_BK
#define TRTKIT_DCN_SHORT_BK 0  // 1: always the half-line channel chunk (smaller tiles, benchmark switch)
#endif

inline int64_t gcd64(int64_t a, int64_t b) {
  while (b != 0) {
    const int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// Sizes derived from the parameters, shared by workspaceBytes and the launcher.
struct Derived {
  int64_t cinG, coutG, cinOG, unit, unitPad, units, cPad, kk, coutGPad;
  int64_t totalPix;
  int64_t inputBytes, weightBytes;
};

Derived derive(const DeformConvParams& p, Precision prec) {
  Derived d{};
  const int64_t elem = prec == Precision::kFloat16 ? 2 : 4;
  const int64_t vec = 16 / elem;
  d.cinG = p.inChannels / p.groups;
  d.coutG = p.outChannels / p.groups;
  d.cinOG = p.inChannels / p.offsetGroups;
  d.unit = gcd64(d.cinG, d.cinOG);
  d.unitPad = roundUp(d.unit, vec);
  d.units = p.inChannels / d.unit;
  d.cPad = d.units * d.unitPad;
  d.kk = p.kernelH * p.kernelW;
  d.coutGPad = roundUp(d.coutG, vec);
  d.totalPix = p.batch * p.outH * p.outW;
  d.inputBytes = roundUp(p.batch * p.height * p.width * d.cPad * elem, kAlign);
  d.weightBytes = roundUp(p.groups * d.kk * d.cinG * d.coutGPad * elem, kAlign);
  return d;
}

// ---- pass 1: NCHW -> [N][H*W][units*unitPad], padding channels written as zeros --------------------------
template <typename T>
__global__ void toChannelsLast(const T* __restrict__ in, T* __restrict__ out, int64_t batch, int64_t channels,
                               int64_t hw, int64_t unit, int64_t unitPad, int64_t cPad) {
  __shared__ T tile[32][33];
  const int64_t hw0 = static_cast<int64_t>(blockIdx.x) * 32;
  const int64_t cp0 = static_cast<int64_t>(blockIdx.y) * 32;
  for (int64_t n = blockIdx.z; n < batch; n += gridDim.z) {
    for (int i = threadIdx.y; i < 32; i += 8) {
      const int64_t cp = cp0 + i;
      const int64_t s = hw0 + threadIdx.x;
      T v = fromFloat<T>(0.f);
      if (cp < cPad && s < hw) {
        const int64_t u = cp / unitPad, r = cp - u * unitPad;
        if (r < unit) v = in[(n * channels + u * unit + r) * hw + s];
      }
      tile[i][threadIdx.x] = v;
    }
    __syncthreads();
    for (int i = threadIdx.y; i < 32; i += 8) {
      const int64_t s = hw0 + i;
      const int64_t cp = cp0 + threadIdx.x;
      if (s < hw && cp < cPad) out[(n * hw + s) * cPad + cp] = tile[threadIdx.x][i];
    }
    __syncthreads();
  }
}

// ---- pass 2: weight [Cout][Cin/g][kh*kw] -> [g][kh*kw][Cin/g][coutGPad] ------------------------------------
// rowElems > 0: the weight is GEMM rows, [Cout][rowElems] with row co = W[co] tap-major (deform_conv2d_kernels.hpp).
template <typename T>
__global__ void relayoutWeight(const T* __restrict__ w, T* __restrict__ out, int64_t groups, int64_t kk, int64_t cinG,
                               int64_t coutG, int64_t coutGPad, int64_t rowElems) {
  const int64_t total = groups * kk * cinG * coutGPad;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t co = i % coutGPad;
    int64_t r = i / coutGPad;
    const int64_t ci = r % cinG;
    r /= cinG;
    const int64_t tap = r % kk;
    const int64_t g = r / kk;
    const int64_t src =
        rowElems > 0 ? (g * coutG + co) * rowElems + tap * cinG + ci : ((g * coutG + co) * cinG + ci) * kk + tap;
    out[i] = co < coutG ? w[src] : fromFloat<T>(0.f);
  }
}

// ---- pass 3: the fused implicit GEMM --------------------------------------------------------------------
struct GemmArgs {
  const void* x;  // channels-last input (workspace)
  const void* w;  // re-laid weight (workspace)
  const void* offset;
  const void* mask;
  const void* bias;
  int64_t biasStride;  // elements between bias[co] and bias[co + 1]: 1, or the weight's row for GEMM rows
  void* out;
  int32_t height, width, outW, hoWo, totalPix;
  int32_t kernelW, strideH, strideW, padH, padW, dilationH, dilationW;
  int32_t cinG, coutG, coutGPad, cinOG, unit, unitPad, cPad, offsetGroups, outChannels, kk;
  int32_t useMask, hasBias, mTilesPerGroup;
};

template <Precision P>
struct Traits;
template <>
struct Traits<Precision::kFloat32Strict> {
  using T = float;
  static constexpr int kVec = 4, kPad = 4;
};
template <>
struct Traits<Precision::kFloat32TF32> {
  using T = float;
  static constexpr int kVec = 4, kPad = 4;
};
template <>
struct Traits<Precision::kFloat16> {
  using T = __half;
  static constexpr int kVec = 8, kPad = 8;
};

// TF32 wmma exists from sm_80 on. On older GPUs the launcher runs strict fp32 instead, and these stand-ins
// only keep the (never launched) TF32 kernels compiling.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#define TRTKIT_DCN_HAS_TF32 0
struct Tf32Tag {};
template <typename F>
__device__ __forceinline__ F toTf32(F x) {
  return x;
}
#else
#define TRTKIT_DCN_HAS_TF32 1
using Tf32Tag = nvcuda::wmma::precision::tf32;
template <typename F>
__device__ __forceinline__ F toTf32(F x) {
  return nvcuda::wmma::__float_to_tf32(x);
}
#endif

// cp.async exists from sm_80 on; older GPUs (the kit also builds for sm_75) copy synchronously instead.
__device__ __forceinline__ void cpAsync16(void* dst, const void* src, bool valid) {
#if __CUDA_ARCH__ >= 800
  // 16 bytes global -> shared without registers; src-size 0 writes zeros and reads nothing.
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(valid ? 16 : 0));
#else
  *static_cast<uint4*>(dst) = valid ? *static_cast<const uint4*>(src) : make_uint4(0, 0, 0, 0);
#endif
}
__device__ __forceinline__ void cpAsyncCommit() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

template <Precision P, int BM, int BN, int BK>
struct TileShape {
  using Tr = Traits<P>;
  using T = typename Tr::T;
  // Buffers: corners of 3 chunks (one landing, one in flight, one being blended), weights of 2 (one being
  // multiplied, one in flight), blended B of 2 (one multiplied while the next is blended), sampling of 4.
  static constexpr int kRawStages = 3, kAStages = 2, kBBufs = 2, kSampSlots = 4;
  static constexpr int kVec = Tr::kVec;
  // FFMA reads B k-major (float4 along pixels); the tensor-core paths read it pixel-major (16-byte stores
  // from the blend, no bank conflicts).
  static constexpr bool kBPixelMajor = P != Precision::kFloat32Strict;
  static constexpr int kLda = BM + Tr::kPad;
  static constexpr int kLdb = kBPixelMajor ? BK + Tr::kPad : BN + Tr::kPad;
  static constexpr int kBRows = kBPixelMajor ? BN : BK;
  static constexpr size_t kABytes = sizeof(T) * kAStages * BK * kLda;        // weights [BK][kLda] per stage
  static constexpr size_t kRawBytes = sizeof(T) * kRawStages * 4 * BN * BK;  // 4 corners [4][BN][BK] per stage
  static constexpr size_t kBBytes = sizeof(T) * kBBufs * kBRows * kLdb;      // blended B
  static constexpr size_t kWBytes = sizeof(float) * kSampSlots * BN * 4;     // corner weights
  static constexpr size_t kOBytes = sizeof(int) * kSampSlots * BN * 4;       // corner offsets
  static constexpr size_t kSmemBytes = kABytes + kRawBytes + kBBytes + kWBytes + kOBytes;
};

// One CTA: BM output channels (of one group) x BN output pixels; K walked in chunks of BK channels of one
// (tap, unit). Iteration t, after its one barrier: start the corner copies of chunk t+2 and the weight copies
// of chunk t+1, set up the sampling of chunk t+3, multiply chunk t, blend the corners of chunk t+1 (the
// tensor cores work on t while the blend of t+1 issues).
template <Precision P, int BM, int BN, int BK, int MINB>
__global__ void __launch_bounds__(kThreads, MINB) deformGemm(GemmArgs a) {
  using Shape = TileShape<P, BM, BN, BK>;
  using T = typename Shape::T;
  constexpr int RS = Shape::kRawStages, AS = Shape::kAStages, NS = Shape::kSampSlots;
  constexpr int V = Shape::kVec, LDA = Shape::kLda, LDB = Shape::kLdb;
  constexpr bool kBPixelMajor = Shape::kBPixelMajor;
  // The BK channels of one pixel are VR consecutive 16-byte vectors, handled by VR consecutive lanes (one
  // warp access touches few cache lines); each thread handles VPT pixels PSTEP apart.
  constexpr int VR = BK / V;
  constexpr int PSTEP = kThreads / VR;
  constexpr int VPT = BN / PSTEP;
  constexpr int A_PER_THREAD = BK * BM / V / kThreads;
  static_assert(BK % V == 0 && kThreads % VR == 0 && BN % PSTEP == 0 && VPT >= 1, "tile shape");
  static_assert(A_PER_THREAD >= 1 && (BK * BM / V) % kThreads == 0, "tile shape");

  extern __shared__ __align__(128) unsigned char smem[];
  T* const As = reinterpret_cast<T*>(smem);
  T* const Raw = reinterpret_cast<T*>(smem + Shape::kABytes);
  T* const Bs = reinterpret_cast<T*>(smem + Shape::kABytes + Shape::kRawBytes);
  float* const Wq = reinterpret_cast<float*>(smem + Shape::kABytes + Shape::kRawBytes + Shape::kBBytes);
  int* const Oq = reinterpret_cast<int*>(smem + Shape::kABytes + Shape::kRawBytes + Shape::kBBytes + Shape::kWBytes);

  const T* __restrict__ xs = static_cast<const T*>(a.x);
  const T* __restrict__ ws = static_cast<const T*>(a.w);
  const T* __restrict__ offs = static_cast<const T*>(a.offset);
  const T* __restrict__ masks = static_cast<const T*>(a.mask);

  const int tid = threadIdx.x;
  const int g = blockIdx.y / a.mTilesPerGroup;
  const int m0 = (blockIdx.y % a.mTilesPerGroup) * BM;
  const int n0 = blockIdx.x * BN;

  const int vec = tid % VR;     // this thread's 16-byte vector within a pixel's chunk
  const int spBase = tid / VR;  // this thread's first pixel within the tile

  const int unitsPerGroup = a.cinG / a.unit;
  const int chunksPerUnit = (a.unit + BK - 1) / BK;
  const int numChunks = a.kk * unitsPerGroup * chunksPerUnit;

  // K order: unit, chunk of BK channels, tap innermost, so the corner lines one tap gathers are still in L1
  // when the neighbouring taps gather them (they overlap heavily for small offsets). Cursors walk it
  // without divisions.
  struct Cursor {
    int tap, c0, u;
  };
  auto advance = [&](Cursor& c) {
    if (++c.tap == a.kk) {
      c.tap = 0;
      c.c0 += BK;
      if (c.c0 >= a.unit) {
        c.c0 = 0;
        ++c.u;
      }
    }
  };

  // Sampling: thread p < BN owns pixel p of the tile. Per chunk it turns the (prefetched) offset and mask of
  // its pixel into four corner element offsets (-1: outside the image) and weights (mask folded in), into
  // shared memory for the gathering threads.
  const bool sampler = tid < BN;
  const int pix = n0 + tid;
  const bool pixOk = sampler && pix < a.totalPix;
  int pImg = 0, pHw = 0, pOy = 0, pOx = 0;
  if (pixOk) {
    pImg = pix / a.hoWo;
    pHw = pix - pImg * a.hoWo;
    pOy = pHw / a.outW;
    pOx = pHw - pOy * a.outW;
  }
  float pfOffH = 0.f, pfOffW = 0.f, pfMask = 1.f;
  auto fetch = [&](const Cursor& c) {
    if (!pixOk) return;
    const int ogIdx = ((g * unitsPerGroup + c.u) * a.unit) / a.cinOG;
    const int64_t og = static_cast<int64_t>(pImg) * a.offsetGroups + ogIdx;
    const int64_t ob = (og * a.kk * 2 + 2 * c.tap) * a.hoWo + pHw;
    pfOffH = toFloat(offs[ob]);
    pfOffW = toFloat(offs[ob + a.hoWo]);
    if (a.useMask) pfMask = toFloat(masks[(og * a.kk + c.tap) * a.hoWo + pHw]);
  };
  auto setup = [&](const Cursor& c, int slot) {
    int4 off = make_int4(-1, -1, -1, -1);
    float4 wv = make_float4(0.f, 0.f, 0.f, 0.f);
    const int ti = c.tap / a.kernelW, tj = c.tap - ti * a.kernelW;
    const float y = static_cast<float>(pOy * a.strideH - a.padH + ti * a.dilationH) + pfOffH;
    const float x = static_cast<float>(pOx * a.strideW - a.padW + tj * a.dilationW) + pfOffW;
    // torchvision: a point at or beyond one pixel outside the image samples zero; otherwise each of the
    // four corners contributes only when it lies inside the image.
    if (pixOk && y > -1.f && y < a.height && x > -1.f && x < a.width) {
      const float yf = floorf(y), xf = floorf(x);
      const int y0 = static_cast<int>(yf), x0 = static_cast<int>(xf);
      const float ly = y - yf, lx = x - xf, hy = 1.f - ly, hx = 1.f - lx;
      const bool yIn0 = y0 >= 0, yIn1 = y0 + 1 < a.height, xIn0 = x0 >= 0, xIn1 = x0 + 1 < a.width;
      const int base = ((pImg * a.height + y0) * a.width + x0) * a.cPad;
      const int rowStep = a.width * a.cPad;
      if (yIn0 && xIn0) {
        off.x = base;
        wv.x = hy * hx * pfMask;
      }
      if (yIn0 && xIn1) {
        off.y = base + a.cPad;
        wv.y = hy * lx * pfMask;
      }
      if (yIn1 && xIn0) {
        off.z = base + rowStep;
        wv.z = ly * hx * pfMask;
      }
      if (yIn1 && xIn1) {
        off.w = base + rowStep + a.cPad;
        wv.w = ly * lx * pfMask;
      }
    }
    reinterpret_cast<int4*>(Oq)[slot * BN + tid] = off;
    reinterpret_cast<float4*>(Wq)[slot * BN + tid] = wv;
  };

  // Starts the corner copies of the chunk at cursor c (sampling in `samp`) into raw stage `slot`.
  auto issueRaw = [&](const Cursor& c, int slot, int samp) {
    const int uAbs = g * unitsPerGroup + c.u;
    const int ch = c.c0 + vec * V;
    const bool cOk = ch < a.unit;  // vectors past the unit's channels are padding: zero-filled
    const T* xc = xs + uAbs * a.unitPad + ch;
    T* raw = Raw + slot * 4 * BN * BK;
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      const int sp = spBase + i * PSTEP;
      const int4 off = reinterpret_cast<const int4*>(Oq)[samp * BN + sp];
      const int o4[4] = {off.x, off.y, off.z, off.w};
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const bool ok = cOk && o4[q] >= 0;
        cpAsync16(raw + (q * BN + sp) * BK + vec * V, ok ? xc + o4[q] : xs, ok);
      }
    }
  };
  // Starts the weight copies of the chunk at cursor c into weight stage `slot`.
  auto issueA = [&](const Cursor& c, int slot) {
    T* as = As + slot * BK * LDA;
    const T* wrow = ws + (static_cast<int64_t>(g * a.kk + c.tap) * a.cinG + c.u * a.unit + c.c0) * a.coutGPad + m0;
#pragma unroll
    for (int r = 0; r < A_PER_THREAD; ++r) {
      const int vecId = tid + r * kThreads;
      const int kr = vecId / (BM / V);
      const int mv = (vecId % (BM / V)) * V;
      const bool ok = c.c0 + kr < a.unit && m0 + mv < a.coutGPad;
      cpAsync16(as + kr * LDA + mv, ok ? wrow + kr * a.coutGPad + mv : ws, ok);
    }
  };

  // B tile (buffer `buf`) of the chunk in raw stage `slot`, sampling `samp`: the corners blended with their
  // weights (mask folded in), fp32 sums.
  auto blend = [&](int slot, int samp, int buf) {
    const T* raw = Raw + slot * 4 * BN * BK;
    T* const bs = Bs + buf * Shape::kBRows * LDB;
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      const int sp = spBase + i * PSTEP;
      const float4 wv = reinterpret_cast<const float4*>(Wq)[samp * BN + sp];
      const float w4[4] = {wv.x, wv.y, wv.z, wv.w};
      float acc[V];
#pragma unroll
      for (int e = 0; e < V; ++e) acc[e] = 0.f;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const uint4 r = *reinterpret_cast<const uint4*>(raw + (q * BN + sp) * BK + vec * V);
        if constexpr (std::is_same_v<T, __half>) {
          const __half2* h2 = reinterpret_cast<const __half2*>(&r);  // two halves per conversion
#pragma unroll
          for (int e = 0; e < V / 2; ++e) {
            const float2 f = __half22float2(h2[e]);
            acc[2 * e] += w4[q] * f.x;
            acc[2 * e + 1] += w4[q] * f.y;
          }
        } else {
          const T* vals = reinterpret_cast<const T*>(&r);
#pragma unroll
          for (int e = 0; e < V; ++e) acc[e] += w4[q] * toFloat(vals[e]);
        }
      }
      if constexpr (kBPixelMajor) {
        uint4 packed;
        if constexpr (std::is_same_v<T, __half>) {
          __half2* pv = reinterpret_cast<__half2*>(&packed);
#pragma unroll
          for (int e = 0; e < V / 2; ++e) pv[e] = __floats2half2_rn(acc[2 * e], acc[2 * e + 1]);
        } else {
          T* pv = reinterpret_cast<T*>(&packed);
#pragma unroll
          for (int e = 0; e < V; ++e) pv[e] = fromFloat<T>(acc[e]);
        }
        *reinterpret_cast<uint4*>(bs + sp * LDB + vec * V) = packed;
      } else {
#pragma unroll
        for (int e = 0; e < V; ++e) bs[(vec * V + e) * LDB + sp] = fromFloat<T>(acc[e]);
      }
    }
  };

  const T* __restrict__ biasp = static_cast<const T*>(a.bias);
  T* __restrict__ outp = static_cast<T*>(a.out);
  auto writeOut = [&](int m, int p, float v) {
    if (m >= a.coutG || p >= a.totalPix) return;
    const int co = g * a.coutG + m;
    if (a.hasBias) v += toFloat(biasp[co * a.biasStride]);
    const int im = p / a.hoWo;
    const int sidx = p - im * a.hoWo;
    outp[(static_cast<int64_t>(im) * a.outChannels + co) * a.hoWo + sidx] = fromFloat<T>(v);
  };

  // Prologue: sampling of chunks 0-2, copies of chunk 0 (corners, weights) and 1 (corners), blend of 0.
  Cursor sc{0, 0, 0};  // next chunk to set up (sampler threads)
  Cursor ic{0, 0, 0};  // next chunk whose corners to copy
  Cursor ac{0, 0, 0};  // next chunk whose weights to copy
  if (sampler) {
    fetch(sc);
    for (int s0 = 0; s0 < 3 && s0 < numChunks; ++s0) {
      setup(sc, s0);
      advance(sc);
      if (s0 + 1 < numChunks) fetch(sc);
    }
  }
  __syncthreads();
  issueRaw(ic, 0, 0);
  advance(ic);
  issueA(ac, 0);
  advance(ac);
  cpAsyncCommit();
  if (numChunks > 1) {
    issueRaw(ic, 1, 1);
    advance(ic);
  }
  cpAsyncCommit();
  cpAsyncWait<1>();
  __syncthreads();
  blend(0, 0, 0);

  // Before multiplying chunk t (see the kernel comment for what overlaps what).
  auto front = [&](int t) {
    cpAsyncWait<0>();  // this thread's copies of chunk t+1's corners and chunk t's weights have landed
    __syncthreads();   // everyone's have, and iteration t-1 is done with the buffers reused below
    if (t + 2 < numChunks) {
      issueRaw(ic, (t + 2) % RS, (t + 2) % NS);
      advance(ic);
    }
    if (t + 1 < numChunks) {
      issueA(ac, (t + 1) % AS);
      advance(ac);
    }
    cpAsyncCommit();
    if (sampler && t + 3 < numChunks) {
      setup(sc, (t + 3) % NS);
      advance(sc);
      if (t + 4 < numChunks) fetch(sc);
    }
  };
  // After multiplying chunk t.
  auto back = [&](int t) {
    if (t + 1 < numChunks) blend((t + 1) % RS, (t + 1) % NS, (t + 1) % 2);
  };

  if constexpr (P == Precision::kFloat32Strict) {
    constexpr int TM = BM / 16, TN = BN / 16;
    constexpr int GM = TM / 4, GN = TN / 4;  // groups of 4 rows/cols, spread BM/GM apart (fewer bank conflicts)
    static_assert(TM % 4 == 0 && TN % 4 == 0, "tile shape");
    const int ty = tid / 16, tx = tid % 16;
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

    for (int t = 0; t < numChunks; ++t) {
      front(t);
      const float* as = As + (t % AS) * BK * LDA;
      const float* bsT = Bs + (t % 2) * Shape::kBRows * LDB;
#pragma unroll 8
      for (int k = 0; k < BK; ++k) {
        float av[TM], bv[TN];
#pragma unroll
        for (int gi = 0; gi < GM; ++gi) {
          const float4 f = *reinterpret_cast<const float4*>(as + k * LDA + gi * (BM / GM) + ty * 4);
          av[gi * 4 + 0] = f.x;
          av[gi * 4 + 1] = f.y;
          av[gi * 4 + 2] = f.z;
          av[gi * 4 + 3] = f.w;
        }
#pragma unroll
        for (int gj = 0; gj < GN; ++gj) {
          const float4 f = *reinterpret_cast<const float4*>(bsT + k * LDB + gj * (BN / GN) + tx * 4);
          bv[gj * 4 + 0] = f.x;
          bv[gj * 4 + 1] = f.y;
          bv[gj * 4 + 2] = f.z;
          bv[gj * 4 + 3] = f.w;
        }
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
      back(t);
    }
    cpAsyncWait<0>();
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j)
        writeOut(m0 + (i / 4) * (BM / GM) + ty * 4 + (i % 4), n0 + (j / 4) * (BN / GN) + tx * 4 + (j % 4), acc[i][j]);
  } else {
    if constexpr (P == Precision::kFloat32TF32 && !TRTKIT_DCN_HAS_TF32) {
      __trap();  // TF32 tensor cores need sm_80; the launcher runs strict fp32 on older GPUs instead
    } else {
      namespace wm = nvcuda::wmma;
      constexpr bool kTF32 = P == Precision::kFloat32TF32;
      constexpr int KS = kTF32 ? 8 : 16;  // k of one mma
      using InT = std::conditional_t<kTF32, Tf32Tag, __half>;
      constexpr int WARPS_N = BN >= 128 ? 4 : 2, WARPS_M = 8 / WARPS_N;
      constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N, FM = WM / 16, FN = WN / 16;
      static_assert(FM >= 1 && FN >= 1 && BK % KS == 0, "tile shape");
      const int warp = tid / 32, lane = tid % 32;
      const int wmIdx = warp / WARPS_N, wnIdx = warp % WARPS_N;
      wm::fragment<wm::accumulator, 16, 16, KS, float> acc[FM][FN];
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wm::fill_fragment(acc[i][j], 0.f);

      for (int t = 0; t < numChunks; ++t) {
        front(t);
        const T* as = As + (t % AS) * BK * LDA;
        const T* bsT = Bs + (t % 2) * Shape::kBRows * LDB;
#pragma unroll
        for (int k = 0; k < BK; k += KS) {
          wm::fragment<wm::matrix_a, 16, 16, KS, InT, wm::col_major> fa[FM];
          wm::fragment<wm::matrix_b, 16, 16, KS, InT, wm::col_major> fb[FN];
#pragma unroll
          for (int i = 0; i < FM; ++i) {
            wm::load_matrix_sync(fa[i], as + k * LDA + wmIdx * WM + i * 16, LDA);
            if constexpr (kTF32) {
#pragma unroll
              for (int e = 0; e < fa[i].num_elements; ++e) fa[i].x[e] = toTf32(fa[i].x[e]);
            }
          }
#pragma unroll
          for (int j = 0; j < FN; ++j) {
            wm::load_matrix_sync(fb[j], bsT + (wnIdx * WN + j * 16) * LDB + k, LDB);
            if constexpr (kTF32) {
#pragma unroll
              for (int e = 0; e < fb[j].num_elements; ++e) fb[j].x[e] = toTf32(fb[j].x[e]);
            }
          }
#pragma unroll
          for (int i = 0; i < FM; ++i)
#pragma unroll
            for (int j = 0; j < FN; ++j) wm::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        }
        back(t);
      }
      // Epilogue through a per-warp 16x16 staging tile in the (now idle) weight buffers.
      cpAsyncWait<0>();
      __syncthreads();
      float* stage = reinterpret_cast<float*>(smem) + warp * 256;
      const int r = lane / 2, cb = (lane % 2) * 8;
#pragma unroll
      for (int i = 0; i < FM; ++i) {
#pragma unroll
        for (int j = 0; j < FN; ++j) {
          wm::store_matrix_sync(stage, acc[i][j], 16, wm::mem_row_major);
          __syncwarp();
          const int m = m0 + wmIdx * WM + i * 16 + r;
          const int p = n0 + wnIdx * WN + j * 16 + cb;
#pragma unroll
          for (int e = 0; e < 8; ++e) writeOut(m, p + e, stage[r * 16 + cb + e]);
          __syncwarp();
        }
      }
    }
  }
}

template <Precision P, int BM, int BN, int BK, int MINB = 1>
cudaError_t launchGemm(const GemmArgs& args, int64_t groups, cudaStream_t stream) {
  using Shape = TileShape<P, BM, BN, BK>;
  if (Shape::kSmemBytes > 48 * 1024) {
    const cudaError_t err =
        allowDynamicSharedMemory<deformGemm<P, BM, BN, BK, MINB>>(static_cast<int>(Shape::kSmemBytes));
    if (err != cudaSuccess) return err;
  }
  const dim3 grid(static_cast<unsigned>((args.totalPix + BN - 1) / BN),
                  static_cast<unsigned>(groups * args.mTilesPerGroup));
  deformGemm<P, BM, BN, BK, MINB><<<grid, kThreads, Shape::kSmemBytes, stream>>>(args);
  return cudaGetLastError();
}

template <Precision P>
cudaError_t launchTyped(const DeformConvParams& p, const Derived& d, const DeviceLimits& device, const void* input,
                        const void* weight, const void* offset, const void* mask, const void* bias, void* output,
                        void* workspace, cudaStream_t stream) {
  using T = typename Traits<P>::T;
  T* xs = static_cast<T*>(workspace);
  T* ws = reinterpret_cast<T*>(static_cast<unsigned char*>(workspace) + d.inputBytes);

  const int64_t hw = p.height * p.width;
  const dim3 tgrid(static_cast<unsigned>((hw + 31) / 32), static_cast<unsigned>((d.cPad + 31) / 32),
                   static_cast<unsigned>(p.batch < 65535 ? p.batch : 65535));
  toChannelsLast<T><<<tgrid, dim3(32, 8), 0, stream>>>(static_cast<const T*>(input), xs, p.batch, p.inChannels, hw,
                                                       d.unit, d.unitPad, d.cPad);
  const int64_t wtotal = p.groups * d.kk * d.cinG * d.coutGPad;
  const int64_t wblocks = (wtotal + 255) / 256;
  relayoutWeight<T><<<static_cast<unsigned>(wblocks < 65535 ? wblocks : 65535), 256, 0, stream>>>(
      static_cast<const T*>(weight), ws, p.groups, d.kk, d.cinG, d.coutG, d.coutGPad, p.weightRowElems);

  GemmArgs g{};
  g.x = xs;
  g.w = ws;
  g.offset = offset;
  g.mask = mask;
  const BiasSource<T> biasSource = biasSourceOf(p, static_cast<const T*>(weight), static_cast<const T*>(bias));
  g.bias = biasSource.values;
  g.biasStride = biasSource.stride;
  g.out = output;
  g.height = static_cast<int32_t>(p.height);
  g.width = static_cast<int32_t>(p.width);
  g.outW = static_cast<int32_t>(p.outW);
  g.hoWo = static_cast<int32_t>(p.outH * p.outW);
  g.totalPix = static_cast<int32_t>(d.totalPix);
  g.kernelW = static_cast<int32_t>(p.kernelW);
  g.strideH = p.strideH;
  g.strideW = p.strideW;
  g.padH = p.padH;
  g.padW = p.padW;
  g.dilationH = p.dilationH;
  g.dilationW = p.dilationW;
  g.cinG = static_cast<int32_t>(d.cinG);
  g.coutG = static_cast<int32_t>(d.coutG);
  g.coutGPad = static_cast<int32_t>(d.coutGPad);
  g.cinOG = static_cast<int32_t>(d.cinOG);
  g.unit = static_cast<int32_t>(d.unit);
  g.unitPad = static_cast<int32_t>(d.unitPad);
  g.cPad = static_cast<int32_t>(d.cPad);
  g.offsetGroups = p.offsetGroups;
  g.outChannels = static_cast<int32_t>(p.outChannels);
  g.kk = static_cast<int32_t>(d.kk);
  g.useMask = p.useMask ? 1 : 0;
  g.hasBias = biasSource.values != nullptr ? 1 : 0;

  // Tile choice (measured on the H100, bench/results): every M tile gathers the samples again, so a group's
  // output channels go into one tile of 64, 128 or 256 where that still fills the GPU. With many waves of
  // 256-channel tiles, half-line chunks make them small enough for two CTAs per SM (more warps to hide the
  // gather latency); near one wave, full-line chunks and one CTA per SM; under half a wave, 128-channel tiles
  // (twice the CTAs). GPUs with less shared memory per block (sm_86/89: 99 KB) step down to smaller tiles.
  const int sms = device.multiprocessors;
  const size_t smemMax = device.maxSharedBytesPerBlock;
  constexpr int kLong = Traits<P>::kVec * 8, kShort = Traits<P>::kVec * 4;
  const bool longChunks = d.unit > kShort && !TRTKIT_DCN_SHORT_BK;
  auto fits = [&](size_t bytes) { return bytes <= static_cast<size_t>(smemMax); };
  auto tiles = [&](int bm) { return static_cast<int32_t>((d.coutG + bm - 1) / bm); };
  const int64_t pixTiles = (d.totalPix + 63) / 64;
  const int64_t ctas256 = pixTiles * tiles(256) * p.groups;
  int bm = d.coutG <= 64 ? 64 : (d.coutG <= 128 || TRTKIT_DCN_MAX_BM < 256 || 2 * ctas256 < sms) ? 128 : 256;
  if (bm == 256) {
    g.mTilesPerGroup = tiles(256);
    if (ctas256 >= 3 * static_cast<int64_t>(sms) && fits(TileShape<P, 256, 64, kShort>::kSmemBytes))
      return launchGemm<P, 256, 64, kShort, 2>(g, p.groups, stream);
    if (longChunks && fits(TileShape<P, 256, 64, kLong>::kSmemBytes))
      return launchGemm<P, 256, 64, kLong>(g, p.groups, stream);
    if (fits(TileShape<P, 256, 64, kShort>::kSmemBytes)) return launchGemm<P, 256, 64, kShort>(g, p.groups, stream);
    bm = 128;
  }
  if (bm == 128) {
    g.mTilesPerGroup = tiles(128);
    if (longChunks && fits(TileShape<P, 128, 64, kLong>::kSmemBytes))
      return launchGemm<P, 128, 64, kLong>(g, p.groups, stream);
    if (fits(TileShape<P, 128, 64, kShort>::kSmemBytes)) return launchGemm<P, 128, 64, kShort>(g, p.groups, stream);
  }
  g.mTilesPerGroup = tiles(64);
  if (longChunks && fits(TileShape<P, 64, 64, kLong>::kSmemBytes))
    return launchGemm<P, 64, 64, kLong>(g, p.groups, stream);
  if (fits(TileShape<P, 64, 64, kShort>::kSmemBytes)) return launchGemm<P, 64, 64, kShort>(g, p.groups, stream);
  return cudaErrorInvalidConfiguration;  // the device has under ~75 KB of shared memory per block (sm_75)
}

}  // namespace

const char* checkParams(const DeformConvParams& p) {
  if (p.batch < 0 || p.inChannels <= 0 || p.height <= 0 || p.width <= 0) return "input dims must be positive";
  if (p.outChannels <= 0 || p.kernelH <= 0 || p.kernelW <= 0) return "weight dims must be positive";
  if (p.strideH <= 0 || p.strideW <= 0) return "stride must be > 0";
  if (p.dilationH <= 0 || p.dilationW <= 0) return "dilation must be > 0";
  if (p.padH < 0 || p.padW < 0) return "padding must be >= 0";
  if (p.groups <= 0 || p.offsetGroups <= 0) return "groups and offset_groups must be > 0";
  if (p.inChannels % p.groups != 0) return "groups must divide the input channels";
  if (p.outChannels % p.groups != 0) return "groups must divide the output channels";
  if (p.inChannels % p.offsetGroups != 0) return "offset_groups must divide the input channels";
  if (p.weightRowElems < 0 ||
      (p.weightRowElems > 0 &&
       (p.weightRowElems < p.kernelH * p.kernelW * (p.inChannels / p.groups) + 1 || p.weightRowElems % 8 != 0)))
    return "GEMM-row weight: each row must hold kh*kw*Cin/groups weights and the bias (a multiple of 8 elements)";
  if (p.outH <= 0 || p.outW <= 0) return "output size must be positive";
  // 32-bit pixel and element indices inside the kernels.
  const int64_t kMax = int64_t{1} << 31;
  if (p.batch * p.outH * p.outW >= kMax || p.batch * p.inChannels * p.height * p.width >= kMax ||
      p.batch * p.outChannels * p.outH * p.outW >= kMax ||
      p.batch * p.height * p.width * (p.inChannels + 8 * p.inChannels) >= kMax)  // padded channels-last copy
    return "tensor too large (more than 2^31 elements)";
  return "";
}

size_t fusedWorkspaceBytes(const DeformConvParams& p, Precision precision) {
  if (checkParams(p)[0] != '\0') return 0;
  const Derived d = derive(p, precision);
  return static_cast<size_t>(d.inputBytes + d.weightBytes);
}

size_t workspaceBytes(const DeformConvParams& p, Precision precision) {
  if (checkParams(p)[0] != '\0') return 0;
  size_t bytes = fusedWorkspaceBytes(p, precision);
  if (sampledPathSupports(p)) bytes = std::max(bytes, sampledWorkspaceBytes(p, precision));
  if (pipelinedPathSupports(p, precision)) bytes = std::max(bytes, pipelinedWorkspaceBytes(p, precision));
  return bytes;
}

bool pipelinedRunsOn(const DeformConvParams& p, Precision precision, const DeviceLimits& device) {
  return device.computeMajor >= 8 && pipelinedPathSupports(p, precision) &&
         pipelinedSharedBytes(p, precision) <= device.maxSharedBytesPerBlock;
}

Algorithm chooseAlgorithm(const DeformConvParams& p, Precision precision, Algorithm requested, bool blasUsable,
                          const DeviceLimits& device) {
  if (requested != Algorithm::kAuto) return requested;
  const bool sampled = blasUsable && sampledPathSupports(p);
  // The pipelined kernel beats the fused one everywhere it runs, and the sampled one where a group has at most 64
  // output channels (N16 C64: 0.29 vs 0.38 ms on an H100); with more, cuBLAS's GEMM amortises the column matrix
  // over many output channels and the sampled algorithm wins (N8 C256: 0.18 vs 0.24 ms). bench/results.
  // Strict fp32 runs it only on Hopper, at every width: there its consumers multiply on the fp64 tensor cores
  // (DMMA, faster than any FFMA SGEMM: N8 C256 0.79 vs 0.91 ms sampled, N4 C512 0.39 vs 0.43, N16 C64 0.63 vs 0.80,
  // session 15); elsewhere its FFMA consumers would spill and no fp64 tensor-core shape is faster than FFMA.
  const bool strict = precision == Precision::kFloat32Strict;
  const bool pipelined = pipelinedRunsOn(p, precision, device) && (!strict || device.computeMajor == 9);
  if (pipelined && (!sampled || strict || p.outChannels / p.groups <= 64)) return Algorithm::kPipelined;
  return sampled ? Algorithm::kSampledGemm : Algorithm::kFused;
}

bool queryDevice(DeviceLimits* limits) {
  int device = 0, major = 0, smem = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  *limits = DeviceLimits{major, static_cast<size_t>(smem), sms};
  return true;
}

bool algorithmRuns(const DeformConvParams& p, Precision precision, Algorithm algorithm, bool blasUsable,
                   const DeviceLimits& device) {
  switch (algorithm) {
    case Algorithm::kAuto: return true;
    case Algorithm::kFused: return true;  // the fallback: its launch reports a GPU without the shared memory
    case Algorithm::kSampledGemm: return blasUsable && sampledPathSupports(p);
    case Algorithm::kPipelined: return pipelinedRunsOn(p, precision, device);
  }
  return false;
}

int32_t encodeTactic(Tactic t) {
  return 16 * static_cast<int32_t>(t.algorithm) + t.gemmVariant;
}

bool decodeTactic(int32_t code, Tactic* t) {
  *t = Tactic{};
  if (code == 0) return true;
  const int32_t algorithm = code / 16, variant = code % 16;
  // Only what offeredTactics offers: the fused kernel is the fallback of kAuto, never worth timing.
  if (code < 0 || (algorithm != static_cast<int32_t>(Algorithm::kSampledGemm) &&
                   algorithm != static_cast<int32_t>(Algorithm::kPipelined)))
    return false;
  if (variant != 0 && (algorithm != static_cast<int32_t>(Algorithm::kSampledGemm) || variant >= blas::kGemmVariants))
    return false;
  t->algorithm = static_cast<Algorithm>(algorithm);
  t->gemmVariant = variant;
  return true;
}

std::vector<int32_t> offeredTactics(const DeformConvParams& p, Precision precision, bool blasUsable, bool ltUsable,
                                    const DeviceLimits& device) {
  std::vector<int32_t> out;
  if (checkParams(p)[0] != '\0') return out;
  if (algorithmRuns(p, precision, Algorithm::kSampledGemm, blasUsable, device)) {
    const int variants = ltUsable ? blas::kGemmVariants : 1;
    for (int v = 0; v < variants; ++v) out.push_back(encodeTactic({Algorithm::kSampledGemm, v}));
  }
  if (algorithmRuns(p, precision, Algorithm::kPipelined, blasUsable, device))
    out.push_back(encodeTactic({Algorithm::kPipelined, 0}));
  if (out.size() < 2) out.clear();  // one way to run: nothing for the builder to time
  return out;
}

const char* launchDeformConv2d(const DeformConvParams& p, Precision precision, Algorithm algorithm,
                               const blas::Handle* blas, const void* input, const void* weight, const void* offset,
                               const void* mask, const void* bias, void* output, void* workspace, cudaStream_t stream,
                               int gemmVariant, bool autoWhereUnable) {
  if (const char* why = checkParams(p); why[0] != '\0') return why;
  const Derived d = derive(p, precision);
  if (d.totalPix == 0) return nullptr;  // empty batch: nothing to write (its tensors may be null)
  if (p.useMask && mask == nullptr) return "use_mask is set but no mask was given";
  if (p.hasBias && p.weightRowElems == 0 && bias == nullptr) return "no bias was given";
  DeviceLimits limits;
  if (!queryDevice(&limits)) return "cannot query the current CUDA device";
  // TF32 tensor cores need sm_80+; older GPUs get strict fp32 (more accurate, what TF32 only speeds up).
  if (precision == Precision::kFloat32TF32 && limits.computeMajor < 8) precision = Precision::kFloat32Strict;
  const bool blasUsable = blas != nullptr && blas->ok();
  if (autoWhereUnable && !algorithmRuns(p, precision, algorithm, blasUsable, limits)) algorithm = Algorithm::kAuto;
  algorithm = chooseAlgorithm(p, precision, algorithm, blasUsable, limits);
  if (algorithm == Algorithm::kPipelined) {
    if (!pipelinedPathSupports(p, precision))
      return "the pipelined algorithm needs, per group, channels in multiples of 64 (fp16) or 32 (fp32, TF32) and "
             "output channels in multiples of 64, and channels per offset group in multiples of 8 (fp16) or 4 (fp32, "
             "TF32)";
    if (!pipelinedRunsOn(p, precision, limits))
      return "the pipelined algorithm needs compute capability 8.0+ and up to 128 KB of shared memory per block";
    return launchPipelined(p, precision, limits, input, weight, offset, mask, bias, output, workspace, stream);
  }
  if (algorithm == Algorithm::kSampledGemm) {
    if (blas == nullptr || !blas->ok()) return "the sampled algorithm needs cuBLAS, which is not available";
    if (!sampledPathSupports(p)) return "kernel taps x offset_groups too large for the sampled algorithm";
    return launchSampled(p, precision, limits, *blas, input, weight, offset, mask, bias, output, workspace, stream,
                         gemmVariant);
  }
  cudaError_t err = cudaErrorInvalidValue;
  switch (precision) {
    case Precision::kFloat32Strict:
      err = launchTyped<Precision::kFloat32Strict>(p, d, limits, input, weight, offset, mask, bias, output, workspace,
                                                   stream);
      break;
    case Precision::kFloat32TF32:
      err = launchTyped<Precision::kFloat32TF32>(p, d, limits, input, weight, offset, mask, bias, output, workspace,
                                                 stream);
      break;
    case Precision::kFloat16:
      err =
          launchTyped<Precision::kFloat16>(p, d, limits, input, weight, offset, mask, bias, output, workspace, stream);
      break;
  }
  if (err == cudaErrorInvalidConfiguration)
    return "the fused kernel needs ~75 KB of shared memory per block, which this GPU lacks (sm_75); load cuBLAS "
           "to use the sampled algorithm";
  return err == cudaSuccess ? nullptr : cudaGetErrorString(err);
}

}  // namespace dcn
}  // namespace trtkit
