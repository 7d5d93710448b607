// Experiment (not part of the kit): can the sampled algorithm's GEMM read a tap-major weight [Cout][kh*kw*Cin] as
// it is (no per-call relayout) and add the bias in cuBLASLt's epilogue instead of through a bias column of the
// re-laid weight? The output is NCHW, out[n][co][p]: as D = W x cols^T it is a row-major Cout x P matrix, and
// cuBLASLt's bias runs along D's rows (length Cout). Times, per benchmark shape (fp16), the layer's present GEMM
// (cublasGemmStridedBatchedEx on the bias-column operands, K = kgPad) against every algorithm cuBLASLt's heuristic
// returns for the row-major-D + BIAS epilogue form (K = kh*kw*Cin), and checks both give the same output.
// Build and run: bench/experiments/run_cublaslt_algos.sh row_bias.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "experiment_util.cuh"

struct Shape {
  const char* name;
  int pixels, cout, k, kgPad, batch;
};

int main() {
  const Shape shapes[] = {{"N4 C512 fp16", 1024, 512, 4608, 4672, 4},
                          {"N1 C256 fp16", 4096, 256, 2304, 2368, 1},
                          {"N8 C256 fp16", 4096, 256, 2304, 2368, 8}};
  cublasHandle_t blas;
  cublasLtHandle_t lt;
  cudaStream_t s;
  void* ws;
  const size_t wsBytes = size_t{32} << 20;
  openBlas(&blas, &lt, &s, &ws, wsBytes, CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
  for (const Shape& sh : shapes) {
    // Host data: cols[n][p][kgPad] (k < K random, k == K one, zeros after), W[co][K], bias[co];
    // Wr[co][kgPad] = W, bias, zeros.
    const long long colsPer = 1LL * sh.pixels * sh.kgPad, outPer = 1LL * sh.cout * sh.pixels;
    std::vector<__half> cols(colsPer * sh.batch), wr(1LL * sh.cout * sh.kgPad), w(1LL * sh.cout * sh.k), bias(sh.cout);
    unsigned seed = 12345;
    auto rnd = [&] {
      seed = seed * 1664525u + 1013904223u;
      return static_cast<float>((seed >> 9) & 0xffff) / 65536.f - 0.5f;
    };
    for (long long i = 0; i < colsPer * sh.batch; ++i) {
      const int k = static_cast<int>(i % sh.kgPad);
      cols[i] = __float2half(k < sh.k ? rnd() : k == sh.k ? 1.f : 0.f);
    }
    for (int co = 0; co < sh.cout; ++co) {
      bias[co] = __float2half(rnd());
      for (int k = 0; k < sh.kgPad; ++k) {
        const __half v = k < sh.k ? __float2half(rnd()) : k == sh.k ? bias[co] : __float2half(0.f);
        wr[1LL * co * sh.kgPad + k] = v;
        if (k < sh.k) w[1LL * co * sh.k + k] = v;
      }
    }
    __half *dCols, *dWr, *dW, *dBias, *dOut0, *dOut1;
    CK(cudaMalloc(&dCols, cols.size() * 2));
    CK(cudaMalloc(&dWr, wr.size() * 2));
    CK(cudaMalloc(&dW, w.size() * 2));
    CK(cudaMalloc(&dBias, bias.size() * 2));
    CK(cudaMalloc(&dOut0, outPer * sh.batch * 2));
    CK(cudaMalloc(&dOut1, outPer * sh.batch * 2));
    CK(cudaMemcpy(dCols, cols.data(), cols.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dWr, wr.data(), wr.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dW, w.data(), w.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dBias, bias.data(), bias.size() * 2, cudaMemcpyHostToDevice));
    const float one = 1.f, zero = 0.f;
    auto present = [&] {
      CK(cublasGemmStridedBatchedEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, sh.pixels, sh.cout, sh.kgPad, &one, dCols,
                                    CUDA_R_16F, sh.kgPad, colsPer, dWr, CUDA_R_16F, sh.kgPad, 0, &zero, dOut0,
                                    CUDA_R_16F, sh.pixels, outPer, sh.batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    };
    const float base = timeUs(present, s);
    std::printf("\n== %s: present GEMM (bias column, K %d): %.1f us\n", sh.name, sh.kgPad, base);

    // D (Cout x P, row-major, ld P) = op(A) x op(B), + bias[co] in the epilogue. Forms tried:
    //   0: A = W column-major K x Cout (transposed), B = cols column-major K x P (ld kgPad), only D row-major;
    //   1: every matrix row-major: A = W (Cout x K), B = cols (P x K, ld kgPad, transposed);
    //   2, 3: forms 0 and 1 without the epilogue (whether the row-major D or the bias is what is unsupported).
    const int form = getenv("FORM") ? atoi(getenv("FORM")) : 0;
    const bool allRow = form % 2 == 1, withBias = form < 2;
    cublasLtMatmulDesc_t op;
    CK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t tA = allRow ? CUBLAS_OP_N : CUBLAS_OP_T, tB = allRow ? CUBLAS_OP_T : CUBLAS_OP_N;
    CK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &tA, sizeof(tA)));
    CK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tB, sizeof(tB)));
    if (withBias) {
      const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
      CK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
      CK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &dBias, sizeof(dBias)));
    }
    const cublasLtOrder_t row = CUBLASLT_ORDER_ROW;
    cublasLtMatrixLayout_t la, lb, ld;
    if (allRow) {
      CK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16F, sh.cout, sh.k, sh.k));
      CK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16F, sh.pixels, sh.k, sh.kgPad));
      CK(cublasLtMatrixLayoutSetAttribute(la, CUBLASLT_MATRIX_LAYOUT_ORDER, &row, sizeof(row)));
      CK(cublasLtMatrixLayoutSetAttribute(lb, CUBLASLT_MATRIX_LAYOUT_ORDER, &row, sizeof(row)));
    } else {
      CK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16F, sh.k, sh.cout, sh.k));
      CK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16F, sh.k, sh.pixels, sh.kgPad));
    }
    CK(cublasLtMatrixLayoutCreate(&ld, CUDA_R_16F, sh.cout, sh.pixels, sh.pixels));
    CK(cublasLtMatrixLayoutSetAttribute(ld, CUBLASLT_MATRIX_LAYOUT_ORDER, &row, sizeof(row)));
    setStridedBatch({{la, 0}, {lb, colsPer}, {ld, outPer}}, sh.batch);
    std::vector<cublasLtMatmulHeuristicResult_t> res(16);
    const cublasStatus_t hs = heuristicAlgos(lt, op, la, lb, ld, wsBytes, res);
    const int found = static_cast<int>(res.size());
    std::printf("  form %d (%s, %s; K %d): heuristic status %d, %d algorithms\n", form,
                allRow ? "all row-major" : "row-major D", withBias ? "BIAS epilogue" : "no epilogue", sh.k, (int)hs,
                found);
    present();
    CK(cudaStreamSynchronize(s));
    std::vector<__half> o0(outPer * sh.batch), o1(outPer * sh.batch);
    CK(cudaMemcpy(o0.data(), dOut0, o0.size() * 2, cudaMemcpyDeviceToHost));
    for (int i = 0; i < found; ++i) {
      auto run = [&] {
        CK(cublasLtMatmul(lt, op, &one, dW, la, dCols, lb, &zero, dOut1, ld, dOut1, ld, &res[i].algo, ws, wsBytes, s));
      };
      CK(cudaMemset(dOut1, 0xff, o1.size() * 2));
      run();
      CK(cudaStreamSynchronize(s));
      CK(cudaMemcpy(o1.data(), dOut1, o1.size() * 2, cudaMemcpyDeviceToHost));
      double worst = 0, scale = 0;
      for (size_t j = 0; j < o0.size(); ++j) {
        const double a = __half2float(o0[j]), b = __half2float(o1[j]);
        worst = std::max(worst, std::isfinite(b) ? std::fabs(a - b) : 1e30);
        scale = std::max(scale, std::fabs(a));
      }
      const float us = timeUs(run, s);
      std::printf("  #%d: %.1f us (%.2fx present), max |diff| %.3g of max |out| %.3g, waves %.2f\n", i, us, us / base,
                  worst, scale, res[i].wavesCount);
    }
    for (auto l : {la, lb, ld}) cublasLtMatrixLayoutDestroy(l);
    cublasLtMatmulDescDestroy(op);
    for (void* p : {static_cast<void*>(dCols), static_cast<void*>(dWr), static_cast<void*>(dW),
                    static_cast<void*>(dBias), static_cast<void*>(dOut0), static_cast<void*>(dOut1)})
      cudaFree(p);
  }
  return 0;
}
