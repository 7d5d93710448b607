// Experiment (not part of the kit): does the strict-fp32 SGEMM of the sampled algorithm run faster with another
// memory layout of its operands? The layer's GEMM is out[n][co][p] = sum_k Wr[co][k] cols[n][p][k]: in cuBLAS's
// column-major terms X (P x Cout, the NCHW output) = op(A) op(B) with A = cols (K contiguous, "T") and B = Wr
// (K contiguous, "N"). A sampler could as well write cols k-major (pixels contiguous, "N"), and the weight could be
// stored co-contiguous ("T"). For each benchmark shape this times the four layouts with cublasGemmStridedBatchedEx's
// default and with the best of cuBLASLt's heuristic algorithms (up to 16), on random data (FFMA power, hence the
// clock, depends on the data). Build and run: bench/experiments/run_cublaslt_algos.sh layouts.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

#include "experiment_util.cuh"

struct Shape {
  const char* name;
  int pixels, cout, kgPad, batch;
};

template <typename T>
__global__ void fillRandom(T* p, size_t n, unsigned seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    unsigned h = static_cast<unsigned>(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    p[i] = static_cast<T>(static_cast<float>(h & 0xffffff) / 8388608.f - 1.f);
  }
}

// One shape's operands on the GPU in element type T: A (the column matrices), B (the weight), C (the outputs), A and
// B random.
template <typename T>
struct Operands {
  T *a, *b, *c;
  Operands(long long aElems, long long bElems, long long cElems, cudaStream_t s) {
    CK(cudaMalloc(&a, sizeof(T) * aElems));
    CK(cudaMalloc(&b, sizeof(T) * bElems));
    CK(cudaMalloc(&c, sizeof(T) * cElems));
    fillRandom<<<1024, 256, 0, s>>>(a, aElems, 1);
    fillRandom<<<1024, 256, 0, s>>>(b, bElems, 2);
  }
  ~Operands() {
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
  }
};

int main() {
  const Shape shapes[] = {{"N8 C256", 4096, 256, 2312, 8},
                          {"N1 C256", 4096, 256, 2312, 1},
                          {"N4 C512", 1024, 512, 4616, 4},
                          {"N16 C64", 16384, 64, 584, 16}};
  cublasHandle_t blas;
  cublasLtHandle_t lt;
  cudaStream_t s;
  void* ws;
  const size_t wsBytes = size_t{32} << 20;
  openBlas(&blas, &lt, &s, &ws, wsBytes, CUBLAS_DEFAULT_MATH);
  std::printf("cuBLAS %d\n", CUBLAS_VERSION);
  const float one = 1.f, zero = 0.f;
  for (const Shape& sh : shapes) {
    const long long strideA = 1LL * sh.pixels * sh.kgPad, strideC = 1LL * sh.cout * sh.pixels;
    const long long aElems = strideA * sh.batch, bElems = 1LL * sh.cout * sh.kgPad, cElems = strideC * sh.batch;
    const double gflop = 2.0 * sh.pixels * sh.cout * sh.kgPad * sh.batch * 1e-9;
    std::printf("\n== %s strict fp32: P=%d Cout=%d K=%d batch=%d (%.2f GFLOP)\n", sh.name, sh.pixels, sh.cout, sh.kgPad,
                sh.batch, gflop);
    {  // fp32 operands, freed before the fp64 ones are made
      const Operands<float> f(aElems, bElems, cElems, s);
      float *a = f.a, *b = f.b, *c = f.c;
      for (int layout = 0; layout < 4; ++layout) {
        // A: T = cols [p][k] (ld K), N = cols [k][p] (ld P). B: N = Wr [co][k] (ld K), T = Wt [k][co] (ld Cout).
        const cublasOperation_t tA = (layout & 1) ? CUBLAS_OP_N : CUBLAS_OP_T;
        const cublasOperation_t tB = (layout & 2) ? CUBLAS_OP_T : CUBLAS_OP_N;
        const int lda = tA == CUBLAS_OP_T ? sh.kgPad : sh.pixels, ldb = tB == CUBLAS_OP_N ? sh.kgPad : sh.cout;
        const char* name = layout == 0   ? "TN (layer today)"
                           : layout == 1 ? "NN (cols k-major)"
                           : layout == 2 ? "TT (Wt)"
                                         : "NT (cols k-major, Wt)";
        const float base = timeUs(
            [&] {
              cublasGemmStridedBatchedEx(blas, tA, tB, sh.pixels, sh.cout, sh.kgPad, &one, a, CUDA_R_32F, lda, strideA,
                                         b, CUDA_R_32F, ldb, 0, &zero, c, CUDA_R_32F, sh.pixels, strideC, sh.batch,
                                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            },
            s);
        CK(cudaGetLastError());
        cublasLtMatmulDesc_t op;
        CK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
        CK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &tA, sizeof(tA)));
        CK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tB, sizeof(tB)));
        cublasLtMatrixLayout_t la, lb, lc;
        CK(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, tA == CUBLAS_OP_T ? sh.kgPad : sh.pixels,
                                      tA == CUBLAS_OP_T ? sh.pixels : sh.kgPad, lda));
        CK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, tB == CUBLAS_OP_N ? sh.kgPad : sh.cout,
                                      tB == CUBLAS_OP_N ? sh.cout : sh.kgPad, ldb));
        CK(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, sh.pixels, sh.cout, sh.pixels));
        setStridedBatch({{la, strideA}, {lb, 0}, {lc, strideC}}, sh.batch);
        std::vector<cublasLtMatmulHeuristicResult_t> res(16);
        heuristicAlgos(lt, op, la, lb, lc, wsBytes, res);
        float best = 1e30f;
        int bestIdx = -1, bestTile = 0;
        for (size_t i = 0; i < res.size(); ++i) {
          const float us = timeUs(
              [&] { cublasLtMatmul(lt, op, &one, a, la, b, lb, &zero, c, lc, c, lc, &res[i].algo, ws, wsBytes, s); },
              s);
          if (cudaGetLastError() != cudaSuccess) continue;
          if (us < best) {
            best = us;
            bestIdx = static_cast<int>(i);
            cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &bestTile, 4, nullptr);
          }
        }
        std::printf("  %-24s default %7.1f us (%.1f TFLOP/s); best of %zu Lt algos %7.1f us (heur#%d, tile %d)\n", name,
                    base, gflop / base * 1e3, res.size(), best, bestIdx, bestTile);
        cublasLtMatrixLayoutDestroy(la);
        cublasLtMatrixLayoutDestroy(lb);
        cublasLtMatrixLayoutDestroy(lc);
        cublasLtMatmulDescDestroy(op);
      }
    }
    // The same products in fp64 (exact products of fp32 inputs, fp64 sums): DGEMM on the fp64 tensor cores, with
    // twice the bytes per operand. Layout TN as the layer's.
    const Operands<double> d(aElems, bElems, cElems, s);
    double *da = d.a, *db = d.b, *dc = d.c;
    const double done = 1.0, dzero = 0.0;
    const float dgemm = timeUs(
        [&] {
          cublasDgemmStridedBatched(blas, CUBLAS_OP_T, CUBLAS_OP_N, sh.pixels, sh.cout, sh.kgPad, &done, da, sh.kgPad,
                                    strideA, db, sh.kgPad, 0, &dzero, dc, sh.pixels, strideC, sh.batch);
        },
        s);
    CK(cudaGetLastError());
    std::printf("  %-24s default %7.1f us (%.1f TFLOP/s)\n", "DGEMM TN (fp64)", dgemm, gflop / dgemm * 1e3);
  }
  return 0;
}
