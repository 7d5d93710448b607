// Notices from layers to whoever hosts them: TensorRT's logger in the plugin library (the adapter installs a
// sink), stderr elsewhere. For facts a user should know but that are not errors, such as a slower fallback.
#pragma once

#include <string>

namespace trtkit {

using NoticeSink = void (*)(const char* message) noexcept;

// Replaces the sink (nullptr: stderr). The adapter calls it when it is loaded.
void setNoticeSink(NoticeSink sink) noexcept;

// Sends message to the sink. Never throws.
void notice(const std::string& message) noexcept;

}  // namespace trtkit
