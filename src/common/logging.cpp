#include "ptq/common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <string>

#include "ptq/common/error.h"

namespace ptq {
namespace {

std::shared_ptr<spdlog::logger> stderr_logger() {
  static auto logger = [] {
    auto l = spdlog::stderr_color_mt("ptq");
    l->set_pattern("[%H:%M:%S] %^%l%$ %v");
    spdlog::set_default_logger(l);
    return l;
  }();
  return logger;
}

}  // namespace

void set_log_level(LogLevel level) {
  static const spdlog::level::level_enum kLevels[] = {
      spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err};
  stderr_logger()->set_level(kLevels[static_cast<int>(level)]);
}

LogLevel log_level_from_env(LogLevel fallback) {
  const char* value = std::getenv("PTQ_LOG_LEVEL");
  if (value == nullptr || *value == '\0') return fallback;
  const std::string v(value);
  if (v == "debug") return LogLevel::Debug;
  if (v == "info") return LogLevel::Info;
  if (v == "warning" || v == "warn") return LogLevel::Warning;
  if (v == "error") return LogLevel::Error;
  PTQ_THROW_INPUT("PTQ_LOG_LEVEL=", v, " is not one of debug, info, warning, error");
}

}  // namespace ptq
