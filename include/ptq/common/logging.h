#pragma once
// Logging for ptq: a thin layer over spdlog so the whole library logs through one sink and
// one level, set from --verbose/--quiet or the PTQ_LOG_LEVEL environment variable.

#include <spdlog/spdlog.h>

#include <string>

namespace ptq {

enum class LogLevel { Debug, Info, Warning, Error };

// Sets the level of ptq's logger; messages go to stderr so stdout stays machine-readable.
void set_log_level(LogLevel level);

// The line a progress bar keeps at the bottom of stderr: log messages are printed above it and
// it is redrawn after each; "" removes it.
void set_status_line(const std::string& line);

// Writes `line` and a newline to stderr as one unit between log messages (machine-readable
// progress lines that must not be torn apart by a log message from another thread).
void write_log_line(const std::string& line);

// Reads PTQ_LOG_LEVEL (debug|info|warning|error) if set; returns `fallback` otherwise.
LogLevel log_level_from_env(LogLevel fallback);

}  // namespace ptq
