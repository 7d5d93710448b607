// Reporting from inside TensorRT callbacks. TensorRT hands the library an ILoggerFinder through
// setLoggerFinder(); messages go to the logger it finds (on the calling thread, as TensorRT requires) and to
// stderr when there is none (a library loaded by hand, or before setLoggerFinder ran).
#pragma once

#include <exception>
#include <string>

#include "trtkit/trt/nvinfer.hpp"

namespace trtkit {
namespace trt {

void setLoggerFinder(nvinfer1::ILoggerFinder* finder) noexcept;

enum class Severity { kError, kWarning, kInfo, kVerbose };
void log(Severity severity, const std::string& message) noexcept;

// "trtkit plugin MYSELU ('node_3').getOutputDimensions: <what>" for the exception in flight. Call it only
// from a catch block; it never throws.
void logCurrentException(const char* plugin, const char* instance, const char* method) noexcept;

}  // namespace trt
}  // namespace trtkit

// Wraps the body of a TensorRT-facing method: any exception is logged with the plugin's name and the method,
// and `failValue` is returned. Every method that can fail on input goes through this.
#define TRTKIT_TRT_GUARD(plugin, instance, failValue, ...)                             \
  try {                                                                                \
    __VA_ARGS__                                                                        \
  } catch (...) {                                                                      \
    ::trtkit::trt::logCurrentException((plugin), (instance), __func__);                 \
    return failValue;                                                                  \
  }
