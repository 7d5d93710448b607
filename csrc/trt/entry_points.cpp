// The plugin library's only exported symbols. TensorRT's IPluginRegistry::loadLibrary (and trtexec
// --dynamicPlugins, Polygraphy --plugins) looks up getCreators and setLoggerFinder; TensorRT 8.x uses
// getPluginCreators. Nothing here calls into libnvinfer, so the library links against no TensorRT library.
#include <cstdint>
#include <cstdio>
#include <string>

#include "trtkit/core/notice.hpp"
#include "trtkit/trt/creators.hpp"
#include "trtkit/trt/logging.hpp"
#include "trtkit/trt/nvinfer.hpp"

TRTKIT_IGNORE_DEPRECATED_BEGIN

namespace {

template <typename T>
T* const* creatorsOrNull(const std::vector<T*>& creators, int32_t& nbCreators) noexcept {
  nbCreators = static_cast<int32_t>(creators.size());
  return creators.empty() ? nullptr : creators.data();
}

// Layers' notices (a slower fallback, say) go to TensorRT's logger as warnings.
void noticeToTensorRT(const char* message) noexcept {
  trtkit::trt::log(trtkit::trt::Severity::kWarning, std::string("trtkit: ") + message);
}
const bool kNoticeSinkInstalled = (trtkit::setNoticeSink(&noticeToTensorRT), true);

}  // namespace

extern "C" {

TRTKIT_EXPORT void setLoggerFinder(nvinfer1::ILoggerFinder* finder) {
  trtkit::trt::setLoggerFinder(finder);
}

TRTKIT_EXPORT nvinfer1::IPluginCreator* const* getPluginCreators(int32_t& nbCreators) {
  try {
    return creatorsOrNull(trtkit::trt::creatorTable().v2, nbCreators);
  } catch (...) {
    trtkit::trt::logCurrentException("<library>", "", "getPluginCreators");
    nbCreators = 0;
    return nullptr;
  }
}

#if TRTKIT_TRT_HAS_V3
TRTKIT_EXPORT nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
  try {
    return creatorsOrNull(trtkit::trt::creatorTable().all, nbCreators);
  } catch (...) {
    trtkit::trt::logCurrentException("<library>", "", "getCreators");
    nbCreators = 0;
    return nullptr;
  }
}
#endif

}  // extern "C"

TRTKIT_IGNORE_DEPRECATED_END
