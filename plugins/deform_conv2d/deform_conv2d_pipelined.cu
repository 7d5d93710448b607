// deform_conv2d as one warp-specialised implicit GEMM (fp16, TF32, strict fp32). kAuto uses it where it is measured
// faster than the sampled algorithm (64 output channels per group, strict fp32 on Hopper, or no cuBLAS); see
// chooseAlgorithm and bench/results.
//
// Why: the sampled algorithm writes a column matrix kh*kw times the input's size and reads it back for cuBLAS;
// at 64 channels that traffic alone exceeds a dense convolution's time. Here the samples never leave the SM:
//   - prepare (deform_conv2d_prepare.cuh): input NCHW -> NHWC, weight -> Wr[co][tap * Cin/g + c];
//   - a tile is BM (64 or 128 output channels of one group) x BN (128 output pixels of one image; 64 for strict
//     fp32 on Hopper); one CTA per SM runs tiles in turn. Its K loop walks stages of (channel slice, tap), taps
//     inner so a slice's neighbourhood stays in L1. Producer warps (8, or 16 for fp16 64-channel tiles: PipeWarps) fill
//     a ring of kStages shared-memory stages that runs on across the CTA's tiles: the A slice (BM rows of Wr, loaded a
//     stage ahead) and the B slice (BN pixels x one 128-byte row of channels, 64 fp16 / 32 fp32: four bilinear corners
//     per pixel, 8 lanes of 16 bytes per pixel, blended in half2 / fp32). Corners are computed once per (pixel, offset
//     group) into a per-warp table, from offsets and mask loaded two stages ahead. Consumer warps (8, or 4)
//     multiply each full stage (wgmma on sm_90a builds, else mma.sync; fp16 or TF32 products, fp32 sums; strict
//     fp32: fp64 MMAs on Hopper, consumeDMMA, else FFMA, consumeFFMA) while the producers fill the next ones; mbarriers
//     hand stages over (full: producers -> consumers, empty: back); waiting warps sleep in try_wait (sm_90) instead of
//     spinning.
//   - the consumers add the bias and write the tile to NCHW.
// Shared memory rows are 128 bytes with 16-byte chunks XOR-swizzled by row (the 128-byte swizzle of wgmma's
// descriptors; ldmatrix and the producers' stores are free of bank conflicts). Measured (bench/results/
// deform_conv2d_notes.md): producer-bound; wgmma consumers gained 4-10 % over mma.sync, persistent CTAs ~5 % at
// 64 output channels; clusters sharing the gathers through distributed shared memory were slower.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

#include "deform_conv2d_kernels.hpp"
#include "deform_conv2d_launch.cuh"
#include "deform_conv2d_prepare.cuh"

// Consumers on Hopper's warpgroup MMA where the build targets sm_90a (measured 4-10 % faster than mma.sync).
#ifndef TRTKIT_DCN_PIPE_WGMMA
#define TRTKIT_DCN_PIPE_WGMMA 1  // benchmark switch: 0 keeps mma.sync on sm_90a too
#endif
#if defined(__CUDA_ARCH_FEAT_SM90_ALL) && TRTKIT_DCN_PIPE_WGMMA
#define TRTKIT_DCN_USE_WGMMA 1
#include "deform_conv2d_wgmma.cuh"
#else
#define TRTKIT_DCN_USE_WGMMA 0
#endif

namespace trtkit {
namespace dcn {
namespace {

// K per stage: one tap x one 128-byte row of channels per pixel / output channel (64 fp16 or 32 fp32 channels),
// read by 8 lanes of 16 bytes (kVec channels each).
template <typename T>
constexpr int kBK = 128 / static_cast<int>(sizeof(T));
template <typename T>
constexpr int kVec = 16 / static_cast<int>(sizeof(T));
#ifndef TRTKIT_DCN_PIPE_STAGES
#define TRTKIT_DCN_PIPE_STAGES 3  // benchmark switch: shared-memory stages in the ring (4: measured no faster)
#endif
#ifndef TRTKIT_DCN_PIPE_BN
#define TRTKIT_DCN_PIPE_BN 128  // benchmark switch: output pixels per tile (64 or 128)
#endif
#ifndef TRTKIT_DCN_PIPE_FFMA_STAGES
#define TRTKIT_DCN_PIPE_FFMA_STAGES 4  // benchmark switch: the ring's stages for strict fp32 (FFMA consumers)
#endif
// Ring depth per consumer kind: 4 stages made the FFMA kernel 1-6 % faster at N4 C512 and N16 C64 (H100,
// bench/experiments/results/pipelined_ffma_H100.md); fp16 and TF32 measured no faster with 4 (session 12).
template <bool kFFMA>
constexpr int kStagesOf = kFFMA ? TRTKIT_DCN_PIPE_FFMA_STAGES : TRTKIT_DCN_PIPE_STAGES;
#ifndef TRTKIT_DCN_PIPE_NARROW_FEW
#define TRTKIT_DCN_PIPE_NARROW_FEW 1  // benchmark switch: 64-channel tiles where 128-channel ones leave SMs idle
#endif
constexpr bool kNarrowWhenFew = TRTKIT_DCN_PIPE_NARROW_FEW != 0;
#ifndef TRTKIT_DCN_PIPE_PERSISTENT
#define TRTKIT_DCN_PIPE_PERSISTENT 1  // benchmark switch: one CTA per SM looping over tiles (0: a CTA per tile)
#endif
constexpr bool kPersistent = TRTKIT_DCN_PIPE_PERSISTENT != 0;
#ifndef TRTKIT_DCN_PIPE_NARROW_PRODUCERS
#define TRTKIT_DCN_PIPE_NARROW_PRODUCERS 16  // benchmark switch: producer warps of fp16 64-channel tiles (8 or 16)
#endif
#ifndef TRTKIT_DCN_PIPE_NARROW_CONSUMERS
#define TRTKIT_DCN_PIPE_NARROW_CONSUMERS 4  // benchmark switch: consumer warps of fp16 64-channel tiles (8 or 4)
#endif
#ifndef TRTKIT_DCN_PIPE_MANY_MAJOR
#define TRTKIT_DCN_PIPE_MANY_MAJOR 9  // test switch: the GPUs (compute major) whose fp16 64-channel tiles get kMany
#endif
#ifndef TRTKIT_DCN_PIPE_NARROW_CTAS
#define TRTKIT_DCN_PIPE_NARROW_CTAS 1  // benchmark switch: resident CTAs per SM with 64-channel tiles (1 or 2)
#endif
// Warps of a CTA: producers gather, consumers multiply. fp16 64-channel tiles on Hopper (kMany) have 16 producer
// warps and one consumer warpgroup (m64n128): their MMAs are light and the gathers latency-bound, so more gathering
// warps hide more of it (N16 C64 og4 0.416 -> 0.302 ms; bench/results/deform_conv2d_notes.md, session 12). TF32
// tiles, whose MMAs take twice as long, measured slower that way (0.433 -> 0.458 ms) and keep 8 + 8, as 128-channel
// tiles and mma.sync builds do (4 mma.sync consumer warps would spill at the 96 registers 640 threads leave).
#ifndef TRTKIT_DCN_PIPE_FFMA_WARPS
#define TRTKIT_DCN_PIPE_FFMA_WARPS 8  // benchmark switch: FFMA consumer warps (8, or 4: 8x16 outputs per thread)
#endif
#ifndef TRTKIT_DCN_PIPE_FFMA_REGISTERS
#define TRTKIT_DCN_PIPE_FFMA_REGISTERS 152  // benchmark switch: FFMA consumer registers on sm_90a (4 warps: 232)
#endif
#ifndef TRTKIT_DCN_PIPE_FFMA_ROTATE
#define TRTKIT_DCN_PIPE_FFMA_ROTATE 1  // benchmark switch: 0 stores A's 16-byte chunks unrotated for FFMA too
#endif
#ifndef TRTKIT_DCN_PIPE_DMMA
#define TRTKIT_DCN_PIPE_DMMA 1  // benchmark switch: 0 keeps FFMA consumers for strict fp32 on sm_90 too
#endif
// Strict fp32 products on Hopper's fp64 tensor cores (consumeDMMA): an fp32 x fp32 product is exact in fp64, and
// the sums run in fp64, so the result is at least as accurate as fp32 FFMA (one rounding to fp32 at the end), and
// never TF32. Measured on the H100 (bench/experiments/dmma_rate.cu): mma.sync m16n8k4 .f64 on fp32 operands read
// with LDS.128 and widened with F2F ran at 61.7 TFLOP/s (m16n8k8 from registers 66), cuBLAS's FFMA SGEMM at 50-52
// and the FFMA consumers at ~42 (notes, session 15). sm_90 only (the m16n8k4/k8/k16 .f64 shapes; the host picks
// these kernels on compute capability 9 only: other GPUs' fp64 rates are no faster than FFMA, or far slower).
// Their tiles are 64 pixels wide (64 fp64 accumulators per consumer thread; 128-pixel tiles spilled at any register
// split ptxas was given): kernels instantiated with BN == kDmmaPixels run DMMA consumers, the others FFMA ones.
constexpr int kDmmaPixels = 64, kFFMAPixels = 128;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && __CUDA_ARCH__ < 1000 && TRTKIT_DCN_PIPE_DMMA
#define TRTKIT_DCN_USE_DMMA 1
#else
#define TRTKIT_DCN_USE_DMMA 0
#endif
#ifndef TRTKIT_DCN_PIPE_MEASURE_PRODUCERS_ONLY
#define TRTKIT_DCN_PIPE_MEASURE_PRODUCERS_ONLY 0  // measurement switch: 1 skips the DMMA consumers' loads and MMAs
#endif
#ifndef TRTKIT_DCN_PIPE_MEASURE_CONSUMERS_ONLY
#define TRTKIT_DCN_PIPE_MEASURE_CONSUMERS_ONLY 0  // measurement switch: 1 fills only a CTA's first stages (wrong)
#endif
// FFMA multiplicands of different register parity. A and B pieces land in register quads (LDS.128), so the FFMA of
// K element c would read component c of both: two registers of one parity, one bank in the two-bank model measured
// on Volta and later (NVIDIA documents no register banks). The producers store A's chunks rotated by one element for
// FFMA consumers, so that element c of A is component c - 1 and the two differ in parity: measured 2-3 % faster on
// the H100 (notes, session 14).
constexpr bool kRotateA = TRTKIT_DCN_PIPE_FFMA_ROTATE != 0;
// Strict fp32 (kFFMA) without DMMA: 8 consumer warps of 8x8 FFMA outputs per thread (8x4 with 64-channel tiles);
// with DMMA the same 8 warps (64 fp64 accumulators each) and the same register split. On sm_90a they
// take registers from the producers (setmaxnreg: consumerRegisters / producerRegisters), without which 8x8 tiles
// spill at the 128 registers 512 threads leave. Measured (H100, notes): one warpgroup of 8x16 tiles was 1.3-1.8x
// slower (one FFMA warp per scheduler hides no latency); with fragments loaded ahead (consumeFFMA), 152 consumer
// registers were 5-8 % faster than 144 (where ptxas shuffled the accumulators with MOVs).
template <typename T, int BM, bool kMany, bool kFFMA = false>
struct PipeWarps {
  static_assert(!kMany || (BM == 64 && sizeof(T) == 2), "many producers: fp16 64-channel tiles only");
  static_assert(!kFFMA || (!kMany && sizeof(T) == 4), "FFMA consumers: fp32 only");
  static constexpr int producers = kMany ? TRTKIT_DCN_PIPE_NARROW_PRODUCERS : 8;
  static constexpr int consumers = kFFMA ? TRTKIT_DCN_PIPE_FFMA_WARPS : kMany ? TRTKIT_DCN_PIPE_NARROW_CONSUMERS : 8;
  static constexpr int ctasPerSM = BM == 64 ? TRTKIT_DCN_PIPE_NARROW_CTAS : 1;
  static constexpr int producerThreads = 32 * producers, consumerThreads = 32 * consumers;
  static constexpr int threads = producerThreads + consumerThreads;
  static constexpr int pixelsPerRound = 4 * producers;  // a producer warp load covers 4 pixels
  static_assert(producers == 8 || producers == 16, "a round is 32 or 64 pixels");
  static_assert(consumers == 8 || consumers == 4, "one or two consumer warpgroups");
  // kFFMA on sm_90a: setmaxnreg moves registers within the CTA's own pool, the registers it was launched with
  // (launchRegisters per thread: ptxas gives kernels that use setmaxnreg the most __launch_bounds__ allows). A
  // request beyond the pool would wait forever; launchPipe checks the kernel's count before launching.
  static constexpr int launchRegisters = 65536 / threads / 8 * 8;
  static constexpr int consumerRegisters = TRTKIT_DCN_PIPE_FFMA_REGISTERS;
  static constexpr int producerRegisters =
      (launchRegisters * threads - consumerThreads * consumerRegisters) / producerThreads / 8 * 8;
  static_assert(!kFFMA || (producerRegisters >= 24 && producerRegisters <= launchRegisters &&
                           consumerRegisters >= launchRegisters && consumerRegisters <= 256 &&
                           producerThreads * producerRegisters + consumerThreads * consumerRegisters <=
                               launchRegisters * threads),
                "the FFMA register split: producers give, consumers take, within the CTA's pool");
};
constexpr int64_t kPipeAlign = 256;

template <int BM, int BN, int kStages>
constexpr int kPipeSmemBytes = kStages * (BM + BN) * 128;

#ifndef TRTKIT_DCN_PIPE_SPLIT_TABLE
#define TRTKIT_DCN_PIPE_SPLIT_TABLE 1  // benchmark switch: 0 keeps 32-byte table entries with many producers too
#endif
#ifndef TRTKIT_DCN_PIPE_FAST_DIVIDE
#define TRTKIT_DCN_PIPE_FAST_DIVIDE 1  // benchmark switch: 0 divides by cinOG with an integer division per stage
#endif
struct PipeArgs {
  int height, width, channels, outH, outW, pixels;  // pixels = Ho*Wo
  int kernelW, kk, strideH, strideW, padH, padW, dilationH, dilationW;
  int offsetGroups, cinOG, cinG, coutG, outChannels, coTilesPerGroup, pixelTiles, wrStride;
  int biasStride;            // elements between bias[co] and bias[co + 1]: 1, or the weight's row for GEMM rows
  int ogPerSlice;            // offset groups in a stage where they divide it (corner tables), else 1
  FastDivisor cinOGDivisor;  // the producers' per-stage offset group, without an integer division
  int useMask;
};

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
__device__ __forceinline__ uint32_t sharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
#if !TRTKIT_DCN_USE_WGMMA  // the mma.sync consumers' addressing (wgmma swizzles by address itself)
// Byte offset of 16-byte chunk `chunk` (0-7) of row `row` in a tile of 128-byte rows: chunks XOR-swizzled by the
// row, so 8 consecutive rows at one logical chunk fall in 8 different bank groups.
__device__ __forceinline__ uint32_t swizzled(int row, int chunk) {
  return static_cast<uint32_t>(row * 128 + ((chunk ^ (row & 7)) << 4));
}
#endif

// Stage hand-over: per slot a "full" mbarrier (every producer thread arrives) and an "empty" one (every consumer
// thread arrives). Arrive releases the thread's prior shared-memory writes or reads, the parity wait acquires them:
// the ordering compute-sanitizer's racecheck follows (it reported races through bar.arrive/bar.sync pairs).
__device__ __forceinline__ void stageBarrierInit(uint32_t barrier, int count) {
  asm volatile("mbarrier.init.shared.b64 [%0], %1;" ::"r"(barrier), "r"(count) : "memory");
}
__device__ __forceinline__ void stageBarrierArrive(uint32_t barrier) {
  asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared.b64 state, [%0];\n}" ::"r"(barrier) : "memory");
}
#ifndef TRTKIT_DCN_PIPE_TRY_WAIT
#define TRTKIT_DCN_PIPE_TRY_WAIT 1  // benchmark switch: 0 spins on test_wait on sm_90 too
#endif
// Waits until the barrier's phase number `use` (counted from 0) has completed. On sm_90 try_wait suspends the warp
// until the phase completes (or a time limit), so waiting warps leave the issue slots to the working ones; test_wait
// spins.
__device__ __forceinline__ void stageBarrierWait(uint32_t barrier, int use) {
  uint32_t done = 0;
  while (!done) {
#if __CUDA_ARCH__ >= 900 && TRTKIT_DCN_PIPE_TRY_WAIT
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}"
                 : "=r"(done)
                 : "r"(barrier), "r"(static_cast<uint32_t>(use & 1))
                 : "memory");
#else
    asm volatile("{\n.reg .pred p;\nmbarrier.test_wait.parity.shared.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}"
                 : "=r"(done)
                 : "r"(barrier), "r"(static_cast<uint32_t>(use & 1))
                 : "memory");
#endif
  }
}
// Consumers: waits until the ring's use number `use` (counted over the CTA's tiles) is full; returns its slot.
template <int kStages>
__device__ __forceinline__ int waitFullStage(uint32_t full, int64_t use) {
  const int s = static_cast<int>(use % kStages);
  stageBarrierWait(full + 8 * s, static_cast<int>((use / kStages) & 1));
  return s;
}
#if !TRTKIT_DCN_USE_WGMMA
__device__ __forceinline__ void loadMatrixX4(uint32_t (&r)[4], uint32_t address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
}
__device__ __forceinline__ void mmaF16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void mmaTF32(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
#endif
__device__ __forceinline__ uint32_t roundToTF32(float v) {  // round to nearest: the mma itself would truncate
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
  return r;
}

// Output pixels p, p + 1 of one NCHW row (the consumers' epilogues): one paired store where the row has an even
// length (so the pair is aligned) and both exist, else each that exists.
template <typename T>
__device__ __forceinline__ void storeOutputPair(T* row, int p, int pixels, bool pairs, float v0, float v1) {
  if (pairs && p + 1 < pixels) {
    if constexpr (sizeof(T) == 2) {
      *reinterpret_cast<__half2*>(row + p) = __floats2half2_rn(v0, v1);
    } else {
      *reinterpret_cast<float2*>(row + p) = make_float2(v0, v1);
    }
  } else {
    if (p < pixels) row[p] = fromFloat<T>(v0);
    if (p + 1 < pixels) row[p + 1] = fromFloat<T>(v1);
  }
}

// What one (pixel, tap, offset group) reads from offset and mask: loaded a stage ahead of its use, so that the
// global-memory latency of these loads hides behind the current stage's gathers.
struct SampleInputs {
  float y, x, m;  // offsets (dy, dx) and mask
};

// A pixel of the tile as the producers use it: its top-left tap's input position (ho*stride - pad), or
// y0 = INT_MIN / 2 past the output's edge (every tap then falls outside the image).
struct PixelOrigin {
  int p, y0, x0;
};

__device__ __forceinline__ PixelOrigin originOf(const PipeArgs& a, int p) {
  if (p >= a.pixels) return {0, -(1 << 29), -(1 << 29)};
  const int ho = p / a.outW, wo = p - ho * a.outW;
  return {p, ho * a.strideH - a.padH, wo * a.strideW - a.padW};
}

// offsetImage / maskImage point at image n's planes; plane(og, tap) = og * kk + tap.
template <typename T>
__device__ __forceinline__ SampleInputs loadSampleInputs(const PipeArgs& a, const T* __restrict__ offsetImage,
                                                         const T* __restrict__ maskImage, int plane,
                                                         const PixelOrigin& o) {
  // offset channels are (og, tap, y/x): dy at channel 2 * plane, dx at 2 * plane + 1; mask channel = plane
  const int64_t dy = 2 * static_cast<int64_t>(plane) * a.pixels + o.p;
  SampleInputs s;
  s.y = toFloat(__ldg(offsetImage + dy));
  s.x = toFloat(__ldg(offsetImage + dy + a.pixels));
  s.m = a.useMask ? toFloat(__ldg(maskImage + static_cast<int64_t>(plane) * a.pixels + o.p)) : 1.f;
  return s;
}

// The four corners of one (pixel, tap, offset group): byte offsets of their channel rows from the image (the
// zero row's offset where a corner is outside) and their weights with the mask folded in, as half2 pairs (the
// blend's operand). torchvision's rule: zero unless -1 < y < H and -1 < x < W; then each corner counts only
// inside the image.
struct Corners {
  uint32_t off[4];
  uint32_t w[4];  // fp16: __half2 (w, w); fp32: the float's bits
};

template <typename T>
__device__ __forceinline__ uint32_t weightBits(float w) {
  if constexpr (sizeof(T) == 2) {
    const __half2 h = __float2half2_rn(w);
    return *reinterpret_cast<const uint32_t*>(&h);
  } else {
    return __float_as_uint(w);
  }
}

template <typename T>
__device__ __forceinline__ Corners cornersOf(const PipeArgs& a, SampleInputs in, const PixelOrigin& o, int ki, int kj,
                                             uint32_t zeroOffset) {
  Corners c;
  const float y = static_cast<float>(o.y0 + ki * a.dilationH) + in.y;
  const float x = static_cast<float>(o.x0 + kj * a.dilationW) + in.x;
  const float m = in.m;
  const bool inside =
      !(y <= -1.f || y >= static_cast<float>(a.height) || x <= -1.f || x >= static_cast<float>(a.width));
  const float yf = floorf(y), xf = floorf(x);
  const int yl = static_cast<int>(yf), xl = static_cast<int>(xf), yh = yl + 1, xh = xl + 1;
  const float ly = y - yf, lx = x - xf, hy = 1.f - ly, hx = 1.f - lx;
  const uint32_t rowBytes = static_cast<uint32_t>(a.channels) * sizeof(T);
  const bool okY[2] = {inside && yl >= 0, inside && yh < a.height};
  const bool okX[2] = {xl >= 0, xh < a.width};
  const float wy[2] = {hy, ly}, wx[2] = {hx, lx};
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int dy = q >> 1, dx = q & 1;
    const bool ok = okY[dy] && okX[dx];
    c.off[q] = ok ? static_cast<uint32_t>((yl + dy) * a.width + xl + dx) * rowBytes : zeroOffset;
    c.w[q] = weightBits<T>(ok ? wy[dy] * wx[dx] * m : 0.f);
  }
  return c;
}

// Stage order: channel slice outer, tap inner, so that a slice's neighbourhood (the tile's input rows x 128
// bytes) stays in L1 across the kh*kw taps that re-read it. Advanced incrementally (no divisions per stage).
struct StageCursor {
  int slice = 0, tap = 0, ki = 0, kj = 0;
  __device__ __forceinline__ void advance(const PipeArgs& a) {
    ++tap;
    if (++kj == a.kernelW) {
      kj = 0;
      if (++ki * a.kernelW == a.kk) {
        ki = 0;
        tap = 0;
        ++slice;
      }
    }
  }
};

// Producer warps: thread (warp pw, lane) owns 16-byte chunk (lane & 7) of pixels pw*4 + (lane >> 3) + R*j, j < BN/R,
// R = 4 x producer warps: a warp load instruction reads 4 whole 128-byte corner rows; all BN/R x 4 loads of a stage
// are in flight together.
// Corners: with kEntriesPerLane > 0 (offset groups of 8, 16 or 32 channels, or multiples of 64), a warp's
// (pixel, offset group) pairs of a stage - 4 * BN/R pixels x ogPerSlice groups - are computed once each, spread
// over the lanes (kEntriesPerLane per lane), and exchanged through a per-warp shared-memory table: two 16-byte
// reads per pixel and lane. With kEntriesPerLane == 0 (other offset-group widths) each lane computes the corners
// of its own pixels and offset group.
// The loads land in registers and the blend waits for them: ~2400 cycles a stage at N1. Copying them
// asynchronously into shared-memory staging buffers a stage ahead was measured slower (notes).
template <typename T, int BM, int BN, int kEntriesPerLane, bool kMany, bool kFFMA>
__device__ void produce(const PipeArgs& a, const T* __restrict__ image, uint32_t zeroOffset,
                        const T* __restrict__ offsetImage, const T* __restrict__ maskImage, const T* __restrict__ wr,
                        int g, int coBase, int pixelBase, int steps, int64_t ringStart, uint32_t smemA, uint32_t smemB,
                        uint32_t smemEntries, uint32_t full, uint32_t empty, int tid) {
  using W = PipeWarps<T, BM, kMany, kFFMA>;
  constexpr int kStages = kStagesOf<kFFMA>;
  constexpr int kRound = W::pixelsPerRound, kRounds = BN / kRound, kSlots = 4 * kRounds;  // a warp's pixels
  static_assert(BN % kRound == 0, "whole rounds per tile");
  constexpr bool kTable = kEntriesPerLane > 0;
  // Bank-conflict-free split tables where the kernel is bound by L1 wavefronts: many producers (fp16 N16 C64 og4
  // 0.306 -> 0.273 ms). With 8 + 8 warps they measured slower (TF32 0.386 -> 0.409 ms; fp16 in session 8).
  constexpr bool kSplitTable = kMany && TRTKIT_DCN_PIPE_SPLIT_TABLE != 0;
  constexpr int kInputs = kTable ? kEntriesPerLane : kRounds;  // (pixel, tap, og) inputs this lane loads per stage
  constexpr int kCopies = BM * 8 / W::producerThreads;         // 16-byte pieces of the A stage per thread
  static_assert(kCopies >= 1, "every producer copies part of the A stage");
  const int lane = tid & 31, warp = tid >> 5;
  const int chunk = lane & 7, sub = lane >> 3;
  const int entries = kSlots * a.ogPerSlice;
  // Which (pixel, og of the slice) input i of this lane is: table entry e = og * kSlots + slot, or (lane path) the
  // lane's own pixel of round i and its chunk's offset group.
  int entry[kInputs], ogInSlice[kInputs];
  PixelOrigin origin[kInputs];
#pragma unroll
  for (int i = 0; i < kInputs; ++i) {
    if (kTable) {
      entry[i] = (lane + 32 * i) % entries;  // lanes past the table's end duplicate an entry (same values)
      const int slot = kSplitTable ? entry[i] / a.ogPerSlice : entry[i] % kSlots;
      ogInSlice[i] = kSplitTable ? entry[i] % a.ogPerSlice : entry[i] / kSlots;
      origin[i] = originOf(a, pixelBase + warp * 4 + (slot & 3) + kRound * (slot >> 2));
    } else {
      entry[i] = 0;
      ogInSlice[i] = 0;
      origin[i] = originOf(a, pixelBase + warp * 4 + sub + kRound * i);
    }
  }
  auto planeOf = [&](const StageCursor& c, int i) {
    const int first = g * a.cinG + c.slice * kBK<T>;
#if TRTKIT_DCN_PIPE_FAST_DIVIDE
    const int og = kTable ? static_cast<int>(a.cinOGDivisor.divide(first)) + ogInSlice[i]
                          : static_cast<int>(a.cinOGDivisor.divide(first + chunk * kVec<T>));
#else
    const int og = kTable ? first / a.cinOG + ogInSlice[i] : (first + chunk * kVec<T>) / a.cinOG;
#endif
    return og * a.kk + c.tap;
  };
  auto loadInputs = [&](SampleInputs(&dst)[kInputs], const StageCursor& c) {
#pragma unroll
    for (int i = 0; i < kInputs; ++i) dst[i] = loadSampleInputs<T>(a, offsetImage, maskImage, planeOf(c, i), origin[i]);
  };
  // The table entry this lane reads for round j: its chunk's offset group within the slice, pixel slot 4j + sub.
  // Split tables: offsets[entries] then weights[entries], 16 bytes each, entry = slot * ogPerSlice + og, so that a
  // round's reads (4 slots x the slice's offset groups) fall in distinct banks; else 32-byte entries og * kSlots +
  // slot.
  const uint32_t warpTable = smemEntries + warp * entries * 32;
  const int chunkOG = (chunk * kVec<T>) / (kBK<T> / a.ogPerSlice);
  const uint32_t readOff =
      warpTable + (kSplitTable ? (sub * a.ogPerSlice + chunkOG) * 16 : (chunkOG * kSlots + sub) * 32);
  const uint32_t readW = readOff + (kSplitTable ? entries * 16 : 16);
  const uint32_t roundStride = kSplitTable ? 4 * a.ogPerSlice * 16 : 4 * 32;
  // A stage's corners: with tables, this stage's table (after every lane has read the previous one), then each
  // round's corners from it; else each lane's own.
  auto buildTable = [&](const SampleInputs(&in)[kInputs], const StageCursor& c) {
    if (!kTable) return;
    __syncwarp();
#pragma unroll
    for (int i = 0; i < kInputs; ++i) {
      const Corners k = cornersOf<T>(a, in[i], origin[i], c.ki, c.kj, zeroOffset);
      const uint32_t offAt = warpTable + entry[i] * (kSplitTable ? 16 : 32);
      const uint32_t wAt = kSplitTable ? warpTable + (entries + entry[i]) * 16 : offAt + 16;
      asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};" ::"r"(offAt), "r"(k.off[0]), "r"(k.off[1]), "r"(k.off[2]),
                   "r"(k.off[3])
                   : "memory");
      asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};" ::"r"(wAt), "r"(k.w[0]), "r"(k.w[1]), "r"(k.w[2]),
                   "r"(k.w[3])
                   : "memory");
    }
    __syncwarp();
  };
  auto cornersOfRound = [&](const SampleInputs(&in)[kInputs], const StageCursor& c, int j) {
    Corners k;
    if (kTable) {
      asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];"
                   : "=r"(k.off[0]), "=r"(k.off[1]), "=r"(k.off[2]), "=r"(k.off[3])
                   : "r"(readOff + j * roundStride)
                   : "memory");
      asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];"
                   : "=r"(k.w[0]), "=r"(k.w[1]), "=r"(k.w[2]), "=r"(k.w[3])
                   : "r"(readW + j * roundStride)
                   : "memory");
    } else {
      k = cornersOf<T>(a, in[j < kInputs ? j : 0], origin[j < kInputs ? j : 0], c.ki, c.kj, zeroOffset);
    }
    return k;
  };
  auto stageBase = [&](const StageCursor& c) {  // this lane's 16 bytes of the stage's channel row, pixel 0
    return reinterpret_cast<const char*>(image + g * a.cinG + c.slice * kBK<T> + chunk * kVec<T>);
  };
  // Per-thread constants of the A copy (row tid/8 + 32r, chunk tid%8) and of the B stores (row warp*4+sub+32j).
  const int aRow = tid >> 3, aChunk = tid & 7;
  const uint32_t aDst = static_cast<uint32_t>(aRow * 128 + ((aChunk ^ (aRow & 7)) << 4));
  const T* aSrc = wr + static_cast<int64_t>(coBase + aRow) * a.wrStride + aChunk * kVec<T>;
  const int bRow = warp * 4 + sub;
  const uint32_t bDst = static_cast<uint32_t>(bRow * 128 + ((chunk ^ (bRow & 7)) << 4));
  // A stage: BM rows of 128 bytes from Wr, loaded into registers a stage ahead (in flight across the hand-over
  // and the next stage's table) and stored once the slot is free. (cp.async into the slot measured no faster, and
  // compute-sanitizer's racecheck flagged its hand-over.)
  uint4 aNext[kCopies];
  auto loadA = [&](const StageCursor& c) {
    const T* src = aSrc + c.tap * a.cinG + c.slice * kBK<T>;
#pragma unroll
    for (int r = 0; r < kCopies; ++r)
      aNext[r] =
          __ldg(reinterpret_cast<const uint4*>(src + static_cast<int64_t>(r) * (W::producerThreads / 8) * a.wrStride));
  };
  // kFFMA with kRotateA: each 16-byte chunk of A stored rotated by one element (k1 k2 k3 k0), see consumeFFMA.
  auto storeA = [&](int s) {
#pragma unroll
    for (int r = 0; r < kCopies; ++r) {
      const uint4 v = kFFMA && kRotateA ? make_uint4(aNext[r].y, aNext[r].z, aNext[r].w, aNext[r].x) : aNext[r];
      asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};" ::"r"(smemA + s * BM * 128 + aDst +
                                                                    r * (W::producerThreads / 8) * 128),
                   "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w)
                   : "memory");
    }
  };
  // One pixel's 16 bytes of the stage: its four corners' chunks weighted and summed, stored to the B slot.
  auto blendStore = [&](const uint4(&v)[4], const uint32_t (&w)[4], uint32_t dst) {
    uint4 packed;
    if constexpr (sizeof(T) == 2) {  // fp16: half2 FMAs, weights rounded once to fp16
      __half2 acc[4];
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const __half2 wq = *reinterpret_cast<const __half2*>(&w[q]);
        const __half2* h = reinterpret_cast<const __half2*>(&v[q]);
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[i] = q == 0 ? __hmul2(wq, h[i]) : __hfma2(wq, h[i], acc[i]);
      }
      packed = *reinterpret_cast<const uint4*>(acc);
    } else {  // fp32 blend; rounded to TF32 (nearest) for the tensor cores, kept whole for FFMA products
      float acc[4];
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const float wq = __uint_as_float(w[q]);
        const float* f = reinterpret_cast<const float*>(&v[q]);
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[i] = q == 0 ? wq * f[i] : fmaf(wq, f[i], acc[i]);
      }
      if constexpr (kFFMA) {
        packed = make_uint4(__float_as_uint(acc[0]), __float_as_uint(acc[1]), __float_as_uint(acc[2]),
                            __float_as_uint(acc[3]));
      } else {
        packed = make_uint4(roundToTF32(acc[0]), roundToTF32(acc[1]), roundToTF32(acc[2]), roundToTF32(acc[3]));
      }
    }
    asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};" ::"r"(dst), "r"(packed.x), "r"(packed.y), "r"(packed.z),
                 "r"(packed.w)
                 : "memory");
  };
  auto waitEmpty = [&](int64_t use, int s) {  // use: the ring's stages used before this one, over the CTA's tiles
    if (use >= kStages) stageBarrierWait(empty + 8 * s, static_cast<int>((use / kStages - 1) & 1));
  };
  auto handOver = [&](int s) {
#if TRTKIT_DCN_USE_WGMMA
    if constexpr (!kFFMA) fenceProxyAsyncShared();  // the stage's st.shared, seen by the consumers' wgmma (async proxy)
#endif
    stageBarrierArrive(full + 8 * s);
  };

  int s = static_cast<int>(ringStart % kStages);
  // Offsets and mask are loaded two stages ahead. (Prefetching the next stage's corner rows into L1 as well was
  // measured 10-15 % slower: bench/results/deform_conv2d_notes.md.)
  StageCursor cur, nxt, nxt2;
  nxt.advance(a);
  SampleInputs next[kInputs], next2[kInputs];
  loadInputs(next, cur);
  if (steps > 1) loadInputs(next2, nxt);
  waitForPreviousGrid();  // xs and Wr come from the re-layout pass (the offsets above overlap its last blocks)
  loadA(cur);
  for (int step = 0; step < steps; ++step) {
#if TRTKIT_DCN_PIPE_MEASURE_CONSUMERS_ONLY  // measurement only (wrong results): the ring keeps its first stages' data
    if (ringStart + step >= kStages) {
      waitEmpty(ringStart + step, s);
      handOver(s);
      s = s + 1 == kStages ? 0 : s + 1;
      continue;
    }
#endif
    SampleInputs in[kInputs];
#pragma unroll
    for (int i = 0; i < kInputs; ++i) {
      in[i] = next[i];
      next[i] = next2[i];
    }
    nxt2 = nxt;
    nxt2.advance(a);
    if (step + 2 < steps) loadInputs(next2, nxt2);  // the stage after next, in flight during two stages
    buildTable(in, cur);
    waitEmpty(ringStart + step, s);
    storeA(s);

    // B: BN pixels x one 128-byte row of channels.
    const char* base = stageBase(cur);
    uint4 v[kRounds][4];
    uint32_t wt[kRounds][4];
#pragma unroll
    for (int j = 0; j < kRounds; ++j) {
      const Corners c = cornersOfRound(in, cur, j);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        wt[j][q] = c.w[q];
        v[j][q] = __ldg(reinterpret_cast<const uint4*>(base + c.off[q]));  // unconditional: all in flight
      }
    }
#pragma unroll
    for (int j = 0; j < kRounds; ++j) blendStore(v[j], wt[j], smemB + s * BN * 128 + bDst + j * kRound * 128);
    if (step + 1 < steps) loadA(nxt);
    handOver(s);
    cur = nxt;
    nxt = nxt2;
    s = s + 1 == kStages ? 0 : s + 1;
  }
}

// Consumer warps: (consumers / 4) x 4 warps over the BM x BN tile, each a WM x (BN/4) block of m16n8k16 MMAs.
template <typename T, int BM, int BN, bool kMany>
__device__ void consume(const PipeArgs& a, const T* __restrict__ bias, T* __restrict__ out, int64_t n, int coBase,
                        int pixelBase, int steps, int64_t ringStart, uint32_t smemA, uint32_t smemB, uint32_t full,
                        uint32_t empty, int tid) {
  constexpr int WM = BM / (PipeWarps<T, BM, kMany>::consumers / 4), WN = BN / 4, MT = WM / 16, NT = WN / 8;
  constexpr int kStages = kStagesOf<false>;
  static_assert(NT % 2 == 0, "B fragments are loaded two n8 tiles at a time");
  const int lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 2, wn = warp & 3;
  float acc[MT][NT][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[mt][nt][i] = 0.f;

  for (int step = 0; step < steps; ++step) {
    const int s = waitFullStage<kStages>(full, ringStart + step);
    const uint32_t stageA = smemA + s * BM * 128, stageB = smemB + s * BN * 128;
#pragma unroll
    for (int k16 = 0; k16 < 4; ++k16) {  // 4 MMA K-steps per 128-byte row: k16 (fp16) or k8 (TF32)
      uint32_t af[MT][4], bf[NT][2];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
        loadMatrixX4(af[mt], stageA + swizzled(wm * WM + mt * 16 + (lane & 15), k16 * 2 + (lane >> 4)));
#pragma unroll
      for (int nt = 0; nt < NT; nt += 2) {
        uint32_t r[4];
        loadMatrixX4(
            r, stageB + swizzled(wn * WN + nt * 8 + (lane & 7) + ((lane >> 4) << 3), k16 * 2 + ((lane >> 3) & 1)));
        bf[nt][0] = r[0];
        bf[nt][1] = r[1];
        bf[nt + 1][0] = r[2];
        bf[nt + 1][1] = r[3];
      }
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
          if constexpr (sizeof(T) == 2) {
            mmaF16(acc[mt][nt], af[mt], bf[nt][0], bf[nt][1]);
          } else {
            mmaTF32(acc[mt][nt], af[mt], bf[nt][0], bf[nt][1]);
          }
        }
    }
    stageBarrierArrive(empty + 8 * s);  // (the last kStages arrivals complete phases nobody waits for)
  }

  // Epilogue: + bias, fp16, NCHW. A thread holds pixel pairs (p, p + 1) of rows co and co + 8.
  const bool pairs = a.pixels % 2 == 0;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int co = coBase + wm * WM + mt * 16 + (lane >> 2) + 8 * half;
      const float b = bias != nullptr ? toFloat(bias[co * a.biasStride]) : 0.f;
      T* row = out + (n * a.outChannels + co) * static_cast<int64_t>(a.pixels);
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        const int p = pixelBase + wn * WN + nt * 8 + (lane & 3) * 2;
        const float v0 = acc[mt][nt][2 * half] + b, v1 = acc[mt][nt][2 * half + 1] + b;
        storeOutputPair(row, p, a.pixels, pairs, v0, v1);
      }
    }
  }
}
// Strict fp32 consumers (kFFMA): FFMA outer products read straight from the swizzled rings, IEEE fp32 products and
// sums. kConsumerWarps over the BM x BN tile; lane (lane % 4, lane / 4) of a warp owns output channels co0 + 4i (i < 8)
// and pixels px0 + 8j (j < TN). Per 4 K (q) of a stage a thread reads 8 + TN 16-byte pieces of rows for 32 x TN FFMAs;
// each of those loads touches 4 (A) or 8 (B) rows whose swizzled chunks lie in distinct banks: one wavefront.
template <int BM, int BN, int kConsumerWarps>
__device__ void consumeFFMA(const PipeArgs& a, const float* __restrict__ bias, float* __restrict__ out, int64_t n,
                            int coBase, int pixelBase, int steps, int64_t ringStart, uint32_t smemA, uint32_t smemB,
                            uint32_t full, uint32_t empty, int tid) {
  constexpr int TM = 8, kStages = kStagesOf<true>;
  constexpr int warpsCo = BM / (4 * TM), warpsPx = kConsumerWarps / warpsCo, TN = BN / (8 * warpsPx);
  static_assert(warpsCo * warpsPx == kConsumerWarps && TN * 8 * warpsPx == BN, "the warps tile BM x BN");
  const int lane = tid & 31, warp = tid >> 5;
  const int co0 = (warp % warpsCo) * 4 * TM + (lane & 3);
  const int px0 = (warp / warpsCo) * 8 * TN + (lane >> 2);
  // Row r's chunk q lies at r * 128 + ((q ^ (r & 7)) << 4): rows co0 + 4i take swizzle co0 & 7 (i even) or that ^ 4
  // (i odd); rows px0 + 8j all take px0 & 7.
  const uint32_t swizzleA = static_cast<uint32_t>(co0 & 7), swizzleB = static_cast<uint32_t>(px0 & 7);
  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  auto load = [](float4& v, uint32_t at) {
    asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "r"(at));
  };
  // Pieces loaded ahead of their FFMAs, so that the warp's own FFMAs hide the shared-memory latency (loading each
  // q's pieces just before use left a median of 17 SASS instructions between a load and its use; ptxas keeps 20
  // of the distance written here). A thread holds A's 8 pieces of the q and two pairs of B pieces; B pairs load two
  // pairs ahead (64 FFMAs), and in a q's last pair each pair of A rows loads for q + 1 once its FFMAs are issued
  // (48 FFMAs ahead). Measured with 152 registers (H100, notes): 5-8 % faster at 128-channel tiles, unchanged at 64.
  static_assert(TN % 4 == 0, "B pieces go in pairs, an even number of pairs per q");
  auto component = [](const float4& v, int c) { return c == 0 ? v.x : c == 1 ? v.y : c == 2 ? v.z : v.w; };
  // Rows 2ip, 2ip + 1 x pixels j, j + 1: four independent accumulators; each sums K in order (q, then element).
  auto fmaBlock = [&](const float4(&av)[TM], int ip, const float4& b0, const float4& b1, int j) {
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const int ca = kRotateA ? (c + 3) & 3 : c;  // where element k = 4q + c of an A piece is
      const float a0 = component(av[2 * ip], ca), a1 = component(av[2 * ip + 1], ca);
      const float x0 = component(b0, c), x1 = component(b1, c);
      acc[2 * ip][j] = fmaf(a0, x0, acc[2 * ip][j]);
      acc[2 * ip + 1][j] = fmaf(a1, x0, acc[2 * ip + 1][j]);
      acc[2 * ip][j + 1] = fmaf(a0, x1, acc[2 * ip][j + 1]);
      acc[2 * ip + 1][j + 1] = fmaf(a1, x1, acc[2 * ip + 1][j + 1]);
    }
  };
  constexpr int kPairs = TN / 2;
  for (int step = 0; step < steps; ++step) {
    const int s = waitFullStage<kStages>(full, ringStart + step);
    const uint32_t rowsA = smemA + (s * BM + co0) * 128, rowsB = smemB + (s * BN + px0) * 128;
    // The XOR picks a 16-byte chunk within a row, one per (q, row parity); the rows are whole 128-byte steps added
    // to that, which the loads take as immediate offsets.
    auto atA = [&](int q, int i) { return (rowsA + ((q ^ swizzleA ^ ((i & 1) << 2)) << 4)) + i * 4 * 128; };
    auto atB = [&](int q, int j) { return (rowsB + ((q ^ swizzleB) << 4)) + j * 8 * 128; };
    float4 av[TM], bv[4];  // bv: two pairs of B pieces, slot (pair & 1)
#pragma unroll
    for (int i = 0; i < TM; ++i) load(av[i], atA(0, i));
#pragma unroll
    for (int j = 0; j < 4; ++j) load(bv[j], atB(0, j));
#pragma unroll
    for (int q = 0; q < 8; ++q) {
#pragma unroll
      for (int jp = 0; jp < kPairs; ++jp) {
        const int slot = 2 * (jp & 1);
#pragma unroll
        for (int ip = 0; ip < TM / 2; ++ip) {
          fmaBlock(av, ip, bv[slot], bv[slot + 1], 2 * jp);
          if (jp == kPairs - 1 && q + 1 < 8) {
            load(av[2 * ip], atA(q + 1, 2 * ip));
            load(av[2 * ip + 1], atA(q + 1, 2 * ip + 1));
          }
        }
        const int q2 = q + (jp + 2) / kPairs, j2 = 2 * ((jp + 2) % kPairs);  // the pair two ahead
        if (q2 < 8) {
          load(bv[slot], atB(q2, j2));
          load(bv[slot + 1], atB(q2, j2 + 1));
        }
      }
    }
    stageBarrierArrive(empty + 8 * s);  // (the last kStages arrivals complete phases nobody waits for)
  }

  // Epilogue: + bias, NCHW; lanes of one channel row hold 8 consecutive pixels.
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int co = coBase + co0 + 4 * i;
    const float b = bias != nullptr ? bias[co * a.biasStride] : 0.f;
    float* row = out + (n * a.outChannels + co) * static_cast<int64_t>(a.pixels);
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int p = pixelBase + px0 + 8 * j;
      if (p < a.pixels) row[p] = acc[i][j] + b;
    }
  }
}
#if TRTKIT_DCN_USE_DMMA
#ifndef TRTKIT_DCN_PIPE_DMMA_K
#define TRTKIT_DCN_PIPE_DMMA_K 8  // benchmark switch: K of the fp64 MMA shape (4, 8 or 16: m16n8k4/k8/k16)
#endif
// The fp64 MMA of the chosen shape (m16n8k8: 5 % faster than k4 at N4 C512, k16 no faster; notes, session 15).
#if TRTKIT_DCN_PIPE_DMMA_K == 4
__device__ __forceinline__ void mmaF64(double (&d)[4], double a0, double a1, double b0) {
  asm volatile("mma.sync.aligned.m16n8k4.row.col.f64.f64.f64.f64 {%0, %1, %2, %3}, {%4, %5}, {%6}, {%0, %1, %2, %3};"
               : "+d"(d[0]), "+d"(d[1]), "+d"(d[2]), "+d"(d[3])
               : "d"(a0), "d"(a1), "d"(b0));
}
#elif TRTKIT_DCN_PIPE_DMMA_K == 8
__device__ __forceinline__ void mmaF64K8(double (&d)[4], double a0, double a1, double a2, double a3, double b0,
                                         double b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f64.f64.f64.f64 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+d"(d[0]), "+d"(d[1]), "+d"(d[2]), "+d"(d[3])
      : "d"(a0), "d"(a1), "d"(a2), "d"(a3), "d"(b0), "d"(b1));
}
#else
__device__ __forceinline__ void mmaF64K16(double (&d)[4], const double (&a)[8], const double (&b)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f64.f64.f64.f64 {%0, %1, %2, %3}, {%4, %5, %6, %7, %8, %9, %10, %11}, "
      "{%12, %13, %14, %15}, {%0, %1, %2, %3};"
      : "+d"(d[0]), "+d"(d[1]), "+d"(d[2]), "+d"(d[3])
      : "d"(a[0]), "d"(a[1]), "d"(a[2]), "d"(a[3]), "d"(a[4]), "d"(a[5]), "d"(a[6]), "d"(a[7]), "d"(b[0]), "d"(b[1]),
        "d"(b[2]), "d"(b[3]));
}
#endif
// Strict fp32 consumers on the fp64 tensor cores (TRTKIT_DCN_USE_DMMA): the same rings as consumeFFMA, each fp32
// operand widened to fp64 in registers (exact), fp64 MMAs (m16n8k8), fp64 accumulators, one rounding to fp32 with
// the bias. 8 warps over the BM x BN tile, warp tile 64 output channels (4 m16 blocks) x BN / (8 * 128 / BM) pixels
// (n8 blocks). A lane (g = lane / 4, t = lane % 4) holds A rows g (+ 8, + 16i) and B rows g (+ 8j) at MMA K slots
// t (+ 4v). K order: within 16-K group h of a stage, lane t reads 16-byte chunk 2t + h of its rows (one LDS.128
// each) and feeds its 4 elements to its K slots in order, A and B alike, so every K of the stage meets its partner
// once. Chunks 2t + h (not 4h + t): a quarter-warp's 8 lanes (rows g, g + 1; 4 slots) then hit 8 distinct 16-byte
// bank groups under the row swizzle, one wavefront each.
template <int BM, int BN>
__device__ void consumeDMMA(const PipeArgs& a, const float* __restrict__ bias, float* __restrict__ out, int64_t n,
                            int coBase, int pixelBase, int steps, int64_t ringStart, uint32_t smemA, uint32_t smemB,
                            uint32_t full, uint32_t empty, int tid) {
  constexpr int kStages = kStagesOf<true>, kWarps = 8;
  constexpr int MI = 4, warpsCo = BM / (16 * MI), warpsPx = kWarps / warpsCo, NJ = BN / (8 * warpsPx);
  static_assert(warpsCo * warpsPx == kWarps && NJ * 8 * warpsPx == BN && NJ >= 1, "the warps tile BM x BN");
  const int lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int coW = (warp % warpsCo) * 16 * MI, pxW = (warp / warpsCo) * 8 * NJ;
  double acc[MI][NJ][4];
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NJ; ++j)
#pragma unroll
      for (int v = 0; v < 4; ++v) acc[i][j][v] = 0.0;
  auto load = [](float4& v, uint32_t at) {
    asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "r"(at));
  };
  auto component = [](const float4& v, int c) { return c == 0 ? v.x : c == 1 ? v.y : c == 2 ? v.z : v.w; };
  for (int step = 0; step < steps; ++step) {
    const int s = waitFullStage<kStages>(full, ringStart + step);
    // Rows coW + 16i + 8v + g and pxW + 8j + g all have (row & 7) == g: chunk c lies at row * 128 + ((c ^ g) << 4).
    const uint32_t rowsA = smemA + (s * BM + coW + g) * 128, rowsB = smemB + (s * BN + pxW + g) * 128;
#pragma unroll
    for (int h = 0; h < 2 && !TRTKIT_DCN_PIPE_MEASURE_PRODUCERS_ONLY; ++h) {
      const uint32_t chunk = static_cast<uint32_t>(((2 * t + h) ^ g) << 4);
      double bd[NJ][4];  // B widened once per 16-K group (each value feeds MI MMAs)
#pragma unroll
      for (int j = 0; j < NJ; ++j) {
        float4 bv;
        load(bv, rowsB + chunk + j * 8 * 128);
#pragma unroll
        for (int e = 0; e < 4; ++e) bd[j][e] = component(bv, e);
      }
#pragma unroll
      for (int i = 0; i < MI; ++i) {
        float4 a0, a1;
        load(a0, rowsA + chunk + i * 16 * 128);
        load(a1, rowsA + chunk + (i * 16 + 8) * 128);
        auto atA = [&](const float4& v, int e) { return component(v, kRotateA ? (e + 3) & 3 : e); };  // kRotateA
#if TRTKIT_DCN_PIPE_DMMA_K == 16
        {  // m16n8k16: slot t + 4v is element v (A: a[v0 + 2 v1] = row g + 8 v0, slot t + 4 v1).
          double x[8];
#pragma unroll
          for (int v1 = 0; v1 < 4; ++v1) {
            x[2 * v1] = atA(a0, v1);
            x[2 * v1 + 1] = atA(a1, v1);
          }
#pragma unroll
          for (int j = 0; j < NJ; ++j) mmaF64K16(acc[i][j], x, bd[j]);
        }
#elif TRTKIT_DCN_PIPE_DMMA_K == 8
        {  // m16n8k8: slot t + 4v of step e2 is element 2 e2 + v (A: a[v0 + 2 v1] = row g + 8 v0, slot t + 4 v1).
#pragma unroll
          for (int e2 = 0; e2 < 2; ++e2) {
            const double x00 = atA(a0, 2 * e2), x10 = atA(a1, 2 * e2);
            const double x01 = atA(a0, 2 * e2 + 1), x11 = atA(a1, 2 * e2 + 1);
#pragma unroll
            for (int j = 0; j < NJ; ++j) mmaF64K8(acc[i][j], x00, x10, x01, x11, bd[j][2 * e2], bd[j][2 * e2 + 1]);
          }
        }
#else
        {  // m16n8k4
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const double x0 = atA(a0, e), x1 = atA(a1, e);
#pragma unroll
            for (int j = 0; j < NJ; ++j) mmaF64(acc[i][j], x0, x1, bd[j][e]);
          }
        }
#endif
      }
    }
    stageBarrierArrive(empty + 8 * s);  // (the last kStages arrivals complete phases nobody waits for)
  }

  // Epilogue: + bias in fp64, one rounding to fp32, NCHW; c[v0 + 2 v1] is row g + 8 v1, pixel 2t + v0.
  const bool pairs = (a.pixels & 1) == 0;
#pragma unroll
  for (int i = 0; i < MI; ++i) {
#pragma unroll
    for (int v1 = 0; v1 < 2; ++v1) {
      const int co = coBase + coW + 16 * i + 8 * v1 + g;
      const double b = bias != nullptr ? static_cast<double>(bias[co * a.biasStride]) : 0.0;
      float* row = out + (n * a.outChannels + co) * static_cast<int64_t>(a.pixels);
#pragma unroll
      for (int j = 0; j < NJ; ++j) {
        const int p = pixelBase + pxW + 8 * j + 2 * t;
        storeOutputPair(row, p, a.pixels, pairs, static_cast<float>(acc[i][j][2 * v1] + b),
                        static_cast<float>(acc[i][j][2 * v1 + 1] + b));
      }
    }
  }
}
#endif  // TRTKIT_DCN_USE_DMMA
#if TRTKIT_DCN_USE_WGMMA
// Consumers as warpgroups: with 128-channel tiles warpgroup g multiplies output channels 64g..64g+63 by all
// 128 pixels (m64n128); with 64-channel tiles one warpgroup takes all pixels (m64n128), or two take pixels
// 64g..64g+63 (m64n64). K-steps straight from the swizzled rings, no ldmatrix.
template <typename T, int BM, int BN, bool kMany>
__device__ void consumeWarpgroups(const PipeArgs& a, const T* __restrict__ bias, T* __restrict__ out, int64_t n,
                                  int coBase, int pixelBase, int steps, int64_t ringStart, uint32_t smemA,
                                  uint32_t smemB, uint32_t full, uint32_t empty, int tid) {
  static_assert(BN == 128, "warpgroup tiles assume 128-pixel tiles");
  constexpr int kGroups = PipeWarps<T, BM, kMany>::consumers / 4, kRowBlocks = BM / 64;
  static_assert(kGroups % kRowBlocks == 0, "a warpgroup multiplies one 64-channel row block");
  constexpr int kCols = BN * kRowBlocks / kGroups;  // pixels per warpgroup
  constexpr int kStages = kStagesOf<false>;
  constexpr int kRegs = kCols / 2;  // 64 x kCols fp32 over 128 threads
  const int g = tid >> 7, t = tid & 127, lane = t & 31, warp = t >> 5;
  const int rowBase = 64 * (g % kRowBlocks), colBase = kCols * (g / kRowBlocks);
  float acc[kRegs];
#pragma unroll
  for (int i = 0; i < kRegs; ++i) acc[i] = 0.f;

  for (int step = 0; step < steps; ++step) {
    const int s = waitFullStage<kStages>(full, ringStart + step);
    const uint64_t descA = wgmmaDescriptor(smemA + s * BM * 128 + rowBase * 128);
    const uint64_t descB = wgmmaDescriptor(smemB + s * BN * 128 + colBase * 128);
    wgmmaFence();
#pragma unroll
    for (int k = 0; k < 4; ++k) {  // 32 bytes of K per step: k16 (fp16) or k8 (TF32)
      if constexpr (sizeof(T) == 2) {
        if constexpr (kCols == 128) {
          wgmmaF16N128(acc, descA + 2 * k, descB + 2 * k);
        } else {
          wgmmaF16N64(acc, descA + 2 * k, descB + 2 * k);
        }
      } else {
        if constexpr (kCols == 128) {
          wgmmaTF32N128(acc, descA + 2 * k, descB + 2 * k);
        } else {
          wgmmaTF32N64(acc, descA + 2 * k, descB + 2 * k);
        }
      }
    }
    wgmmaCommit();
    wgmmaWaitAll();                     // the stage's shared memory is read: release it
    stageBarrierArrive(empty + 8 * s);  // (the last kStages arrivals complete phases nobody waits for)
  }

  // Epilogue: + bias, NCHW. m64nN layout: warp w holds rows 16w + lane/4 (+8), n8 block j columns 8j + 2*(lane%4).
  const bool pairs = a.pixels % 2 == 0;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int co = coBase + rowBase + 16 * warp + (lane >> 2) + 8 * half;
    const float b = bias != nullptr ? toFloat(bias[co * a.biasStride]) : 0.f;
    T* row = out + (n * a.outChannels + co) * static_cast<int64_t>(a.pixels);
#pragma unroll
    for (int j = 0; j < kCols / 8; ++j) {
      const int p = pixelBase + colBase + 8 * j + 2 * (lane & 3);
      const float v0 = acc[4 * j + 2 * half] + b, v1 = acc[4 * j + 2 * half + 1] + b;
      storeOutputPair(row, p, a.pixels, pairs, v0, v1);
    }
  }
}
#endif  // TRTKIT_DCN_USE_WGMMA
#endif  // __CUDA_ARCH__ >= 800

// grid.x: CTAs (one per SM, or one per tile), each running tiles of the chunk in turn (below).
template <typename T, int BM, int BN, int kEntriesPerLane, bool kMany, bool kFFMA>
__global__ void __launch_bounds__(PipeWarps<T, BM, kMany, kFFMA>::threads, PipeWarps<T, BM, kMany, kFFMA>::ctasPerSM)
    pipelinedDeformConv(const T* __restrict__ xs, const T* __restrict__ offset, const T* __restrict__ mask,
                        const T* __restrict__ wr, const T* __restrict__ bias, T* __restrict__ out,
                        const T* __restrict__ zeros, PipeArgs a, int64_t firstImage, int images, int groups) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  constexpr int kStages = kStagesOf<kFFMA>;
  extern __shared__ __align__(128) unsigned char pipeSmem[];
  __shared__ alignas(8) uint64_t stageBarriers[2 * kStages];  // full[kStages], empty[kStages]
  const uint32_t smemA = (sharedAddress(pipeSmem) + 1023u) & ~1023u, smemB = smemA + kStages * BM * 128;
  const uint32_t full = sharedAddress(stageBarriers), empty = full + 8 * kStages;
  using W = PipeWarps<T, BM, kMany, kFFMA>;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      stageBarrierInit(full + 8 * s, W::producerThreads);
      stageBarrierInit(empty + 8 * s, W::consumerThreads);
    }
  }
  __syncthreads();
  // Tiles, pixel tiles fastest: (group, output-channel tile) x image x pixel tile. A CTA takes every gridDim.x-th;
  // its ring runs on across them, so the producers fill the next tile's stages during the consumers' epilogue.
  const int perRow = a.pixelTiles * images, tiles = perRow * groups * a.coTilesPerGroup;
  const int steps = a.kk * (a.cinG / kBK<T>);
  struct Tile {
    int nl, g, coBase, pixelBase;
  };
  auto tileAt = [&](int tile) {
    const int row = tile / perRow, column = tile - row * perRow;
    Tile t;
    t.nl = column / a.pixelTiles;
    t.pixelBase = (column - t.nl * a.pixelTiles) * BN;
    t.g = row / a.coTilesPerGroup;
    t.coBase = t.g * a.coutG + (row - t.g * a.coTilesPerGroup) * BM;
    return t;
  };
  auto consumeTile = [&](int tile, int64_t ring) {
    const Tile t = tileAt(tile);
    const int64_t n = firstImage + t.nl;
    if constexpr (kFFMA && BN == kDmmaPixels) {
#if TRTKIT_DCN_USE_DMMA
      consumeDMMA<BM, BN>(a, bias, out, n, t.coBase, t.pixelBase, steps, ring, smemA, smemB, full, empty, threadIdx.x);
#else
      __trap();  // never launched: the host runs these kernels only from sm_90 images (dmmaImageLoaded)
#endif
    } else if constexpr (kFFMA) {
      consumeFFMA<BM, BN, W::consumers>(a, bias, out, n, t.coBase, t.pixelBase, steps, ring, smemA, smemB, full, empty,
                                        threadIdx.x);
    } else {
#if TRTKIT_DCN_USE_WGMMA
      consumeWarpgroups<T, BM, BN, kMany>(a, bias, out, n, t.coBase, t.pixelBase, steps, ring, smemA, smemB, full,
                                          empty, threadIdx.x);
#else
      consume<T, BM, BN, kMany>(a, bias, out, n, t.coBase, t.pixelBase, steps, ring, smemA, smemB, full, empty,
                                threadIdx.x);
#endif
    }
  };
  auto produceTile = [&](int tile, int64_t ring) {
    const Tile t = tileAt(tile);
    const int64_t n = firstImage + t.nl;
    const T* image = xs + static_cast<int64_t>(t.nl) * a.height * a.width * a.channels;  // xs: the chunk only
    // The zero row follows the chunk: a small positive byte offset from any of its images (< 2^32, see launcher).
    const uint32_t zeroOffset = static_cast<uint32_t>((zeros - image) * sizeof(T));
    const int64_t planes = static_cast<int64_t>(a.offsetGroups) * a.kk * a.pixels;
    produce<T, BM, BN, kEntriesPerLane, kMany, kFFMA>(
        a, image, zeroOffset, offset + n * 2 * planes, a.useMask ? mask + n * planes : nullptr, wr, t.g, t.coBase,
        t.pixelBase, steps, ring, smemA, smemB, smemB + kStages * BN * 128, full, empty,
        threadIdx.x - W::consumerThreads);
  };
  const bool consumer = threadIdx.x < W::consumerThreads;
  if constexpr (kFFMA) {
    // Each role loops over the tiles on its own, so that on sm_90a the FFMA consumers' code is compiled for the
    // registers they take from the producers here.
    int64_t ring = 0;
    if (consumer) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
      asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(W::consumerRegisters));
#endif
      for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x, ring += steps) consumeTile(tile, ring);
    } else {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
      asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(W::producerRegisters));
#endif
      for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x, ring += steps) produceTile(tile, ring);
    }
  } else {
    int64_t ring = 0;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x, ring += steps) {
      if (consumer) {
        consumeTile(tile, ring);
      } else {
        produceTile(tile, ring);
      }
    }
  }
#endif
}

// What launchPipe returns where the FFMA kernel's registers at launch are fewer than its setmaxnreg split assumes.
constexpr cudaError_t kFFMARegistersMissing = cudaErrorInvalidDeviceFunction;

// Registers per thread of a kernel as loaded (0 where the query fails).
template <typename Kernel>
int registersOf(Kernel* kernel) {
  cudaFuncAttributes attributes{};
  return cudaFuncGetAttributes(&attributes, kernel) == cudaSuccess ? attributes.numRegs : 0;
}

// Shared memory of one CTA: the A and B rings, then the producers' corner tables (kEntriesPerLane > 0).
template <int BM, int BN, bool kFFMA>
int pipeSharedBytes(int kEntriesPerLane, int ogPerSlice) {
  // + 1024: the rings start on a 1024-byte boundary (the 128-byte swizzle of wgmma descriptors is address-based)
  // corner tables: 32 bytes per (pixel, offset group of the stage), split among the producer warps
  return kPipeSmemBytes<BM, BN, kStagesOf<kFFMA>> + (kEntriesPerLane > 0 ? BN * ogPerSlice * 32 : 0) + 1024;
}

template <typename T, int BM, int BN, int kEntriesPerLane, bool kMany, bool kFFMA>
cudaError_t launchPipe(const PipeArgs& a, const DeviceLimits& device, int64_t images, int64_t firstImage,
                       int64_t groups, const T* xs, const T* offset, const T* mask, const T* wr, const T* bias, T* out,
                       const T* zeros, cudaStream_t stream) {
  const int bytes = pipeSharedBytes<BM, BN, kFFMA>(kEntriesPerLane, a.ogPerSlice);
  // The limit is raised once, to the largest corner table (8 offset groups per stage).
  const cudaError_t err = allowDynamicSharedMemory<pipelinedDeformConv<T, BM, BN, kEntriesPerLane, kMany, kFFMA>>(
      pipeSharedBytes<BM, BN, kFFMA>(kEntriesPerLane, 8));
  if (err != cudaSuccess) return err;
  if constexpr (kFFMA) {
    if (device.computeMajor == 9) {  // the sm_90a build moves registers (setmaxnreg): see PipeWarps
      static const int launched = registersOf(pipelinedDeformConv<T, BM, BN, kEntriesPerLane, kMany, kFFMA>);
      if (launched < PipeWarps<T, BM, kMany, kFFMA>::launchRegisters) return kFFMARegistersMissing;
    }
  }
  // One CTA per SM (PipeWarps' threads, up to 128 registers each) running tiles in turn, or (switch off) one per tile.
  const int64_t tiles = a.pixelTiles * images * groups * a.coTilesPerGroup;
  using W = PipeWarps<T, BM, kMany, kFFMA>;
  const int64_t resident = static_cast<int64_t>(device.multiprocessors) * W::ctasPerSM;
  const int64_t ctas = kPersistent ? std::min<int64_t>(tiles, resident) : tiles;
  return launchAfterPrepare(device, pipelinedDeformConv<T, BM, BN, kEntriesPerLane, kMany, kFFMA>,
                            dim3(static_cast<unsigned>(ctas)), dim3(W::threads), static_cast<size_t>(bytes), stream, xs,
                            offset, mask, wr, bias, out, zeros, a, firstImage, static_cast<int>(images),
                            static_cast<int>(groups));
}

// Corner tables where offset groups divide a stage or are multiples of it: entries per lane = ceil(a producer
// warp's pixels x groups per stage / 32); other widths compute corners per lane.
template <typename T>
int entriesPerLane(const PipeArgs& a, int bn, int producerWarps) {
  if (a.cinOG % kBK<T> != 0 && kBK<T> % a.cinOG != 0) return 0;
  return (bn / producerWarps * a.ogPerSlice + 31) / 32;
}

template <typename T, int BM, int BN, bool kMany, bool kFFMA>
cudaError_t launchPipeFor(const PipeArgs& a, const DeviceLimits& device, int64_t images, int64_t firstImage,
                          int64_t groups, const T* xs, const T* offset, const T* mask, const T* wr, const T* bias,
                          T* out, const T* zeros, cudaStream_t stream) {
  switch (entriesPerLane<T>(a, BN, PipeWarps<T, BM, kMany, kFFMA>::producers)) {
    case 0:
      return launchPipe<T, BM, BN, 0, kMany, kFFMA>(a, device, images, firstImage, groups, xs, offset, mask, wr, bias,
                                                    out, zeros, stream);
    case 1:
      return launchPipe<T, BM, BN, 1, kMany, kFFMA>(a, device, images, firstImage, groups, xs, offset, mask, wr, bias,
                                                    out, zeros, stream);
    case 2:
      return launchPipe<T, BM, BN, 2, kMany, kFFMA>(a, device, images, firstImage, groups, xs, offset, mask, wr, bias,
                                                    out, zeros, stream);
    default:
      return launchPipe<T, BM, BN, 4, kMany, kFFMA>(a, device, images, firstImage, groups, xs, offset, mask, wr, bias,
                                                    out, zeros, stream);
  }
}

struct PipeLayout {
  int64_t elem, cinG, coutG, kk, wrStride, weightBytes, zeroBytes, xsPerImage;
};

PipeLayout pipeLayoutOf(const DeformConvParams& p, Precision precision) {
  PipeLayout l{};
  l.elem = precision == Precision::kFloat16 ? 2 : 4;
  l.cinG = p.inChannels / p.groups;
  l.coutG = p.outChannels / p.groups;
  l.kk = p.kernelH * p.kernelW;
  l.wrStride = l.kk * l.cinG;  // whole 128-byte rows per tap, no bias column (the epilogue adds it)
  if (p.weightRowElems > 0) l.wrStride = p.weightRowElems;  // GEMM rows: read in place (or copied as they are)
  l.weightBytes = roundUp(p.outChannels * l.wrStride * l.elem, kPipeAlign);
  l.zeroBytes = p.inChannels * l.elem;  // one pixel of zeros after the chunk: corners outside the image read it
  l.xsPerImage = p.height * p.width * p.inChannels * l.elem;
  return l;
}

// Images per chunk: the most whose channels-last copy stays under kSampledChunkBytes (at least one).
int64_t pipeChunkImages(const PipeLayout& l, int64_t batch) {
  return std::max<int64_t>(1, std::min<int64_t>(batch, static_cast<int64_t>(kSampledChunkBytes) / l.xsPerImage));
}

// Offset groups per stage where they divide it (corner tables), else 1.
template <typename T>
int ogPerSliceOf(int cinOG) {
  return cinOG % kBK<T> == 0 || kBK<T> % cinOG != 0 ? 1 : kBK<T> / cinOG;
}

template <typename T, bool kFFMA>
size_t sharedBytesOf(const DeformConvParams& p) {
  PipeArgs a{};
  a.cinOG = static_cast<int>(p.inChannels / p.offsetGroups);
  a.ogPerSlice = ogPerSliceOf<T>(a.cinOG);
  constexpr int bn = TRTKIT_DCN_PIPE_BN;
  const int entries = entriesPerLane<T>(a, bn, 8);  // (only whether there are tables matters here)
  const int dynamic = (p.outChannels / p.groups) % 128 == 0 ? pipeSharedBytes<128, bn, kFFMA>(entries, a.ogPerSlice)
                                                            : pipeSharedBytes<64, bn, kFFMA>(entries, a.ogPerSlice);
  return static_cast<size_t>(dynamic) + 256;  // + static shared memory (the stage barriers: 128 bytes by ptxas)
}

// Whether the strict-fp32 kernels of DMMA tiles run from an sm_90 image on this GPU (else they would trap): the
// build may carry only older code, which the driver JIT-compiles for Hopper.
bool dmmaImageLoaded(const DeviceLimits& device) {
  if (!TRTKIT_DCN_PIPE_DMMA || device.computeMajor != 9) return false;
  static const bool loaded = [] {
    cudaFuncAttributes attributes{};
    return cudaFuncGetAttributes(&attributes, pipelinedDeformConv<float, 128, kDmmaPixels, 1, false, true>) ==
               cudaSuccess &&
           attributes.binaryVersion >= 90;
  }();
  return loaded;
}

template <typename T, bool kFFMA>
const char* launchPipelinedTyped(const DeformConvParams& p, Precision precision, const DeviceLimits& device, const T* x,
                                 const T* weight, const T* offset, const T* mask, const T* bias, T* out,
                                 void* workspace, cudaStream_t stream) {
  const PipeLayout l = pipeLayoutOf(p, precision);
  const int64_t chunk = pipeChunkImages(l, p.batch);
  // [Wr][xs chunk][zeros]: the chunk is under 2^32 bytes (256 MiB, or one image of < 2^31 / 9 elements by
  // checkParams), so every corner's byte offset from its image, the zero row's included, fits 32 bits.
  auto* wr = static_cast<T*>(workspace);
  auto* xs = reinterpret_cast<T*>(static_cast<char*>(workspace) + l.weightBytes);
  auto* zeros = reinterpret_cast<T*>(reinterpret_cast<char*>(xs) + roundUp(chunk * l.xsPerImage, kPipeAlign));
  if (cudaMemsetAsync(zeros, 0, static_cast<size_t>(l.zeroBytes), stream) != cudaSuccess)
    return cudaGetErrorString(cudaGetLastError());
  const bool rows = p.weightRowElems > 0;
  const BiasSource<T> biasSource = biasSourceOf(p, weight, bias);
  const T* hb = biasSource.values;
  const T* hm = p.useMask ? mask : nullptr;

  PipeArgs a{};
  fillSamplingGeometry(a, p);
  a.cinOGDivisor = FastDivisor(static_cast<uint32_t>(a.cinOG));
  a.coutG = static_cast<int>(l.coutG);
  a.outChannels = static_cast<int>(p.outChannels);
  a.wrStride = static_cast<int>(l.wrStride);
  a.biasStride = static_cast<int>(biasSource.stride);
  a.ogPerSlice = ogPerSliceOf<T>(a.cinOG);
  const bool dmma = kFFMA && dmmaImageLoaded(device);
  const int bn = !kFFMA ? TRTKIT_DCN_PIPE_BN : dmma ? kDmmaPixels : kFFMAPixels;
  a.pixelTiles = static_cast<int>((a.pixels + bn - 1) / bn);
  const int bm = pipelinedTileChannels(p, precision, device.multiprocessors, bn);
  const bool wide = bm == 128;
  // Many producer warps (PipeWarps) for fp16 64-channel tiles where the consumers are wgmma warpgroups: Hopper.
  constexpr bool kHalf = sizeof(T) == 2;  // also the launch's template argument: fp32 never instantiates kMany
  const bool many = kHalf && device.computeMajor == TRTKIT_DCN_PIPE_MANY_MAJOR;
  a.coTilesPerGroup = static_cast<int>(l.coutG / bm);
  if (static_cast<int64_t>(a.pixelTiles) * chunk * p.groups * a.coTilesPerGroup > 0x7fffffff)
    return "output too large for the pipelined algorithm's tile count";

  // GEMM rows are Wr already: read where they are when the A copies' 16-byte alignment holds, else copied.
  const T* aRows = wr;
  if (rows && reinterpret_cast<uintptr_t>(weight) % 16 == 0) {
    aRows = weight;
  } else if (rows && cudaMemcpyAsync(wr, weight, static_cast<size_t>(p.outChannels * l.wrStride * l.elem),
                                     cudaMemcpyDeviceToDevice, stream) != cudaSuccess) {
    return cudaGetErrorString(cudaGetLastError());
  }
  for (int64_t n0 = 0; n0 < p.batch; n0 += chunk) {
    const int64_t nc = std::min(chunk, p.batch - n0);
    if (const char* why = enqueuePrepare<T>(p, x + n0 * l.xsPerImage / l.elem, xs, nc, n0 == 0 && !rows, weight,
                                            nullptr, wr, l.wrStride, stream))
      return why;
    cudaError_t err;
    constexpr int kBN = kFFMA ? kFFMAPixels : TRTKIT_DCN_PIPE_BN;
    constexpr int kDmmaBN = kFFMA ? kDmmaPixels : kBN;  // (only strict fp32 instantiates DMMA tiles)
    if (dmma && wide) {
      err = launchPipeFor<T, 128, kDmmaBN, false, kFFMA>(a, device, nc, n0, p.groups, xs, offset, hm, aRows, hb, out,
                                                         zeros, stream);
    } else if (dmma) {
      err = launchPipeFor<T, 64, kDmmaBN, false, kFFMA>(a, device, nc, n0, p.groups, xs, offset, hm, aRows, hb, out,
                                                        zeros, stream);
    } else if (wide) {
      err = launchPipeFor<T, 128, kBN, false, kFFMA>(a, device, nc, n0, p.groups, xs, offset, hm, aRows, hb, out, zeros,
                                                     stream);
    } else if (many) {
      err = launchPipeFor<T, 64, kBN, kHalf, false>(a, device, nc, n0, p.groups, xs, offset, hm, aRows, hb, out, zeros,
                                                    stream);
    } else {
      err = launchPipeFor<T, 64, kBN, false, kFFMA>(a, device, nc, n0, p.groups, xs, offset, hm, aRows, hb, out, zeros,
                                                    stream);
    }
    if (kFFMA && err == kFFMARegistersMissing)
      return "the pipelined strict-fp32 kernel was compiled with fewer registers than its sm_90a register split "
             "needs (or no kernel image for this GPU)";
    if (err != cudaSuccess) return cudaGetErrorString(err);
  }
  return nullptr;
}

}  // namespace

bool pipelinedPathSupports(const DeformConvParams& p, Precision precision) {
  const int64_t row = precision == Precision::kFloat16 ? kBK<__half> : kBK<float>;
  const int64_t vec = precision == Precision::kFloat16 ? kVec<__half> : kVec<float>;
  const int64_t cinG = p.inChannels / p.groups, coutG = p.outChannels / p.groups;
  const int64_t cinOG = p.inChannels / p.offsetGroups;
  // Stages are one 128-byte row of channels (64 fp16 / 32 fp32) of one group, a lane's 16 bytes lie in one offset
  // group; output tiles are 64 or 128 channels of one group.
  return cinG % row == 0 && cinOG % vec == 0 && coutG % 64 == 0;
}

size_t pipelinedWorkspaceBytes(const DeformConvParams& p, Precision precision) {
  const PipeLayout l = pipeLayoutOf(p, precision);
  // Monotone in every dimension, as sampledWorkspaceBytes: chunk * xsPerImage <= min(N * xs, max(cap, xs)).
  const int64_t chunkBytes = std::min<int64_t>(
      p.batch * l.xsPerImage, std::max<int64_t>(static_cast<int64_t>(kSampledChunkBytes), l.xsPerImage));
  return static_cast<size_t>(l.weightBytes + roundUp(chunkBytes, kPipeAlign) + l.zeroBytes);
}

int pipelinedTileChannels(const DeformConvParams& p, Precision precision, int sms, int pixelTile) {
  // 128-channel tiles halve the gathers per output where the group has 128s of output channels, unless 64-channel
  // tiles still fit one wave (measured: one 64x64 image, 256 outputs 0.067 -> 0.060 ms; at two waves slower).
  const PipeLayout l = pipeLayoutOf(p, precision);
  if (l.coutG % 128 != 0) return 64;
  const int64_t pixelTiles = (p.outH * p.outW + pixelTile - 1) / pixelTile;
  const int64_t wideTiles = pixelTiles * pipeChunkImages(l, p.batch) * p.groups * (l.coutG / 128);
  return kNarrowWhenFew && 2 * wideTiles <= sms ? 64 : 128;
}

size_t pipelinedSharedBytes(const DeformConvParams& p, Precision precision) {
  if (precision == Precision::kFloat16) return sharedBytesOf<__half, false>(p);
  return precision == Precision::kFloat32Strict ? sharedBytesOf<float, true>(p) : sharedBytesOf<float, false>(p);
}

const char* launchPipelined(const DeformConvParams& p, Precision precision, const DeviceLimits& device,
                            const void* input, const void* weight, const void* offset, const void* mask,
                            const void* bias, void* output, void* workspace, cudaStream_t stream) {
  if (precision == Precision::kFloat16)
    return launchPipelinedTyped<__half, false>(p, precision, device, static_cast<const __half*>(input),
                                               static_cast<const __half*>(weight), static_cast<const __half*>(offset),
                                               static_cast<const __half*>(mask), static_cast<const __half*>(bias),
                                               static_cast<__half*>(output), workspace, stream);
  auto* in = static_cast<const float*>(input);
  auto* w = static_cast<const float*>(weight);
  auto* off = static_cast<const float*>(offset);
  auto* m = static_cast<const float*>(mask);
  auto* b = static_cast<const float*>(bias);
  auto* o = static_cast<float*>(output);
  if (precision == Precision::kFloat32Strict)
    return launchPipelinedTyped<float, true>(p, precision, device, in, w, off, m, b, o, workspace, stream);
  return launchPipelinedTyped<float, false>(p, precision, device, in, w, off, m, b, o, workspace, stream);
}

}  // namespace dcn
}  // namespace trtkit
