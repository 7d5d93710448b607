// Experiment (not part of the kit): how fast could the sampled algorithm's GEMM be if it chose cuBLASLt's
// algorithm itself instead of taking cublasGemmStridedBatchedEx's default? For the benchmark shapes' GEMMs
// (the layer's exact operands: columns [pixel][kgPad] used transposed, Wr [cout][kgPad], C = NCHW output, one
// batch entry per image) it times the default call, then every algorithm cuBLASLt's heuristic returns (up to 32)
// with split-K 1-4 on top where the algorithm supports it. Build and run: bench/experiments/run_cublaslt_algos.sh.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "experiment_util.cuh"

struct Shape {
  const char* name;
  int pixels, cout, kgPad, batch;
  bool half, tf32;
};

int main() {
  const Shape shapes[] = {
      {"N8 C256 strict", 4096, 256, 2312, 8, false, false}, {"N1 C256 strict", 4096, 256, 2312, 1, false, false},
      {"N4 C512 strict", 1024, 512, 4616, 4, false, false}, {"N16 C64 strict", 16384, 64, 584, 16, false, false},
      {"N1 C256 fp16", 4096, 256, 2368, 1, true, false},    {"N4 C512 fp16", 1024, 512, 4672, 4, true, false},
      {"N8 C256 fp16", 4096, 256, 2368, 8, true, false},    {"N1 C256 tf32", 4096, 256, 2336, 1, false, true},
  };
  cublasHandle_t blas;
  cublasLtHandle_t lt;
  cudaStream_t s;
  void* ws;
  const size_t wsBytes = size_t{32} << 20;
  openBlas(&blas, &lt, &s, &ws, wsBytes, CUBLAS_DEFAULT_MATH);  // math set per shape below
  int dev = 0, sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  std::printf("cuBLAS %d, SMs %d\n", CUBLAS_VERSION, sms);
  for (const Shape& sh : shapes) {
    const size_t el = sh.half ? 2 : 4;
    const long long strideA = static_cast<long long>(sh.pixels) * sh.kgPad, strideC = 1LL * sh.cout * sh.pixels;
    void *a, *b, *c;
    CK(cudaMalloc(&a, el * strideA * sh.batch));
    CK(cudaMalloc(&b, el * sh.cout * sh.kgPad));
    CK(cudaMalloc(&c, el * strideC * sh.batch));
    CK(cudaMemset(a, 0, el * strideA * sh.batch));
    CK(cudaMemset(b, 0, el * sh.cout * sh.kgPad));
    const cudaDataType type = sh.half ? CUDA_R_16F : CUDA_R_32F;
    const cublasComputeType_t compute = sh.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const float one = 1.f, zero = 0.f;
    CK(cublasSetMathMode(blas, sh.half ? CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION : CUBLAS_DEFAULT_MATH));
    const float base = timeUs(
        [&] {
          cublasGemmStridedBatchedEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, sh.pixels, sh.cout, sh.kgPad, &one, a, type,
                                     sh.kgPad, strideA, b, type, sh.kgPad, 0, &zero, c, type, sh.pixels, strideC,
                                     sh.batch, compute, CUBLAS_GEMM_DEFAULT);
        },
        s);
    const double gflop = 2.0 * sh.pixels * sh.cout * sh.kgPad * sh.batch * 1e-9;
    std::printf("\n== %s: m=%d n=%d k=%d batch=%d; cublasGemmStridedBatchedEx %.1f us (%.1f TFLOP/s)\n", sh.name,
                sh.pixels, sh.cout, sh.kgPad, sh.batch, base, gflop / base * 1e3);

    cublasLtMatmulDesc_t op;
    CK(cublasLtMatmulDescCreate(&op, compute, CUDA_R_32F));
    const cublasOperation_t tA = CUBLAS_OP_T, tB = CUBLAS_OP_N;
    CK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &tA, sizeof(tA)));
    CK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tB, sizeof(tB)));
    cublasLtMatrixLayout_t la, lb, lc;
    CK(cublasLtMatrixLayoutCreate(&la, type, sh.kgPad, sh.pixels, sh.kgPad));
    CK(cublasLtMatrixLayoutCreate(&lb, type, sh.kgPad, sh.cout, sh.kgPad));
    CK(cublasLtMatrixLayoutCreate(&lc, type, sh.pixels, sh.cout, sh.pixels));
    setStridedBatch({{la, strideA}, {lb, 0}, {lc, strideC}}, sh.batch);
    std::vector<cublasLtMatmulHeuristicResult_t> res(32);
    CK(heuristicAlgos(lt, op, la, lb, lc, wsBytes, res));
    const int found = static_cast<int>(res.size());
    struct Row {
      float us;
      std::string what;
    };
    std::vector<Row> rows;
    for (int i = 0; i < found; ++i) {
      for (int split = 1; split <= 4; ++split) {
        cublasLtMatmulAlgo_t algo = res[i].algo;
        int id = 0, tile = 0, stages = 0, splitNow = 1;
        cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_ID, &id, 4, nullptr);
        cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, 4, nullptr);
        cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, 4, nullptr);
        cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitNow, 4, nullptr);
        if (split > 1) {
          if (splitNow > 1) break;  // the heuristic already split this one
          int splitOk = 0;
          cublasLtMatmulAlgoCapGetAttribute(&algo, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT, &splitOk, 4, nullptr);
          if (!splitOk) break;
          cublasLtMatmulAlgoConfigSetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split, 4);
        }
        cublasLtMatmulHeuristicResult_t chk;
        if (cublasLtMatmulAlgoCheck(lt, op, la, lb, lc, lc, &algo, &chk) != CUBLAS_STATUS_SUCCESS) continue;
        if (chk.workspaceSize > wsBytes) continue;
        const float us =
            timeUs([&] { cublasLtMatmul(lt, op, &one, a, la, b, lb, &zero, c, lc, c, lc, &algo, ws, wsBytes, s); }, s);
        if (cudaGetLastError() != cudaSuccess) continue;
        char buf[160];
        std::snprintf(buf, sizeof(buf), "heur#%d algo %d tile %d stages %d splitK %d waves %.2f", i, id, tile, stages,
                      split > 1 ? split : splitNow, chk.wavesCount);
        rows.push_back({us, buf});
      }
    }
    std::sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) { return x.us < y.us; });
    for (size_t i = 0; i < rows.size() && i < 6; ++i)
      std::printf("  %.1f us (%.2fx default)  %s\n", rows[i].us, rows[i].us / base, rows[i].what.c_str());
    for (const Row& r : rows)
      if (r.what.rfind("heur#0 ", 0) == 0) std::printf("  heuristic #0 variants: %.1f us %s\n", r.us, r.what.c_str());
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(op);
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
  }
  return 0;
}
