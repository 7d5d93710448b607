#include "trtkit/core/notice.hpp"

#include <atomic>
#include <cstdio>

namespace trtkit {
namespace {
std::atomic<NoticeSink> gSink{nullptr};
}  // namespace

void setNoticeSink(NoticeSink sink) noexcept {
  gSink.store(sink);
}

void notice(const std::string& message) noexcept {
  if (NoticeSink sink = gSink.load()) {
    sink(message.c_str());
  } else {
    std::fprintf(stderr, "[trtkit] %s\n", message.c_str());
  }
}

}  // namespace trtkit
