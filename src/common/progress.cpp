#include "ptq/common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "ptq/common/error.h"
#include "ptq/common/logging.h"

namespace ptq {
namespace {

constexpr int kBarWidth = 30;

std::atomic<ProgressStyle> g_style{ProgressStyle::Auto};

ProgressStyle resolve(ProgressStyle style) {
  if (style != ProgressStyle::Auto) return style;
  return ::isatty(STDERR_FILENO) ? ProgressStyle::Bar : ProgressStyle::Plain;
}

// Plain lines go to logs: at most one per 5% of the work (every step of short work), and
// always the last.
bool plain_line_due(int64_t before, int64_t after, int64_t total) {
  constexpr int64_t kLines = 20;
  return after == total || before * kLines / total != after * kLines / total;
}

// Time left, extrapolated from the mean time per step so far.
double remaining_seconds(double elapsed, int64_t done, int64_t total) {
  if (done <= 0) return 0.0;
  return elapsed / static_cast<double>(done) * static_cast<double>(total - done);
}

}  // namespace

ProgressStyle parse_progress_style(const std::string& name) {
  if (name == "auto") return ProgressStyle::Auto;
  if (name == "bar") return ProgressStyle::Bar;
  if (name == "plain") return ProgressStyle::Plain;
  if (name == "json") return ProgressStyle::Json;
  if (name == "none") return ProgressStyle::None;
  PTQ_THROW_INPUT("--progress ", name, " is not one of auto, bar, plain, json, none");
}

void set_progress_style(ProgressStyle style) { g_style = style; }

ProgressStyle progress_style() { return resolve(g_style); }

std::string format_duration(double seconds) {
  const auto total = static_cast<int64_t>(std::llround(std::max(seconds, 0.0)));
  char text[32];
  if (total < 3600) {
    std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
  }
  return text;
}

std::string render_progress_bar(
    const std::string& task, int64_t done, int64_t total, double elapsed_seconds, int bar_width) {
  const double fraction = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const int filled = static_cast<int>(fraction * bar_width);
  char counts[96];
  std::snprintf(counts, sizeof counts, "] %3d%%  %lld/%lld  ", static_cast<int>(fraction * 100.0),
                static_cast<long long>(done), static_cast<long long>(total));
  return task + " [" + std::string(filled, '#') + std::string(bar_width - filled, '-') + counts +
         format_duration(elapsed_seconds) + " < " +
         (done > 0 ? format_duration(remaining_seconds(elapsed_seconds, done, total))
                   : std::string("?"));
}

Progress::Progress(std::string task, int64_t total)
    : _task(std::move(task)),
      _total(total),
      _style(progress_style()),
      _start(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (_style == ProgressStyle::Bar) set_status_line("");
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - _start).count();
}

void Progress::draw_bar(const std::string& label) const {
  set_status_line(render_progress_bar(_task, _done, _total, elapsed_seconds(), kBarWidth) + "  " +
                  label);
}

void Progress::note(const std::string& label) {
  if (_style == ProgressStyle::Bar) draw_bar(label);
}

void Progress::advance(int64_t steps, const std::string& label) {
  const int64_t before = _done;
  _done = std::min(_done + steps, _total);
  const double elapsed = elapsed_seconds();
  const double eta = remaining_seconds(elapsed, _done, _total);  // from the same clock reading
  switch (_style) {
    case ProgressStyle::Bar:
      draw_bar(label);
      break;
    case ProgressStyle::Plain:
      if (!plain_line_due(before, _done, _total)) break;
      spdlog::info("{} {}/{}: {}, elapsed {}, ETA {}", _task, _done, _total, label,
                   format_duration(elapsed), format_duration(eta));
      break;
    case ProgressStyle::Json: {
      const nlohmann::json line = {{"progress", _task}, {"label", label},       {"done", _done},
                                   {"total", _total},   {"elapsed_s", elapsed}, {"eta_s", eta}};
      write_log_line(line.dump());
      break;
    }
    case ProgressStyle::Auto:
    case ProgressStyle::None:
      break;
  }
}

}  // namespace ptq
