// The one place csrc/trt includes TensorRT. Every supported major (8.6, 10.x, 11.x) goes through here, so
// version differences are spelled once: TRTKIT_TRT_HAS_V3 (IPluginV3 and getCreators exist from 10.0) and the
// deprecation markers TensorRT 10/11 put on the IPluginV2 family, which the V2 adapter implements on purpose.
#pragma once

#include <NvInferRuntime.h>
#include <NvInferVersion.h>

#if NV_TENSORRT_MAJOR >= 10
#define TRTKIT_TRT_HAS_V3 1
#else
#define TRTKIT_TRT_HAS_V3 0
#endif

// The V2 interfaces are [[deprecated]] in 10.x/11.x; implementing them is this library's purpose, so the
// warning carries no information here. Wrap every use in these two macros.
#define TRTKIT_IGNORE_DEPRECATED_BEGIN \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"")
#define TRTKIT_IGNORE_DEPRECATED_END _Pragma("GCC diagnostic pop")

// Library entry points are the only symbols the plugin library exports.
#define TRTKIT_EXPORT __attribute__((visibility("default")))
