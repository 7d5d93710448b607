// Experiment: deform_conv2d (torchvision semantics, DCNv2 mask, bias, groups=1, offset_groups og) as
// "sample into a column matrix + cuBLAS GEMM", to compare with the plugin's fused implicit GEMM.
//
// Per chunk of images (the workspace stays under a cap):
//   1. toNHWC:      x[n][C][H][W] -> xs[n][H][W][C] (tensor dtype), so a corner is a contiguous channel vector.
//   2. sampleCols:  cols[n][p][tap*Cin + c] = mask * bilinear(x, p, tap, c)   (K contiguous, 16-byte stores)
//   3. cuBLAS:      out[n][Cout][P] = Wr[Cout][K] x cols[n][P][K]^T           (one "TN" strided-batched GemmEx)
//      column-major view: C(P x Cout, ldc=P) = op_T(cols: K x P, lda=K) * Wr(K x Cout, ldb=K), strideB = 0.
//   4. bias: an epilogue kernel (bias_mode 0), or a pre-broadcast into out + GEMM beta = 1 (bias_mode 1).
// Weight relayout once per call: w[Cout][Cin][kh][kw] -> Wr[Cout][kh*kw][Cin] (K index = tap*Cin + c).
// Modes: 0 strict fp32 (CUBLAS_COMPUTE_32F, default math = FFMA), 1 TF32 (CUBLAS_COMPUTE_32F_FAST_TF32),
// 2 fp16 (fp16 in/out, fp32 compute). Bilinear blend always in fp32 (fp16: one rounding of the sample).

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>

struct DcnParams {  // mirrored by ctypes in dcn_im2col_cublas.py
  int N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, dh, dw, og, Ho, Wo;
};

static char g_err[512] = "";

static int fail(const char* what, int code) {
  snprintf(g_err, sizeof(g_err), "%s (code %d)", what, code);
  return code ? code : -1;
}

#include "trtkit/core/device_convert.cuh"

#define CUDA_TRY(x)                                                 \
  do {                                                              \
    cudaError_t e_ = (x);                                           \
    if (e_ != cudaSuccess) return fail(cudaGetErrorString(e_), e_); \
  } while (0)
#define CUBLAS_TRY(x)                                                 \
  do {                                                                \
    cublasStatus_t s_ = (x);                                          \
    if (s_ != CUBLAS_STATUS_SUCCESS) return fail(#x, 1000 + (int)s_); \
  } while (0)

using trtkit::fromFloat;
using trtkit::toFloat;

template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// ---- 1. NCHW -> NHWC (per image: [C][HW] -> [HW][C]), 32x32 tiles through shared memory ----
template <typename T>
__global__ void toNHWC(const T* __restrict__ x, T* __restrict__ xs, int C, int HW) {
  __shared__ T tile[32][33];
  const size_t img = (size_t)blockIdx.z * C * HW;
  const int hw0 = blockIdx.x * 32, c0 = blockIdx.y * 32;
  for (int r = threadIdx.y; r < 32; r += 8) {
    int c = c0 + r, hw = hw0 + threadIdx.x;
    if (c < C && hw < HW) tile[r][threadIdx.x] = x[img + (size_t)c * HW + hw];
  }
  __syncthreads();
  for (int r = threadIdx.y; r < 32; r += 8) {
    int hw = hw0 + r, c = c0 + threadIdx.x;
    if (c < C && hw < HW) xs[img + (size_t)hw * C + c] = tile[threadIdx.x][r];
  }
}

// ---- weight relayout: [Cout][Cin][T] -> [Cout][T][Cin] ----
template <typename T>
__global__ void relayoutWeight(const T* __restrict__ w, T* __restrict__ wr, int Cout, int Cin, int taps) {
  const size_t total = (size_t)Cout * Cin * taps;
  for (size_t o = blockIdx.x * (size_t)blockDim.x + threadIdx.x; o < total; o += (size_t)gridDim.x * blockDim.x) {
    int c = (int)(o % Cin);
    size_t r = o / Cin;
    int t = (int)(r % taps);
    size_t co = r / taps;
    wr[o] = w[(co * Cin + c) * taps + t];
  }
}

// ---- 2. sampling into cols[n][p][tap*Cin + c] ----
// block (bx, by): threadIdx.x walks the channel vectors of one (tap, pixel) item; items = tap*P + p, so a
// block's items share a tap and neighbouring pixels (coalesced offset/mask reads). grid.y = image in chunk.
template <typename T, int V>
__global__ void sampleCols(const T* __restrict__ xs, const T* __restrict__ offset, const T* __restrict__ mask,
                           T* __restrict__ cols, DcnParams p, int n0) {
  const int taps = p.kh * p.kw, P = p.Ho * p.Wo;
  const int item = blockIdx.x * blockDim.y + threadIdx.y;
  if (item >= taps * P) return;
  const int nl = blockIdx.y, n = n0 + nl;
  const int tap = item / P, pix = item - tap * P;
  const int ho = pix / p.Wo, wo = pix - ho * p.Wo;
  const int ki = tap / p.kw, kj = tap - ki * p.kw;
  const int nvec = p.Cin / V, cpg = p.Cin / p.og;
  const size_t K = (size_t)taps * p.Cin;
  const T* img = xs + (size_t)nl * p.H * p.W * p.Cin;
  T* dst = cols + ((size_t)nl * P + pix) * K + (size_t)tap * p.Cin;
  const float ybase = (float)(ho * p.sh - p.ph + ki * p.dh);
  const float xbase = (float)(wo * p.sw - p.pw + kj * p.dw);
  int gCur = -1;
  float w1 = 0.f, w2 = 0.f, w3 = 0.f, w4 = 0.f, m = 0.f;
  int o1 = -1, o2 = -1, o3 = -1, o4 = -1;  // corner pixel indices, -1 = outside the image (not read)
  for (int v = threadIdx.x; v < nvec; v += blockDim.x) {
    const int c0 = v * V, g = c0 / cpg;  // V divides cpg: a vector never straddles two offset groups
    if (g != gCur) {                     // coordinates of this offset group
      gCur = g;
      const size_t ob = (((size_t)n * p.og + g) * 2 * taps + 2 * tap) * P + pix;
      const float y = ybase + toFloat(offset[ob]);
      const float x = xbase + toFloat(offset[ob + P]);
      m = mask ? toFloat(mask[(((size_t)n * p.og + g) * taps + tap) * P + pix]) : 1.f;
      o1 = o2 = o3 = o4 = -1;
      w1 = w2 = w3 = w4 = 0.f;
      if (!(y <= -1.f || y >= (float)p.H || x <= -1.f || x >= (float)p.W)) {
        const float yf = floorf(y), xf = floorf(x);
        const int yl = (int)yf, xl = (int)xf, yh = yl + 1, xh = xl + 1;
        const float ly = y - yf, lx = x - xf, hy = 1.f - ly, hx = 1.f - lx;
        // torchvision: val = w1*v1 + w2*v2 + w3*v3 + w4*v4 (a corner counts only inside), then * mask
        if (yl >= 0 && xl >= 0) {
          o1 = yl * p.W + xl;
          w1 = hy * hx;
        }
        if (yl >= 0 && xh <= p.W - 1) {
          o2 = yl * p.W + xh;
          w2 = hy * lx;
        }
        if (yh <= p.H - 1 && xl >= 0) {
          o3 = yh * p.W + xl;
          w3 = ly * hx;
        }
        if (yh <= p.H - 1 && xh <= p.W - 1) {
          o4 = yh * p.W + xh;
          w4 = ly * lx;
        }
      }
    }
    Vec<T, V> a[4];
    const int offs[4] = {o1, o2, o3, o4};
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      if (offs[q] >= 0) {
        a[q] = *reinterpret_cast<const Vec<T, V>*>(img + (size_t)offs[q] * p.Cin + c0);
      } else {
#pragma unroll
        for (int e = 0; e < V; ++e) a[q].v[e] = fromFloat<T>(0.f);
      }
    }
    Vec<T, V> r;
#pragma unroll
    for (int e = 0; e < V; ++e) {
      float val = w1 * toFloat(a[0].v[e]) + w2 * toFloat(a[1].v[e]) + w3 * toFloat(a[2].v[e]) + w4 * toFloat(a[3].v[e]);
      r.v[e] = fromFloat<T>(m * val);
    }
    *reinterpret_cast<Vec<T, V>*>(dst + c0) = r;
  }
}

// ---- 4. bias: out[n][co][p] (+)= bias[co]; 8 elements per thread where P % 8 == 0 ----
template <typename T, bool ADD>
__global__ void biasKernel(T* __restrict__ out, const T* __restrict__ bias, size_t total, int P, int Cout) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  if (P % 8 == 0) {
    for (size_t i = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) * 8; i < total; i += stride * 8) {
      const float b = toFloat(bias[(i / P) % Cout]);
      Vec<T, 8> o;
      if (ADD) o = *reinterpret_cast<const Vec<T, 8>*>(out + i);
#pragma unroll
      for (int e = 0; e < 8; ++e) o.v[e] = fromFloat<T>(ADD ? toFloat(o.v[e]) + b : b);
      *reinterpret_cast<Vec<T, 8>*>(out + i) = o;
    }
  } else {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += stride) {
      const float b = toFloat(bias[(i / P) % Cout]);
      out[i] = fromFloat<T>(ADD ? toFloat(out[i]) + b : b);
    }
  }
}

// ---------------------------------------------------------------- host side ----
static size_t align256(size_t b) {
  return (b + 255) & ~size_t(255);
}

struct Plan {
  size_t e, wBytes, perImgXs, perImgCols;
};

static Plan makePlan(const DcnParams& p, int dtypeBytes) {
  Plan pl;
  pl.e = dtypeBytes;
  const size_t taps = (size_t)p.kh * p.kw, K = taps * p.Cin, P = (size_t)p.Ho * p.Wo;
  pl.wBytes = align256((size_t)p.Cout * K * pl.e);
  pl.perImgXs = (size_t)p.H * p.W * p.Cin * pl.e;
  pl.perImgCols = P * K * pl.e;
  return pl;
}

static size_t wsFor(const Plan& pl, int chunk) {
  return pl.wBytes + align256(chunk * pl.perImgXs) + align256(chunk * pl.perImgCols);
}

// largest chunk (<= N, >= 1) whose workspace fits, then balanced: N=8 with room for 6 runs 4+4, not 6+2
static int chunkFor(const Plan& pl, int N, size_t bytes) {
  int c = 1;
  while (c < N && wsFor(pl, c + 1) <= bytes) ++c;
  const int nChunks = (N + c - 1) / c;
  return (N + nChunks - 1) / nChunks;
}

extern "C" const char* dcn_im2col_last_error() {
  return g_err;
}

// Workspace bytes for chunks of `chunk` images: the balanced largest chunk whose workspace fits `cap`, at least
// one image (then the workspace may exceed cap); chunk_override > 0 forces the chunk. mode 2 = fp16.
// forward derives the same chunk from the workspace size it is given.
extern "C" size_t dcn_im2col_plan(const DcnParams* p, int mode, size_t cap, int chunk_override, int* chunk) {
  const Plan pl = makePlan(*p, mode == 2 ? 2 : 4);
  const int c = chunk_override > 0 ? std::min(chunk_override, p->N) : chunkFor(pl, p->N, cap);
  if (chunk) *chunk = c;
  return wsFor(pl, c);
}

extern "C" void* dcn_im2col_create() {
  cublasHandle_t h = nullptr;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return nullptr;
  return h;
}

extern "C" void dcn_im2col_destroy(void* h) {
  if (h) cublasDestroy((cublasHandle_t)h);
}

template <typename T>
static int forwardT(cublasHandle_t h, cudaStream_t s, const DcnParams& p, int mode, int biasMode, int phases,
                    const T* x, const T* w, const T* off, const T* mask, const T* bias, T* out, char* ws,
                    size_t wsBytes) {
  constexpr int VMAX = 16 / sizeof(T);
  const Plan pl = makePlan(p, sizeof(T));
  if (wsBytes < wsFor(pl, 1)) return fail("workspace too small for one image", -2);
  const int chunk = chunkFor(pl, p.N, wsBytes);
  const int taps = p.kh * p.kw, K = taps * p.Cin, P = p.Ho * p.Wo;
  if (p.Cin % p.og) return fail("offset_groups must divide Cin", -3);
  if ((size_t)P * taps >= (1u << 31) / 2) return fail("too many output pixels", -4);
  T* wr = reinterpret_cast<T*>(ws);
  T* xs = reinterpret_cast<T*>(ws + pl.wBytes);
  T* cols = reinterpret_cast<T*>(ws + pl.wBytes + align256(chunk * pl.perImgXs));

  CUBLAS_TRY(cublasSetStream(h, s));
  CUBLAS_TRY(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  if (phases & 1) {
    relayoutWeight<T>
        <<<std::min<size_t>(((size_t)p.Cout * K + 255) / 256, 4096), 256, 0, s>>>(w, wr, p.Cout, p.Cin, taps);
    CUDA_TRY(cudaGetLastError());
  }
  // sampling launch shape: bx threads along channel vectors, by items (tap, pixel) per 256-thread block
  const bool vec = (p.Cin / p.og) % VMAX == 0;
  const int V = vec ? VMAX : 1, nvec = p.Cin / V;
  const int bx = std::min(nvec, 32), by = std::max(1, 256 / bx);
  const float one = 1.f, zero = 0.f;
  const cudaDataType_t dt = sizeof(T) == 2 ? CUDA_R_16F : CUDA_R_32F;
  const cublasComputeType_t ct = mode == 1 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const bool betaBias = biasMode == 1 && bias;

  for (int n0 = 0; n0 < p.N; n0 += chunk) {
    const int nc = std::min(chunk, p.N - n0);
    T* outc = out + (size_t)n0 * p.Cout * P;
    const size_t outElems = (size_t)nc * p.Cout * P;
    const int biasGrid = (int)std::min<size_t>((outElems / 8 + 255) / 256 + 1, 132 * 16);
    if (phases & 1) {
      dim3 grid((p.H * p.W + 31) / 32, (p.Cin + 31) / 32, nc);
      toNHWC<T><<<grid, dim3(32, 8), 0, s>>>(x + (size_t)n0 * p.Cin * p.H * p.W, xs, p.Cin, p.H * p.W);
      CUDA_TRY(cudaGetLastError());
    }
    if (phases & 2) {
      dim3 grid((taps * P + by - 1) / by, nc);
      if (vec)
        sampleCols<T, VMAX><<<grid, dim3(bx, by), 0, s>>>(xs, off, mask, cols, p, n0);
      else
        sampleCols<T, 1><<<grid, dim3(bx, by), 0, s>>>(xs, off, mask, cols, p, n0);
      CUDA_TRY(cudaGetLastError());
    }
    if (betaBias && (phases & 8)) {
      biasKernel<T, false><<<biasGrid, 256, 0, s>>>(outc, bias, outElems, P, p.Cout);
      CUDA_TRY(cudaGetLastError());
    }
    if (phases & 4) {
      // column-major: C(P x Cout, ldc P) = op_T(cols_n: K x P, lda K) * Wr(K x Cout, ldb K)
      CUBLAS_TRY(cublasGemmStridedBatchedEx(h, CUBLAS_OP_T, CUBLAS_OP_N, P, p.Cout, K, &one, cols, dt, K,
                                            (long long)P * K, wr, dt, K, 0, betaBias ? &one : &zero, outc, dt, P,
                                            (long long)p.Cout * P, nc, ct, CUBLAS_GEMM_DEFAULT));
    }
    if (!betaBias && bias && (phases & 8)) {
      biasKernel<T, true><<<biasGrid, 256, 0, s>>>(outc, bias, outElems, P, p.Cout);
      CUDA_TRY(cudaGetLastError());
    }
  }
  return 0;
}

// mode: 0 strict fp32, 1 TF32, 2 fp16. bias_mode: 0 epilogue kernel, 1 pre-broadcast + GEMM beta = 1.
// phases (bit mask, for timing the parts; 15 = everything): 1 weight relayout + NHWC, 2 sampling, 4 GEMM, 8 bias.
// mask and bias may be null. Returns 0, or an error code (dcn_im2col_last_error() says what).
extern "C" int dcn_im2col_forward(void* handle, void* stream, const DcnParams* p, int mode, int bias_mode, int phases,
                                  const void* x, const void* w, const void* off, const void* mask, const void* bias,
                                  void* out, void* ws, size_t ws_bytes) {
  auto h = (cublasHandle_t)handle;
  auto s = (cudaStream_t)stream;
  if (mode == 2)
    return forwardT<__half>(h, s, *p, mode, bias_mode, phases, (const __half*)x, (const __half*)w, (const __half*)off,
                            (const __half*)mask, (const __half*)bias, (__half*)out, (char*)ws, ws_bytes);
  return forwardT<float>(h, s, *p, mode, bias_mode, phases, (const float*)x, (const float*)w, (const float*)off,
                         (const float*)mask, (const float*)bias, (float*)out, (char*)ws, ws_bytes);
}

// cuBLAS version of the library actually loaded (major*10000 + minor*100 + patch), for the results record
extern "C" int dcn_im2col_cublas_version() {
  int ma = 0, mi = 0, pa = 0;
  cublasGetProperty(MAJOR_VERSION, &ma);
  cublasGetProperty(MINOR_VERSION, &mi);
  cublasGetProperty(PATCH_LEVEL, &pa);
  return ma * 10000 + mi * 100 + pa;
}
