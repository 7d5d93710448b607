// Run-time loading of cuBLAS (see blas.hpp for why). Compiled with TRTKIT_HAVE_CUBLAS_HEADERS when the build
// found cublas_api.h; the symbols used are resolved by dlsym and checked against the headers' major version.
#include "trtkit/core/blas.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <type_traits>

#ifdef TRTKIT_HAVE_CUBLAS_HEADERS
#include <cublas_api.h>
#include <dlfcn.h>
#endif

namespace trtkit::blas {

#ifdef TRTKIT_HAVE_CUBLAS_HEADERS
namespace {

// The _v2 entry points are the exported names (cublas_v2.h only maps the short names onto them by macro).
// cublasGemmStridedBatchedEx is spelled out: C++ sees an inline overload of it taking cudaDataType.
using GemmFn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                                  const void*, cudaDataType, int, long long, const void*, cudaDataType, int, long long,
                                  const void*, void*, cudaDataType, int, long long, int, cublasComputeType_t,
                                  cublasGemmAlgo_t);

struct Library {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) setStream = nullptr;
  decltype(&cublasSetWorkspace_v2) setWorkspace = nullptr;
  decltype(&cublasSetMathMode) setMathMode = nullptr;
  decltype(&cublasGetProperty) getProperty = nullptr;
  GemmFn gemm = nullptr;
  int version = 0;
  bool loaded = false;
  char reason[512] = "";
};

Library& library() {
  static Library lib;
  static std::once_flag once;
  std::call_once(once, [] {
    char fallback[64];
    std::snprintf(fallback, sizeof(fallback), "libcublas.so.%d", CUBLAS_VER_MAJOR);
    const char* env = std::getenv("TRTKIT_CUBLAS_LIBRARY");
    const char* name = env != nullptr && env[0] != '\0' ? env : fallback;
    void* so = dlopen(name, RTLD_NOW | RTLD_LOCAL);  // never closed: handles may outlive any owner
    if (so == nullptr) {
      const char* err = dlerror();
      std::snprintf(lib.reason, sizeof(lib.reason),
                    "cannot load %s (%s); put cuBLAS %d on the loader path or set TRTKIT_CUBLAS_LIBRARY", name,
                    err != nullptr ? err : "not found", CUBLAS_VER_MAJOR);
      return;
    }
    bool missing = false;
    auto sym = [&](auto& fn, const char* symbol) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(so, symbol));
      if (fn == nullptr && !missing) {
        missing = true;
        std::snprintf(lib.reason, sizeof(lib.reason), "%s has no symbol %s", name, symbol);
      }
    };
    sym(lib.create, "cublasCreate_v2");
    sym(lib.destroy, "cublasDestroy_v2");
    sym(lib.setStream, "cublasSetStream_v2");
    sym(lib.setWorkspace, "cublasSetWorkspace_v2");
    sym(lib.setMathMode, "cublasSetMathMode");
    sym(lib.getProperty, "cublasGetProperty");
    sym(lib.gemm, "cublasGemmStridedBatchedEx");
    if (missing) return;
    int major = 0, minor = 0, patch = 0;
    lib.getProperty(MAJOR_VERSION, &major);
    lib.getProperty(MINOR_VERSION, &minor);
    lib.getProperty(PATCH_LEVEL, &patch);
    if (major != CUBLAS_VER_MAJOR) {
      std::snprintf(lib.reason, sizeof(lib.reason), "%s is cuBLAS %d.%d, but trtkit was built against cuBLAS %d", name,
                    major, minor, CUBLAS_VER_MAJOR);
      return;
    }
    lib.version = major * 10000 + minor * 100 + patch;
    lib.loaded = true;
  });
  return lib;
}

}  // namespace

bool available() {
  return library().loaded;
}
const char* unavailableReason() {
  return library().reason;
}
int loadedVersion() {
  return library().version;
}

Handle::Handle() {
  Library& lib = library();
  cublasHandle_t h = nullptr;
  if (lib.loaded && lib.create(&h) == CUBLAS_STATUS_SUCCESS) handle_ = h;
}

Handle::~Handle() {
  if (handle_ != nullptr) library().destroy(static_cast<cublasHandle_t>(handle_));
}

const char* Handle::unusableReason() const {
  if (handle_ != nullptr) return "";
  return available() ? "cublasCreate failed" : unavailableReason();
}

const char* Handle::gemm(const StridedBatchedGemm& g, Math math, cudaStream_t stream, void* workspace) const {
  if (handle_ == nullptr) return "no cuBLAS handle (cuBLAS unavailable or handle creation failed)";
  const Library& lib = library();
  auto h = static_cast<cublasHandle_t>(handle_);
  // setStream resets the workspace to cuBLAS's own pool, so the kit's workspace is set after it, every call.
  if (lib.setStream(h, stream) != CUBLAS_STATUS_SUCCESS) return "cublasSetStream failed";
  if (lib.setWorkspace(h, workspace, kWorkspaceBytes) != CUBLAS_STATUS_SUCCESS) return "cublasSetWorkspace failed";
  // Default math never turns FP32 compute into TF32; fp16 sums stay fp32 even inside split-K reductions.
  const cublasMath_t mode =
      math == Math::kFloat16
          ? static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)
          : CUBLAS_DEFAULT_MATH;
  if (lib.setMathMode(h, mode) != CUBLAS_STATUS_SUCCESS) return "cublasSetMathMode failed";
  const cudaDataType type = math == Math::kFloat16 ? CUDA_R_16F : CUDA_R_32F;
  const cublasComputeType_t compute = math == Math::kFloat32TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const int64_t kIntMax = 0x7fffffff;
  if (g.m > kIntMax || g.n > kIntMax || g.k > kIntMax || g.lda > kIntMax || g.ldb > kIntMax || g.ldc > kIntMax ||
      g.batch > kIntMax)
    return "GEMM dimensions exceed 32 bits";
  const float one = 1.f;
  const cublasStatus_t s =
      lib.gemm(h, g.transA ? CUBLAS_OP_T : CUBLAS_OP_N, g.transB ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(g.m),
               static_cast<int>(g.n), static_cast<int>(g.k), &one, g.a, type, static_cast<int>(g.lda), g.strideA, g.b,
               type, static_cast<int>(g.ldb), g.strideB, &g.beta, g.c, type, static_cast<int>(g.ldc), g.strideC,
               static_cast<int>(g.batch), compute, CUBLAS_GEMM_DEFAULT);
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return nullptr;
    case CUBLAS_STATUS_NOT_SUPPORTED: return "cublasGemmStridedBatchedEx: not supported for these operands";
    case CUBLAS_STATUS_INVALID_VALUE: return "cublasGemmStridedBatchedEx: invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "cublasGemmStridedBatchedEx: not supported on this GPU";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "cublasGemmStridedBatchedEx: kernel launch failed";
    default: return "cublasGemmStridedBatchedEx failed";
  }
}

#else  // built without cuBLAS headers

bool available() {
  return false;
}
const char* unavailableReason() {
  return "trtkit was built without cuBLAS headers (install the CUDA toolkit's cuBLAS or nvidia-cublas and rebuild)";
}
int loadedVersion() {
  return 0;
}
Handle::Handle() = default;
Handle::~Handle() = default;
const char* Handle::unusableReason() const {
  return unavailableReason();
}
const char* Handle::gemm(const StridedBatchedGemm&, Math, cudaStream_t, void*) const {
  return unavailableReason();
}

#endif

}  // namespace trtkit::blas
