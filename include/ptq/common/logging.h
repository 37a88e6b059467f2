#pragma once
// Logging for ptq: a thin layer over spdlog so the whole library logs through one sink and
// one level, set from --verbose/--quiet or the PTQ_LOG_LEVEL environment variable.

#include <spdlog/spdlog.h>

namespace ptq {

enum class LogLevel { Debug, Info, Warning, Error };

// Sets the level of ptq's logger; messages go to stderr so stdout stays machine-readable.
void set_log_level(LogLevel level);

// Reads PTQ_LOG_LEVEL (debug|info|warning|error) if set; returns `fallback` otherwise.
LogLevel log_level_from_env(LogLevel fallback);

}  // namespace ptq
