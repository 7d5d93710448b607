// What the standalone cuBLAS(Lt) experiments share (not part of the kit): exit on a failed call, a kernel's time as
// the median of five 20-call event timings after a warm-up, strided-batch layouts and the heuristic's algorithms.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <utility>
#include <vector>

#define CK(x)                                                                    \
  do {                                                                           \
    auto e_ = (x);                                                               \
    if (static_cast<int>(e_) != 0) {                                             \
      std::fprintf(stderr, "%s:%d %s -> %d\n", __FILE__, __LINE__, #x, (int)e_); \
      std::exit(1);                                                              \
    }                                                                            \
  } while (0)

// What every experiment opens: cuBLAS and cuBLASLt handles, one stream (cuBLAS's), and wsBytes of workspace set on
// cuBLAS with the given math mode.
inline void openBlas(cublasHandle_t* blas, cublasLtHandle_t* lt, cudaStream_t* s, void** ws, size_t wsBytes,
                     cublasMath_t math) {
  CK(cublasCreate(blas));
  CK(cublasLtCreate(lt));
  CK(cudaStreamCreate(s));
  CK(cublasSetStream(*blas, *s));
  CK(cudaMalloc(ws, wsBytes));
  CK(cublasSetWorkspace(*blas, *ws, wsBytes));
  CK(cublasSetMathMode(*blas, math));
}

template <typename F>
static float timeUs(F&& f, cudaStream_t s) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  for (int i = 0; i < 5; ++i) f();
  std::vector<float> v;
  for (int r = 0; r < 5; ++r) {
    cudaEventRecord(a, s);
    for (int i = 0; i < 20; ++i) f();
    cudaEventRecord(b, s);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    v.push_back(ms * 1000.f / 20);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(v.begin(), v.end());
  return v[2];
}

// `batch` matrices on every layout, each (layout, stride between matrices in elements).
inline void setStridedBatch(std::initializer_list<std::pair<cublasLtMatrixLayout_t, long long>> layouts, int batch) {
  for (const auto& [layout, stride] : layouts) {
    CK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof(batch)));
    CK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
  }
}

// The algorithms cuBLASLt's heuristic offers for D = op(A, B) (C = D) within a workspace cap: up to res.size(),
// res shrunk to those found. Returns the heuristic's status (a form it does not support is not an error here).
inline cublasStatus_t heuristicAlgos(cublasLtHandle_t lt, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t a,
                                     cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t d, size_t wsBytes,
                                     std::vector<cublasLtMatmulHeuristicResult_t>& res) {
  cublasLtMatmulPreference_t pref;
  CK(cublasLtMatmulPreferenceCreate(&pref));
  CK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsBytes, sizeof(wsBytes)));
  int found = 0;
  const cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(lt, op, a, b, d, d, pref, static_cast<int>(res.size()), res.data(), &found);
  cublasLtMatmulPreferenceDestroy(pref);
  res.resize(status == CUBLAS_STATUS_SUCCESS ? found : 0);
  return status;
}
