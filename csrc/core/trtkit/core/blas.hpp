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
#include <memory>

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

// GEMM variants, for layers that offer them to TensorRT's builder as tactics (IPluginV3): variant 0 is cuBLAS's
// own choice (cublasGemmStridedBatchedEx); variant v in [1, kGemmVariants) is candidate #v of cuBLASLt's heuristic
// for the GEMM's shape, operand alignment and math (candidate #0 is what variant 0 runs: measured on the H100,
// bench/experiments/results/cublaslt_algos_H100.txt, where candidate #2 ran an fp16 GEMM 22 % faster).
constexpr int kGemmVariants = 5;

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

// True when cuBLASLt (libcublasLt.so.<major>, or $TRTKIT_CUBLASLT_LIBRARY) loaded too: variants 1+ need it.
bool ltAvailable();

class Handle {
 public:
  Handle();  // creates a cuBLAS handle on the current device when cuBLAS is available; never throws
  ~Handle();
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  bool ok() const { return handle_ != nullptr; }
  // "" when ok(), else why not (cuBLAS not loaded and why, or handle creation failed).
  const char* unusableReason() const;

  // Finds cuBLASLt's candidate #variant for g (shape, strides, math; the pointers only for their alignment)
  // and keeps it in this handle (a few shapes, least recently prepared dropped first). Host work that may
  // allocate: call it at configure time, never in enqueue. False where there is no such candidate (or no
  // cuBLASLt); variant 0 needs no preparation and returns true.
  bool prepare(const StridedBatchedGemm& g, Math math, int variant);
  // Whether gemm(g, math, ..., variant) would run the variant rather than cuBLAS's own choice.
  bool prepared(const StridedBatchedGemm& g, Math math, int variant) const;

  // Enqueues g on stream. workspace: kWorkspaceBytes, 256-byte aligned. variant: 0, or one prepare()d for this
  // shape and the pointers' alignment; any other runs as variant 0 (same result, cuBLAS's choice of kernel).
  // Returns nullptr on success, else a static message (no allocation, so enqueue can report it).
  const char* gemm(const StridedBatchedGemm& g, Math math, cudaStream_t stream, void* workspace, int variant = 0) const;

 private:
  struct Plans;  // cuBLASLt handle and prepared variants (blas.cpp)
  void* handle_ = nullptr;
  std::unique_ptr<Plans> plans_;
};

}  // namespace trtkit::blas
