#include "ptq/common/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "ptq/common/error.h"

namespace ptq {
namespace {

// stderr with level colours on a TTY and an optional status line (a progress bar) that stays
// below the messages: each message first erases it, then redraws it.
class StatusLineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  StatusLineSink() : _color(::isatty(STDERR_FILENO) != 0) {}

  void set_status(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    erase_status();
    _status = line;
    draw_status();
  }

  void write_line(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    erase_status();
    std::fprintf(stderr, "%s\n", line.c_str());
    draw_status();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t text;
    formatter_->format(msg, text);
    erase_status();
    const bool colored = _color && msg.color_range_end > msg.color_range_start;
    if (colored) {
      std::fwrite(text.data(), 1, msg.color_range_start, stderr);
      std::fputs(level_color(msg.level), stderr);
      std::fwrite(text.data() + msg.color_range_start, 1,
                  msg.color_range_end - msg.color_range_start, stderr);
      std::fputs("\033[0m", stderr);
      std::fwrite(text.data() + msg.color_range_end, 1, text.size() - msg.color_range_end, stderr);
    } else {
      std::fwrite(text.data(), 1, text.size(), stderr);
    }
    draw_status();
  }

  void flush_() override { std::fflush(stderr); }

 private:
  static const char* level_color(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::info:
        return "\033[32m";
      case spdlog::level::warn:
        return "\033[33m\033[1m";
      case spdlog::level::err:
      case spdlog::level::critical:
        return "\033[31m\033[1m";
      default:
        return "\033[36m";
    }
  }

  // "\r" returns to the line's start and "\033[K" clears it: the bar is never followed by a
  // newline, so the cursor is still on its line.
  void erase_status() {
    if (!_status.empty()) std::fputs("\r\033[K", stderr);
  }

  void draw_status() {
    if (!_status.empty()) std::fputs(_status.c_str(), stderr);
    std::fflush(stderr);
  }

  bool _color;
  std::string _status;
};

struct StderrLogger {
  std::shared_ptr<StatusLineSink> sink = std::make_shared<StatusLineSink>();
  std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>("ptq", sink);
  StderrLogger() {
    logger->set_pattern("[%H:%M:%S] %^%l%$ %v");
    spdlog::set_default_logger(logger);
  }
};

StderrLogger& stderr_logger() {
  static StderrLogger instance;
  return instance;
}

}  // namespace

void set_log_level(LogLevel level) {
  static const spdlog::level::level_enum kLevels[] = {spdlog::level::debug, spdlog::level::info,
                                                      spdlog::level::warn, spdlog::level::err};
  stderr_logger().logger->set_level(kLevels[static_cast<int>(level)]);
}

void set_status_line(const std::string& line) { stderr_logger().sink->set_status(line); }

void write_log_line(const std::string& line) { stderr_logger().sink->write_line(line); }

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
