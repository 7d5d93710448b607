// The one exception type of trtkit. Everything below the TensorRT ABI throws it; the adapters in csrc/trt
// catch it, hand the message to TensorRT's logger and return the interface's failure value.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace trtkit {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
[[noreturn]] void fail(const char* file, int line, Args&&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  (void)file;
  (void)line;
  throw Error(os.str());
}
}  // namespace detail

}  // namespace trtkit

// TRTKIT_CHECK(cond, "message ", value, ...) throws trtkit::Error with the concatenated message.
#define TRTKIT_CHECK(cond, ...)                                           \
  do {                                                                    \
    if (!(cond)) ::trtkit::detail::fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

#define TRTKIT_FAIL(...) ::trtkit::detail::fail(__FILE__, __LINE__, __VA_ARGS__)
