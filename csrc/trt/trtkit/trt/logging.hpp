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

// Runs `body` and returns what it returns; any exception is logged ("trtkit plugin OP ('node').method: why")
// and `failValue` returned instead. Every TensorRT-facing method that can fail goes through this, so nothing
// throws across the ABI.
template <typename R, typename F>
R guarded(const char* plugin, const char* instance, const char* method, R failValue, F&& body) noexcept {
  try {
    return body();
  } catch (...) {
    logCurrentException(plugin, instance, method);
    return failValue;
  }
}

template <typename F>
void guardedVoid(const char* plugin, const char* instance, const char* method, F&& body) noexcept {
  try {
    body();
  } catch (...) {
    logCurrentException(plugin, instance, method);
  }
}

}  // namespace trt
}  // namespace trtkit
