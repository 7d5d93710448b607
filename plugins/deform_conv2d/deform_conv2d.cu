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

#include <cstdint>

#include "deform_conv2d_kernels.hpp"

namespace trtkit {
namespace dcn {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kAlign = 256;
#ifndef TRTKIT_DCN_STAGES
#define TRTKIT_DCN_STAGES 2  // chunks in flight: copies of chunk t+1 run while chunk t is blended and multiplied
#endif
#ifndef TRTKIT_DCN_MAX_BM
#define TRTKIT_DCN_MAX_BM 256  // widest output-channel tile (benchmark switch)
#endif
#ifndef TRTKIT_DCN_MIN_BLOCKS
#define TRTKIT_DCN_MIN_BLOCKS 1  // CTAs per SM the register budget is sized for (1: no spills, see README)
#endif

inline int64_t roundUp(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
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

__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }
template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ float fromFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half fromFloat<__half>(float v) {
  return __float2half_rn(v);
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
template <typename T>
__global__ void relayoutWeight(const T* __restrict__ w, T* __restrict__ out, int64_t groups, int64_t kk,
                               int64_t cinG, int64_t coutG, int64_t coutGPad) {
  const int64_t total = groups * kk * cinG * coutGPad;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t co = i % coutGPad;
    int64_t r = i / coutGPad;
    const int64_t ci = r % cinG;
    r /= cinG;
    const int64_t tap = r % kk;
    const int64_t g = r / kk;
    out[i] = co < coutG ? w[((g * coutG + co) * cinG + ci) * kk + tap] : fromFloat<T>(0.f);
  }
}

// ---- pass 3: the fused implicit GEMM --------------------------------------------------------------------
struct GemmArgs {
  const void* x;  // channels-last input (workspace)
  const void* w;  // re-laid weight (workspace)
  const void* offset;
  const void* mask;
  const void* bias;
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

__device__ __forceinline__ void cpAsync16(void* dst, const void* src, bool valid) {
  // 16 bytes global -> shared without registers; src-size 0 writes zeros and reads nothing.
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

template <Precision P, int BM, int BN, int BK>
struct TileShape {
  using Tr = Traits<P>;
  using T = typename Tr::T;
  static constexpr int kStages = TRTKIT_DCN_STAGES;
  static constexpr int kVec = Tr::kVec;
  // FFMA reads B k-major (float4 along pixels); the tensor-core paths read it pixel-major (16-byte stores
  // from the blend, no bank conflicts).
  static constexpr bool kBPixelMajor = P != Precision::kFloat32Strict;
  static constexpr int kLda = BM + Tr::kPad;
  static constexpr int kLdb = kBPixelMajor ? BK + Tr::kPad : BN + Tr::kPad;
  static constexpr int kBRows = kBPixelMajor ? BN : BK;
  static constexpr size_t kABytes = sizeof(T) * kStages * BK * kLda;     // weights, per stage [BK][kLda]
  static constexpr size_t kRawBytes = sizeof(T) * kStages * 4 * BN * BK;  // 4 corners, per stage [4][BN][BK]
  static constexpr size_t kBBytes = sizeof(T) * kBRows * kLdb;            // blended B, one buffer
  static constexpr size_t kWBytes = sizeof(float) * kStages * BN * 4;     // corner weights per stage
  static constexpr size_t kSmemBytes = kABytes + kRawBytes + kBBytes + kWBytes;
};

// One CTA: BM output channels (of one group) x BN output pixels; K walked in chunks of BK channels of one
// (tap, unit). Per chunk: cp.async the 4 corner vectors of every pixel and the weight rows kStages-1 chunks
// ahead; blend the corners of this chunk in shared memory; multiply.
template <Precision P, int BM, int BN, int BK>
__global__ void __launch_bounds__(kThreads, TRTKIT_DCN_MIN_BLOCKS) deformGemm(GemmArgs a) {
  using Shape = TileShape<P, BM, BN, BK>;
  using T = typename Shape::T;
  constexpr int S = Shape::kStages;
  constexpr int V = Shape::kVec, LDA = Shape::kLda, LDB = Shape::kLdb;
  constexpr bool kBPixelMajor = Shape::kBPixelMajor;
  // The BK channels of one pixel are VR consecutive 16-byte vectors, handled by VR consecutive lanes (one
  // warp access touches few cache lines); each thread handles VPT pixels PSTEP apart.
  constexpr int VR = BK / V;
  constexpr int PSTEP = kThreads / VR;
  constexpr int VPT = BN / PSTEP;
  constexpr int A_PER_THREAD = BK * BM / V / kThreads;
  static_assert(S >= 2, "stages");
  static_assert(BK % V == 0 && kThreads % VR == 0 && BN % PSTEP == 0 && VPT >= 1, "tile shape");
  static_assert(A_PER_THREAD >= 1 && (BK * BM / V) % kThreads == 0, "tile shape");

  extern __shared__ __align__(128) unsigned char smem[];
  T* const As = reinterpret_cast<T*>(smem);
  T* const Raw = reinterpret_cast<T*>(smem + Shape::kABytes);
  T* const Bs = reinterpret_cast<T*>(smem + Shape::kABytes + Shape::kRawBytes);
  float* const Wq = reinterpret_cast<float*>(smem + Shape::kABytes + Shape::kRawBytes + Shape::kBBytes);

  const T* __restrict__ xs = static_cast<const T*>(a.x);
  const T* __restrict__ ws = static_cast<const T*>(a.w);
  const T* __restrict__ offs = static_cast<const T*>(a.offset);
  const T* __restrict__ masks = static_cast<const T*>(a.mask);

  const int tid = threadIdx.x;
  const int g = blockIdx.y / a.mTilesPerGroup;
  const int m0 = (blockIdx.y % a.mTilesPerGroup) * BM;
  const int n0 = blockIdx.x * BN;

  const int vec = tid % VR;       // this thread's 16-byte vector within a pixel's chunk
  const int spBase = tid / VR;    // this thread's first pixel within the tile

  const int unitsPerGroup = a.cinG / a.unit;
  const int chunksPerUnit = (a.unit + BK - 1) / BK;
  const int numChunks = a.kk * unitsPerGroup * chunksPerUnit;

  // Per pixel handled: output coordinates (fixed), sampling of the current (tap, offset group), and the raw
  // offset/mask values of the next one, fetched a chunk early so their latency hides behind the work.
  int pImg[VPT], pHw[VPT], pOy[VPT], pOx[VPT];
  bool pOk[VPT];
#pragma unroll
  for (int i = 0; i < VPT; ++i) {
    const int pix = n0 + spBase + i * PSTEP;
    pOk[i] = pix < a.totalPix;
    const int pp = pOk[i] ? pix : 0;
    pImg[i] = pp / a.hoWo;
    pHw[i] = pp - pImg[i] * a.hoWo;
    pOy[i] = pHw[i] / a.outW;
    pOx[i] = pHw[i] - pOy[i] * a.outW;
  }
  int curKey = -1, pfKey = -1;
  int cornerOff[VPT][4];
  float cornerW[VPT][4];
  float pfOffH[VPT], pfOffW[VPT], pfMask[VPT];

  // K order: unit, chunk of channels, tap innermost, so the corner lines one tap gathers are still in L1
  // when the neighbouring taps gather them (they overlap heavily for small offsets).
  auto keyOf = [&](int t, int& tap, int& u, int& c0, int& ogIdx) {
    tap = t % a.kk;
    const int r = t / a.kk;
    c0 = (r % chunksPerUnit) * BK;
    u = r / chunksPerUnit;
    ogIdx = ((g * unitsPerGroup + u) * a.unit) / a.cinOG;
    return tap * a.offsetGroups + ogIdx;
  };
  auto fetch = [&](int key) {
    const int tap = key / a.offsetGroups, ogIdx = key - tap * a.offsetGroups;
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      pfOffH[i] = pfOffW[i] = 0.f;
      pfMask[i] = 1.f;
      if (!pOk[i]) continue;
      const int64_t og = static_cast<int64_t>(pImg[i]) * a.offsetGroups + ogIdx;
      const int64_t ob = (og * a.kk * 2 + 2 * tap) * a.hoWo + pHw[i];
      pfOffH[i] = toFloat(offs[ob]);
      pfOffW[i] = toFloat(offs[ob + a.hoWo]);
      if (a.useMask) pfMask[i] = toFloat(masks[(og * a.kk + tap) * a.hoWo + pHw[i]]);
    }
    pfKey = key;
  };
  auto computeSampling = [&](int key) {
    const int tap = key / a.offsetGroups;
    const int ti = tap / a.kernelW, tj = tap - ti * a.kernelW;
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        cornerW[i][q] = 0.f;
        cornerOff[i][q] = -1;
      }
      const float y = static_cast<float>(pOy[i] * a.strideH - a.padH + ti * a.dilationH) + pfOffH[i];
      const float x = static_cast<float>(pOx[i] * a.strideW - a.padW + tj * a.dilationW) + pfOffW[i];
      // torchvision: a point at or beyond one pixel outside the image samples zero; otherwise each of the
      // four corners contributes only when it lies inside the image.
      if (!pOk[i] || !(y > -1.f && y < a.height && x > -1.f && x < a.width)) continue;
      const float yf = floorf(y), xf = floorf(x);
      const int y0 = static_cast<int>(yf), x0 = static_cast<int>(xf);
      const float ly = y - yf, lx = x - xf, hy = 1.f - ly, hx = 1.f - lx;
      const int ys[4] = {y0, y0, y0 + 1, y0 + 1};
      const int xq[4] = {x0, x0 + 1, x0, x0 + 1};
      const float wq[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const bool ok = ys[q] >= 0 && ys[q] < a.height && xq[q] >= 0 && xq[q] < a.width;
        cornerW[i][q] = ok ? wq[q] * pfMask[i] : 0.f;
        cornerOff[i][q] = ok ? ((pImg[i] * a.height + ys[q]) * a.width + xq[q]) * a.cPad : -1;
      }
    }
    curKey = key;
  };

  // Starts the copies of chunk t into stage slot `slot` (the caller commits the group).
  auto issue = [&](int t, int slot) {
    int tap, u, c0, ogIdx;
    const int key = keyOf(t, tap, u, c0, ogIdx);
    if (key != curKey) {
      if (key != pfKey) fetch(key);
      computeSampling(key);
    }
    if (t + 1 < numChunks) {
      int tap1, u1, c01, og1;
      const int next = keyOf(t + 1, tap1, u1, c01, og1);
      if (next != curKey && next != pfKey) fetch(next);
    }
    const int uAbs = g * unitsPerGroup + u;
    const int c = c0 + vec * V;
    const bool cOk = c < a.unit;  // vectors past the unit's channels are padding: zero-filled
    const T* xc = xs + uAbs * a.unitPad + c;
    T* raw = Raw + slot * 4 * BN * BK;
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      const int sp = spBase + i * PSTEP;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const bool ok = cOk && cornerOff[i][q] >= 0;
        cpAsync16(raw + (q * BN + sp) * BK + vec * V, ok ? xc + cornerOff[i][q] : xs, ok);
      }
      if (vec == 0) {
#pragma unroll
        for (int q = 0; q < 4; ++q) Wq[(slot * BN + sp) * 4 + q] = cornerW[i][q];
      }
    }
    T* as = As + slot * BK * LDA;
#pragma unroll
    for (int r = 0; r < A_PER_THREAD; ++r) {
      const int vecId = tid + r * kThreads;
      const int kr = vecId / (BM / V);
      const int mv = (vecId % (BM / V)) * V;
      const bool ok = c0 + kr < a.unit && m0 + mv < a.coutGPad;
      const T* src = ok ? ws + (static_cast<int64_t>(g * a.kk + tap) * a.cinG + u * a.unit + c0 + kr) * a.coutGPad +
                              m0 + mv
                        : ws;
      cpAsync16(as + kr * LDA + mv, src, ok);
    }
  };

  // B tile of the chunk in `slot`: the corners blended with their weights (mask folded in), fp32 sums.
  auto blend = [&](int slot) {
    const T* raw = Raw + slot * 4 * BN * BK;
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      const int sp = spBase + i * PSTEP;
      float acc[V];
#pragma unroll
      for (int e = 0; e < V; ++e) acc[e] = 0.f;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const float w = Wq[(slot * BN + sp) * 4 + q];
        const uint4 r = *reinterpret_cast<const uint4*>(raw + (q * BN + sp) * BK + vec * V);
        const T* vals = reinterpret_cast<const T*>(&r);
#pragma unroll
        for (int e = 0; e < V; ++e) acc[e] += w * toFloat(vals[e]);
      }
      if constexpr (kBPixelMajor) {
        uint4 packed;
        T* pv = reinterpret_cast<T*>(&packed);
#pragma unroll
        for (int e = 0; e < V; ++e) pv[e] = fromFloat<T>(acc[e]);
        *reinterpret_cast<uint4*>(Bs + sp * LDB + vec * V) = packed;
      } else {
#pragma unroll
        for (int e = 0; e < V; ++e) Bs[(vec * V + e) * LDB + sp] = fromFloat<T>(acc[e]);
      }
    }
  };

  const T* __restrict__ biasp = static_cast<const T*>(a.bias);
  T* __restrict__ outp = static_cast<T*>(a.out);
  auto writeOut = [&](int m, int p, float v) {
    if (m >= a.coutG || p >= a.totalPix) return;
    const int co = g * a.coutG + m;
    if (a.hasBias) v += toFloat(biasp[co]);
    const int im = p / a.hoWo;
    const int sidx = p - im * a.hoWo;
    outp[(static_cast<int64_t>(im) * a.outChannels + co) * a.hoWo + sidx] = fromFloat<T>(v);
  };

  // Pipeline: chunk t's copies were started S-1 iterations earlier.
#pragma unroll
  for (int s0 = 0; s0 < S - 1; ++s0) {
    if (s0 < numChunks) issue(s0, s0);
    cpAsyncCommit();
  }
  auto beginChunk = [&](int t) {
    cpAsyncWait<S - 2>();  // this thread's copies of chunk t have landed
    __syncthreads();       // everyone's have; and the previous chunk's products are done with Bs
    blend(t % S);
    __syncthreads();
    if (t + S - 1 < numChunks) issue(t + S - 1, (t + S - 1) % S);
    cpAsyncCommit();
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
      beginChunk(t);
      const float* as = As + (t % S) * BK * LDA;
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
          const float4 f = *reinterpret_cast<const float4*>(Bs + k * LDB + gj * (BN / GN) + tx * 4);
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
    }
    cpAsyncWait<0>();
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j)
        writeOut(m0 + (i / 4) * (BM / GM) + ty * 4 + (i % 4), n0 + (j / 4) * (BN / GN) + tx * 4 + (j % 4), acc[i][j]);
  } else {
    namespace wm = nvcuda::wmma;
    constexpr bool kTF32 = P == Precision::kFloat32TF32;
    constexpr int KS = kTF32 ? 8 : 16;  // k of one mma
    using InT = std::conditional_t<kTF32, wm::precision::tf32, __half>;
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
      beginChunk(t);
      const T* as = As + (t % S) * BK * LDA;
#pragma unroll
      for (int k = 0; k < BK; k += KS) {
        wm::fragment<wm::matrix_a, 16, 16, KS, InT, wm::col_major> fa[FM];
        wm::fragment<wm::matrix_b, 16, 16, KS, InT, wm::col_major> fb[FN];
#pragma unroll
        for (int i = 0; i < FM; ++i) {
          wm::load_matrix_sync(fa[i], as + k * LDA + wmIdx * WM + i * 16, LDA);
          if constexpr (kTF32) {
#pragma unroll
            for (int e = 0; e < fa[i].num_elements; ++e) fa[i].x[e] = wm::__float_to_tf32(fa[i].x[e]);
          }
        }
#pragma unroll
        for (int j = 0; j < FN; ++j) {
          wm::load_matrix_sync(fb[j], Bs + (wnIdx * WN + j * 16) * LDB + k, LDB);
          if constexpr (kTF32) {
#pragma unroll
            for (int e = 0; e < fb[j].num_elements; ++e) fb[j].x[e] = wm::__float_to_tf32(fb[j].x[e]);
          }
        }
#pragma unroll
        for (int i = 0; i < FM; ++i)
#pragma unroll
          for (int j = 0; j < FN; ++j) wm::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
      }
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

template <Precision P, int BM, int BN, int BK>
cudaError_t launchGemm(const GemmArgs& args, int64_t groups, cudaStream_t stream) {
  using Shape = TileShape<P, BM, BN, BK>;
  if (Shape::kSmemBytes > 48 * 1024) {
    // Idempotent, so concurrent first launches may both set it; the static only avoids repeating the call.
    static const cudaError_t raised = cudaFuncSetAttribute(
        deformGemm<P, BM, BN, BK>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Shape::kSmemBytes));
    if (raised != cudaSuccess) return raised;
  }
  const dim3 grid(static_cast<unsigned>((args.totalPix + BN - 1) / BN),
                  static_cast<unsigned>(groups * args.mTilesPerGroup));
  deformGemm<P, BM, BN, BK><<<grid, kThreads, Shape::kSmemBytes, stream>>>(args);
  return cudaGetLastError();
}

// Channels per chunk: a whole cache line of one pixel (128 bytes) when the unit is long enough, else half.
template <Precision P, int BM>
cudaError_t launchForUnit(const GemmArgs& args, int64_t groups, cudaStream_t stream) {
  constexpr int kLong = Traits<P>::kVec * 8, kShort = Traits<P>::kVec * 4;
  if (args.unit > kShort) return launchGemm<P, BM, 64, kLong>(args, groups, stream);
  return launchGemm<P, BM, 64, kShort>(args, groups, stream);
}

template <Precision P>
cudaError_t launchTyped(const DeformConvParams& p, const Derived& d, const void* input, const void* weight,
                        const void* offset, const void* mask, const void* bias, void* output, void* workspace,
                        cudaStream_t stream) {
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
      static_cast<const T*>(weight), ws, p.groups, d.kk, d.cinG, d.coutG, d.coutGPad);

  GemmArgs g{};
  g.x = xs;
  g.w = ws;
  g.offset = offset;
  g.mask = mask;
  g.bias = bias;
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
  g.hasBias = p.hasBias ? 1 : 0;

  // Tile choice: 64, 128 or 256 output channels; 64 pixels.
  // Every M tile gathers the samples again, so the widest tile that is not mostly padding wins.
  const int bm = d.coutG <= 64 ? 64 : (d.coutG <= 128 || TRTKIT_DCN_MAX_BM < 256) ? 128 : 256;
  g.mTilesPerGroup = static_cast<int32_t>((d.coutG + bm - 1) / bm);
  if (bm == 64) return launchForUnit<P, 64>(g, p.groups, stream);
  if (bm == 128) return launchForUnit<P, 128>(g, p.groups, stream);
  return launchForUnit<P, 256>(g, p.groups, stream);
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
  if (p.outH <= 0 || p.outW <= 0) return "output size must be positive";
  // 32-bit pixel and element indices inside the kernels.
  const int64_t kMax = int64_t{1} << 31;
  if (p.batch * p.outH * p.outW >= kMax || p.batch * p.inChannels * p.height * p.width >= kMax ||
      p.batch * p.outChannels * p.outH * p.outW >= kMax ||
      p.batch * p.height * p.width * (p.inChannels + 8 * p.inChannels) >= kMax)  // padded channels-last copy
    return "tensor too large (more than 2^31 elements)";
  return "";
}

size_t workspaceBytes(const DeformConvParams& p, Precision precision) {
  if (checkParams(p)[0] != '\0') return 0;
  const Derived d = derive(p, precision);
  return static_cast<size_t>(d.inputBytes + d.weightBytes);
}

cudaError_t launchDeformConv2d(const DeformConvParams& p, Precision precision, const void* input, const void* weight,
                               const void* offset, const void* mask, const void* bias, void* output, void* workspace,
                               cudaStream_t stream) {
  if (checkParams(p)[0] != '\0') return cudaErrorInvalidValue;
  const Derived d = derive(p, precision);
  if (d.totalPix == 0) return cudaSuccess;  // empty batch: nothing to write (its tensors may be null)
  if (p.useMask && mask == nullptr) return cudaErrorInvalidValue;
  if (p.hasBias && bias == nullptr) return cudaErrorInvalidValue;
  switch (precision) {
    case Precision::kFloat32Strict:
      return launchTyped<Precision::kFloat32Strict>(p, d, input, weight, offset, mask, bias, output, workspace, stream);
    case Precision::kFloat32TF32:
      return launchTyped<Precision::kFloat32TF32>(p, d, input, weight, offset, mask, bias, output, workspace, stream);
    case Precision::kFloat16:
      return launchTyped<Precision::kFloat16>(p, d, input, weight, offset, mask, bias, output, workspace, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace dcn
}  // namespace trtkit
