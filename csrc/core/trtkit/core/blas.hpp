// cuBLAS for layers, loaded at run time. A layer that multiplies matrices owns a blas::Handle per execution
// context (create it in Layer::attach, as TensorRT 10+ hands plugins no cuBLAS handle) and calls gemm() in
// enqueue with its stream and a slice of its workspace.
//
// Why dlopen rather than linking: the plugin library must load wherever TensorRT does (trtexec, Polygraphy,
// a CPU-only CI machine with the lean runtime), and libcublas is not on every loader path. Without cuBLAS a
// layer sees Handle::ok() == false and unavailableReason() says why, so it can fall back to its own kernels.
// Only cuBLAS's headers are needed at build time (CUDA toolkit or the nvidia-cublas wheel); without them the
// kit builds with cuBLAS marked unavailable.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace trtkit::blas {

// Operand types and products; sums are always fp32.
enum class Math : int32_t {
  kFloat32Strict = 0,  // fp32 operands, FFMA products (never TF32, whatever the handle defaults are)
  kFloat32TF32 = 1,    // fp32 operands, TF32 tensor-core products (opt-in)
  kFloat16 = 2,        // fp16 operands and result, fp32 accumulation, no fp16 split-K reductions
};

// One strided-batched GEMM in cuBLAS's column-major terms: C_i = op(A_i) * op(B_i) + beta * C_i, alpha = 1.
struct StridedBatchedGemm {
  bool transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int64_t lda = 0, strideA = 0;
  const void* b = nullptr;
  int64_t ldb = 0, strideB = 0;
  void* c = nullptr;
  int64_t ldc = 0, strideC = 0;
  int64_t batch = 1;
  float beta = 0.f;
};

// Workspace a handle is given on every call (cuBLAS's own recommendation for Hopper). Supplying it keeps
// cuBLAS from allocating device memory in enqueue, which also keeps enqueue CUDA-graph capturable.
constexpr size_t kWorkspaceBytes = size_t{32} << 20;

// True when cuBLAS was found and loaded (tried once per process). Thread-safe.
bool available();
// Why it is not available ("" when it is). The library tried: $TRTKIT_CUBLAS_LIBRARY if set, else
// libcublas.so.<major of the headers built against>.
const char* unavailableReason();
// Version of the loaded library (major*10000 + minor*100 + patch), 0 if none.
int loadedVersion();

class Handle {
 public:
  Handle();  // creates a cuBLAS handle on the current device when cuBLAS is available; never throws
  ~Handle();
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  bool ok() const { return handle_ != nullptr; }
  // "" when ok(), else why not (cuBLAS not loaded and why, or handle creation failed).
  const char* unusableReason() const;

  // Enqueues g on stream. workspace: kWorkspaceBytes, 256-byte aligned. Returns nullptr on success, else a
  // static message (no allocation, so enqueue can report it).
  const char* gemm(const StridedBatchedGemm& g, Math math, cudaStream_t stream, void* workspace) const;

 private:
  void* handle_ = nullptr;
};

}  // namespace trtkit::blas
