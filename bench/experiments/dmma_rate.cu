// Experiment (not part of the kit): how fast can a warp run fp64 tensor-core MMAs (DMMA, sm_90 mma.sync
// m16n8k4 .f64) on fp32 operands read from shared memory and widened in registers? The strict-fp32 GEMM could
// multiply exactly (fp32 x fp32 products are exact in fp64) and sum in fp64, if this runs faster than FFMA.
// Each warp: a 64 x 32 tile of fp64 accumulators (4 x 4 m16n8 blocks), per 16 K: 8 A rows and 4 B rows of
// 16 bytes (one LDS.128 each), widened (F2F, or integer bit moves), 64 DMMAs. 8 warps per CTA, one CTA per SM.
// Build: nvcc -O3 -arch=sm_90a dmma_rate.cu -o /tmp/dmma_rate
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>

// A warp's 4 x 4 m16n8 blocks of fp64 accumulators: zeroed, and summed into out (so that no MMA is dead code).
__device__ __forceinline__ void zeroAccumulators(double (&acc)[4][4][4]) {
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int v = 0; v < 4; ++v) acc[i][j][v] = 0.0;
}
__device__ __forceinline__ void storeSum(const double (&acc)[4][4][4], double* out) {
  double sum = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int v = 0; v < 4; ++v) sum += acc[i][j][v];
  out[blockIdx.x * blockDim.x + threadIdx.x] = sum;
}

template <int kWiden>  // 0: fp64 in shared memory (no widening), 1: F2F, 2: integer bit moves
__device__ __forceinline__ double widen(float f) {
  if constexpr (kWiden == 2) {
    const uint32_t x = __float_as_uint(f);
    uint32_t hi = ((x >> 3) & 0x0fffffffu) + 0x38000000u;
    hi = (x & 0x7f800000u) ? hi : 0u;
    hi |= x & 0x80000000u;
    return __hiloint2double(static_cast<int>(hi), static_cast<int>(x << 29));
  } else {
    return static_cast<double>(f);
  }
}

__device__ __forceinline__ void dmma(double (&d)[4], double a0, double a1, double b0) {
  asm volatile("mma.sync.aligned.m16n8k4.row.col.f64.f64.f64.f64 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};"
               : "+d"(d[0]), "+d"(d[1]), "+d"(d[2]), "+d"(d[3])
               : "d"(a0), "d"(a1), "d"(b0));
}

template <int kWiden>
__global__ void __launch_bounds__(256, 1) rate(const float* src, double* out, int iters) {
  __shared__ float4 tile[64 * 8];  // 64 rows x 8 chunks, read by every warp (only the access pattern matters)
  const int lane = threadIdx.x & 31;
  for (int i = threadIdx.x; i < 64 * 8; i += blockDim.x) tile[i] = reinterpret_cast<const float4*>(src)[i];
  __syncthreads();
  const int g = lane >> 2, t = lane & 3;
  double acc[4][4][4];
  zeroAccumulators(acc);
  const float4* base = tile;
  for (int it = 0; it < iters; ++it) {
    const int h = it & 1;
    float4 b[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) b[j] = base[(8 * j + g) * 8 + ((4 * h + t) ^ g)];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float4 a0 = base[(16 * i + g) * 8 + ((4 * h + t) ^ g) ^ 1];
      const float4 a1 = base[(16 * i + 8 + g) * 8 + ((4 * h + t) ^ g) ^ 2];
      const float av0[4] = {a0.x, a0.y, a0.z, a0.w}, av1[4] = {a1.x, a1.y, a1.z, a1.w};
#pragma unroll
      for (int s = 0; s < 4; ++s) {
        const double x0 = widen<kWiden>(av0[s]), x1 = widen<kWiden>(av1[s]);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const float bs = s == 0 ? b[j].x : s == 1 ? b[j].y : s == 2 ? b[j].z : b[j].w;
          dmma(acc[i][j], x0, x1, widen<kWiden>(bs));
        }
      }
    }
  }
  storeSum(acc, out);
}

__device__ __forceinline__ void dmma8(double (&d)[4], const double (&a)[4], const double (&b)[2]) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f64.f64.f64.f64 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+d"(d[0]), "+d"(d[1]), "+d"(d[2]), "+d"(d[3])
               : "d"(a[0]), "d"(a[1]), "d"(a[2]), "d"(a[3]), "d"(b[0]), "d"(b[1]));
}
__device__ __forceinline__ void dmma16(double (&d)[4], const double (&a)[8], const double (&b)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f64.f64.f64.f64 {%0,%1,%2,%3}, {%4,%5,%6,%7,%8,%9,%10,%11}, "
      "{%12,%13,%14,%15}, {%0,%1,%2,%3};"
      : "+d"(d[0]), "+d"(d[1]), "+d"(d[2]), "+d"(d[3])
      : "d"(a[0]), "d"(a[1]), "d"(a[2]), "d"(a[3]), "d"(a[4]), "d"(a[5]), "d"(a[6]), "d"(a[7]), "d"(b[0]), "d"(b[1]),
        "d"(b[2]), "d"(b[3]));
}
// k8 / k16 shapes, operands in registers: 16 K per iteration as 2 x k8 or 1 x k16 per block.
template <int kK>
__global__ void __launch_bounds__(256, 1) rateShape(double* out, int iters) {
  const int lane = threadIdx.x & 31;
  double acc[4][4][4];
  zeroAccumulators(acc);
  double a[8], b[4];
#pragma unroll
  for (int i = 0; i < 8; ++i) a[i] = 1.0 + lane * 1e-3 + i;
#pragma unroll
  for (int i = 0; i < 4; ++i) b[i] = 2.0 + lane * 1e-3 + i;
  for (int it = 0; it < iters; ++it) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        if constexpr (kK == 16) {
          dmma16(acc[i][j], a, b);
        } else {
          dmma8(acc[i][j], reinterpret_cast<const double (&)[4]>(a[0]), reinterpret_cast<const double (&)[2]>(b[0]));
          dmma8(acc[i][j], reinterpret_cast<const double (&)[4]>(a[4]), reinterpret_cast<const double (&)[2]>(b[2]));
        }
      }
  }
  storeSum(acc, out);
}

// DMMA alone: operands already fp64 in registers (the tensor pipe's ceiling for this warp tile).
__global__ void __launch_bounds__(256, 1) rateRegisters(double* out, int iters) {
  const int lane = threadIdx.x & 31;
  double acc[4][4][4];
  zeroAccumulators(acc);
  double a[4][2], b[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) a[i][0] = a[i][1] = b[i] = 1.0 + lane * 1e-3 + i;
  for (int it = 0; it < iters; ++it) {
#pragma unroll
    for (int s = 0; s < 4; ++s)
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) dmma(acc[i][j], a[i][0], a[i][1], b[j]);
  }
  storeSum(acc, out);
}

int main() {
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  float* src;
  double* out;
  cudaMalloc(&src, 64 * 8 * 16);
  cudaMemset(src, 0x3f, 64 * 8 * 16);
  cudaMalloc(&out, 8 * 256 * 4 * sms);
  const int iters = 4096;
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  auto run = [&](const char* what, auto launch, int ctasPerSM) {
    launch();
    cudaEventRecord(e0);
    for (int r = 0; r < 5; ++r) launch();
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    const double flop = 5.0 * 2 * 16 * 8 * 4 * 64.0 * iters * 8 * sms * ctasPerSM;  // per warp 64 DMMAs per iter
    std::printf("%-44s %.2f ms  %.1f TFLOP/s  %s\n", what, ms / 5, flop / (ms * 1e-3) * 1e-12,
                cudaGetErrorString(cudaGetLastError()));
  };
  for (int ctas = 1; ctas <= 2; ++ctas) {
    std::printf("-- %d CTA(s) of 8 warps per SM\n", ctas);
    run("registers only, m16n8k4 (DMMA ceiling)", [&] { rateRegisters<<<sms * ctas, 256>>>(out, iters); }, ctas);
    run("registers only, m16n8k8", [&] { rateShape<8><<<sms * ctas, 256>>>(out, iters); }, ctas);
    run("registers only, m16n8k16", [&] { rateShape<16><<<sms * ctas, 256>>>(out, iters); }, ctas);
    run("LDS.128 + F2F.F64.F32 + DMMA", [&] { rate<1><<<sms * ctas, 256>>>(src, out, iters); }, ctas);
    run("LDS.128 + integer widening + DMMA", [&] { rate<2><<<sms * ctas, 256>>>(src, out, iters); }, ctas);
  }
  return 0;
}
