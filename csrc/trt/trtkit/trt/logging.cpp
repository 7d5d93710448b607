#include "trtkit/trt/logging.hpp"

#include <atomic>
#include <cstdio>
#include <new>

#include "trtkit/core/error.hpp"

namespace trtkit {
namespace trt {
namespace {

std::atomic<nvinfer1::ILoggerFinder*> gLoggerFinder{nullptr};

nvinfer1::ILogger::Severity toTrt(Severity s) {
  switch (s) {
    case Severity::kError: return nvinfer1::ILogger::Severity::kERROR;
    case Severity::kWarning: return nvinfer1::ILogger::Severity::kWARNING;
    case Severity::kInfo: return nvinfer1::ILogger::Severity::kINFO;
    case Severity::kVerbose: return nvinfer1::ILogger::Severity::kVERBOSE;
  }
  return nvinfer1::ILogger::Severity::kERROR;
}

}  // namespace

void setLoggerFinder(nvinfer1::ILoggerFinder* finder) noexcept {
  gLoggerFinder.store(finder);
}

void log(Severity severity, const std::string& message) noexcept {
  nvinfer1::ILogger* logger = nullptr;
  if (nvinfer1::ILoggerFinder* finder = gLoggerFinder.load()) {
    try {
      logger = finder->findLogger();  // not noexcept in TensorRT's declaration
    } catch (...) {
      logger = nullptr;
    }
  }
  if (logger != nullptr) {
    logger->log(toTrt(severity), message.c_str());
  } else if (severity == Severity::kError || severity == Severity::kWarning) {
    std::fprintf(stderr, "[trtkit] %s: %s\n", severity == Severity::kError ? "ERROR" : "WARNING", message.c_str());
  }
}

void logCurrentException(const char* plugin, const char* instance, const char* method) noexcept {
  try {
    std::string what;
    try {
      throw;
    } catch (const trtkit::Error& e) {
      what = e.what();
    } catch (const std::bad_alloc&) {
      what = "out of host memory";
    } catch (const std::exception& e) {
      what = std::string("unexpected error: ") + e.what();
    } catch (...) {
      what = "unknown exception";
    }
    std::string message = "trtkit plugin ";
    message += plugin != nullptr && plugin[0] != '\0' ? plugin : "<unknown>";
    if (instance != nullptr && instance[0] != '\0') {
      message += " ('";
      message += instance;
      message += "')";
    }
    message += ".";
    message += method;
    message += ": ";
    message += what;
    log(Severity::kError, message);
  } catch (...) {
    std::fputs("[trtkit] ERROR: failed to format an error message\n", stderr);
  }
}

}  // namespace trt
}  // namespace trtkit
