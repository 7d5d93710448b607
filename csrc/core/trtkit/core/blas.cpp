// Run-time loading of cuBLAS (see blas.hpp for why). Compiled with TRTKIT_HAVE_CUBLAS_HEADERS when the build
// found cublas_api.h; the symbols used are resolved by dlsym and checked against the headers' major version.
#include "trtkit/core/blas.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#ifdef TRTKIT_HAVE_CUBLAS_HEADERS
#include <cublasLt.h>
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

// dlopen($envVar if set, else "<stem>.so.<cuBLAS major of the headers>"); name receives what was tried. Never
// closed: handles may outlive any owner.
void* openLibrary(const char* envVar, const char* stem, char* name, size_t size) {
  const char* env = std::getenv(envVar);
  if (env != nullptr && env[0] != '\0') {
    std::snprintf(name, size, "%s", env);
  } else {
    std::snprintf(name, size, "%s.so.%d", stem, CUBLAS_VER_MAJOR);
  }
  return dlopen(name, RTLD_NOW | RTLD_LOCAL);
}

// fn = the symbol, typed; false when the library lacks it.
template <typename Fn>
bool bind(void* so, Fn& fn, const char* symbol) {
  fn = reinterpret_cast<Fn>(dlsym(so, symbol));
  return fn != nullptr;
}

Library& library() {
  static Library lib;
  static std::once_flag once;
  std::call_once(once, [] {
    char name[512];
    void* so = openLibrary("TRTKIT_CUBLAS_LIBRARY", "libcublas", name, sizeof(name));
    if (so == nullptr) {
      const char* err = dlerror();
      std::snprintf(lib.reason, sizeof(lib.reason),
                    "cannot load %s (%s); put cuBLAS %d on the loader path or set TRTKIT_CUBLAS_LIBRARY", name,
                    err != nullptr ? err : "not found", CUBLAS_VER_MAJOR);
      return;
    }
    bool missing = false;
    auto sym = [&](auto& fn, const char* symbol) {
      if (!bind(so, fn, symbol) && !missing) {
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

// cuBLASLt, for GEMM variants beyond cuBLAS's own choice. Loaded once, after cuBLAS; optional.
struct LtLibrary {
  decltype(&cublasLtCreate) create = nullptr;
  decltype(&cublasLtDestroy) destroy = nullptr;
  decltype(&cublasLtMatmulDescCreate) descCreate = nullptr;
  decltype(&cublasLtMatmulDescDestroy) descDestroy = nullptr;
  decltype(&cublasLtMatmulDescSetAttribute) descSet = nullptr;
  decltype(&cublasLtMatrixLayoutCreate) layoutCreate = nullptr;
  decltype(&cublasLtMatrixLayoutDestroy) layoutDestroy = nullptr;
  decltype(&cublasLtMatrixLayoutSetAttribute) layoutSet = nullptr;
  decltype(&cublasLtMatmulPreferenceCreate) prefCreate = nullptr;
  decltype(&cublasLtMatmulPreferenceDestroy) prefDestroy = nullptr;
  decltype(&cublasLtMatmulPreferenceSetAttribute) prefSet = nullptr;
  decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic = nullptr;
  decltype(&cublasLtMatmul) matmul = nullptr;
  bool loaded = false;
};

LtLibrary& ltLibrary() {
  static LtLibrary lt;
  static std::once_flag once;
  std::call_once(once, [] {
    if (!library().loaded) return;
    char name[512];
    void* so = openLibrary("TRTKIT_CUBLASLT_LIBRARY", "libcublasLt", name, sizeof(name));
    if (so == nullptr) return;
    bool missing = false;
    auto sym = [&](auto& fn, const char* symbol) { missing = !bind(so, fn, symbol) || missing; };
    sym(lt.create, "cublasLtCreate");
    sym(lt.destroy, "cublasLtDestroy");
    sym(lt.descCreate, "cublasLtMatmulDescCreate");
    sym(lt.descDestroy, "cublasLtMatmulDescDestroy");
    sym(lt.descSet, "cublasLtMatmulDescSetAttribute");
    sym(lt.layoutCreate, "cublasLtMatrixLayoutCreate");
    sym(lt.layoutDestroy, "cublasLtMatrixLayoutDestroy");
    sym(lt.layoutSet, "cublasLtMatrixLayoutSetAttribute");
    sym(lt.prefCreate, "cublasLtMatmulPreferenceCreate");
    sym(lt.prefDestroy, "cublasLtMatmulPreferenceDestroy");
    sym(lt.prefSet, "cublasLtMatmulPreferenceSetAttribute");
    sym(lt.heuristic, "cublasLtMatmulAlgoGetHeuristic");
    sym(lt.matmul, "cublasLtMatmul");
    lt.loaded = !missing;
  });
  return lt;
}

cudaDataType typeOf(Math math) {
  return math == Math::kFloat16 ? CUDA_R_16F : CUDA_R_32F;
}
cublasComputeType_t computeOf(Math math) {
  return math == Math::kFloat32TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

// Largest power of two <= 256 dividing the address: what cuBLASLt's alignment preferences describe.
uint32_t alignmentOf(const void* ptr) {
  const auto v = reinterpret_cast<uintptr_t>(ptr);
  uint32_t a = 256;
  while (a > 1 && v % a != 0) a /= 2;
  return a;
}

// What a prepared variant is valid for: everything of the GEMM but the pointers, whose alignment stands in.
struct PlanKey {
  bool transA, transB, betaZero;
  int64_t m, n, k, lda, ldb, ldc, strideA, strideB, strideC, batch;
  Math math;
  int variant;
  uint32_t alignA, alignB, alignC;
  static PlanKey of(const StridedBatchedGemm& g, Math math, int variant) {
    return {g.transA,
            g.transB,
            g.beta == 0.f,
            g.m,
            g.n,
            g.k,
            g.lda,
            g.ldb,
            g.ldc,
            g.strideA,
            g.strideB,
            g.strideC,
            g.batch,
            math,
            variant,
            alignmentOf(g.a),
            alignmentOf(g.b),
            alignmentOf(g.c)};
  }
  bool operator==(const PlanKey& o) const {
    return transA == o.transA && transB == o.transB && betaZero == o.betaZero && m == o.m && n == o.n && k == o.k &&
           lda == o.lda && ldb == o.ldb && ldc == o.ldc && strideA == o.strideA && strideB == o.strideB &&
           strideC == o.strideC && batch == o.batch && math == o.math && variant == o.variant && alignA == o.alignA &&
           alignB == o.alignB && alignC == o.alignC;
  }
};

struct Plan {
  bool used = false;
  PlanKey key{};
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  void release() {
    const LtLibrary& lt = ltLibrary();
    if (desc != nullptr) lt.descDestroy(desc);
    for (cublasLtMatrixLayout_t l : {a, b, c})
      if (l != nullptr) lt.layoutDestroy(l);
    *this = Plan{};
  }
};

}  // namespace

// A handle's cuBLASLt state: its own cuBLASLt handle and a few prepared variants (one per distinct GEMM a layer
// runs: a chunked batch has at most two shapes per weight group).
struct Handle::Plans {
  static constexpr int kSlots = 8;
  cublasLtHandle_t lt = nullptr;
  Plan slots[kSlots];
  int next = 0;
  ~Plans() {
    for (Plan& p : slots) p.release();
    if (lt != nullptr) ltLibrary().destroy(lt);
  }
  const Plan* find(const PlanKey& key) const {
    for (const Plan& p : slots)
      if (p.used && p.key == key) return &p;
    return nullptr;
  }
};

bool ltAvailable() {
  return ltLibrary().loaded;
}

bool available() {
  return library().loaded;
}
const char* unavailableReason() {
  return library().reason;
}
int loadedVersion() {
  return library().version;
}

Handle::Handle() : plans_(std::make_unique<Plans>()) {
  Library& lib = library();
  cublasHandle_t h = nullptr;
  if (lib.loaded && lib.create(&h) == CUBLAS_STATUS_SUCCESS) handle_ = h;
  cublasLtHandle_t lt = nullptr;
  if (handle_ != nullptr && ltLibrary().loaded && ltLibrary().create(&lt) == CUBLAS_STATUS_SUCCESS) plans_->lt = lt;
}

bool Handle::prepare(const StridedBatchedGemm& g, Math math, int variant) {
  if (variant == 0) return true;
  if (variant < 0 || variant >= kGemmVariants || handle_ == nullptr || plans_->lt == nullptr) return false;
  const PlanKey key = PlanKey::of(g, math, variant);
  if (plans_->find(key) != nullptr) return true;
  const int64_t kIntMax = 0x7fffffff;
  if (g.batch > kIntMax) return false;
  const LtLibrary& lt = ltLibrary();
  Plan plan;
  plan.key = key;
  const cudaDataType type = typeOf(math);
  const cublasOperation_t opA = g.transA ? CUBLAS_OP_T : CUBLAS_OP_N, opB = g.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int32_t batch = static_cast<int32_t>(g.batch);
  bool ok = lt.descCreate(&plan.desc, computeOf(math), CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
            lt.descSet(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof(opA)) == CUBLAS_STATUS_SUCCESS &&
            lt.descSet(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof(opB)) == CUBLAS_STATUS_SUCCESS;
  // Stored (not transposed) shapes: op(A) is m x k, so A is k x m when transposed.
  auto layout = [&](cublasLtMatrixLayout_t* l, int64_t rows, int64_t cols, int64_t ld, int64_t stride) {
    return lt.layoutCreate(l, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld) ==
               CUBLAS_STATUS_SUCCESS &&
           lt.layoutSet(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof(batch)) == CUBLAS_STATUS_SUCCESS &&
           lt.layoutSet(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)) ==
               CUBLAS_STATUS_SUCCESS;
  };
  ok = ok && layout(&plan.a, g.transA ? g.k : g.m, g.transA ? g.m : g.k, g.lda, g.strideA) &&
       layout(&plan.b, g.transB ? g.n : g.k, g.transB ? g.k : g.n, g.ldb, g.strideB) &&
       layout(&plan.c, g.m, g.n, g.ldc, g.strideC);
  cublasLtMatmulPreference_t pref = nullptr;
  if (ok && lt.prefCreate(&pref) == CUBLAS_STATUS_SUCCESS) {
    const uint64_t wsBytes = kWorkspaceBytes;
    // Split-K partial sums stay in fp32 (the compute type) for fp16 too: no fp16 or in-place reductions.
    const uint32_t reductions = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
    ok = lt.prefSet(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsBytes, sizeof(wsBytes)) ==
             CUBLAS_STATUS_SUCCESS &&
         lt.prefSet(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &reductions, sizeof(reductions)) ==
             CUBLAS_STATUS_SUCCESS &&
         lt.prefSet(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &key.alignA, sizeof(key.alignA)) ==
             CUBLAS_STATUS_SUCCESS &&
         lt.prefSet(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &key.alignB, sizeof(key.alignB)) ==
             CUBLAS_STATUS_SUCCESS &&
         lt.prefSet(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &key.alignC, sizeof(key.alignC)) ==
             CUBLAS_STATUS_SUCCESS &&
         lt.prefSet(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &key.alignC, sizeof(key.alignC)) ==
             CUBLAS_STATUS_SUCCESS;
    cublasLtMatmulHeuristicResult_t results[kGemmVariants] = {};
    int found = 0;
    ok = ok &&
         lt.heuristic(plans_->lt, plan.desc, plan.a, plan.b, plan.c, plan.c, pref, kGemmVariants, results, &found) ==
             CUBLAS_STATUS_SUCCESS &&
         found > variant && results[variant].state == CUBLAS_STATUS_SUCCESS &&
         results[variant].workspaceSize <= kWorkspaceBytes;
    if (ok) plan.algo = results[variant].algo;
    lt.prefDestroy(pref);
  } else {
    ok = false;
  }
  if (!ok) {
    plan.release();
    return false;
  }
  plan.used = true;
  Plan& slot = plans_->slots[plans_->next];
  plans_->next = (plans_->next + 1) % Plans::kSlots;
  slot.release();
  slot = plan;
  return true;
}

bool Handle::prepared(const StridedBatchedGemm& g, Math math, int variant) const {
  return variant == 0 || plans_->find(PlanKey::of(g, math, variant)) != nullptr;
}

Handle::~Handle() {
  if (handle_ != nullptr) library().destroy(static_cast<cublasHandle_t>(handle_));
}

const char* Handle::unusableReason() const {
  if (handle_ != nullptr) return "";
  return available() ? "cublasCreate failed" : unavailableReason();
}

const char* Handle::gemm(const StridedBatchedGemm& g, Math math, cudaStream_t stream, void* workspace,
                         int variant) const {
  if (handle_ == nullptr) return "no cuBLAS handle (cuBLAS unavailable or handle creation failed)";
  if (variant != 0) {
    if (const Plan* plan = plans_->find(PlanKey::of(g, math, variant))) {
      const float one = 1.f;
      const cublasStatus_t s =
          ltLibrary().matmul(plans_->lt, plan->desc, &one, g.a, plan->a, g.b, plan->b, &g.beta, g.c, plan->c, g.c,
                             plan->c, &plan->algo, workspace, kWorkspaceBytes, stream);
      return s == CUBLAS_STATUS_SUCCESS ? nullptr : "cublasLtMatmul failed";
    }
  }
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
  const cudaDataType type = typeOf(math);
  const cublasComputeType_t compute = computeOf(math);
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
bool ltAvailable() {
  return false;
}
struct Handle::Plans {};
Handle::Handle() = default;
Handle::~Handle() = default;
const char* Handle::unusableReason() const {
  return unavailableReason();
}
bool Handle::prepare(const StridedBatchedGemm&, Math, int variant) {
  return variant == 0;
}
bool Handle::prepared(const StridedBatchedGemm&, Math, int variant) const {
  return variant == 0;
}
const char* Handle::gemm(const StridedBatchedGemm&, Math, cudaStream_t, void*, int) const {
  return unavailableReason();
}

#endif

}  // namespace trtkit::blas
