#pragma once
// Progress of long work (quantizing layers, scoring segments), reported on stderr in the style
// the user chose with --progress:
//   bar    one status line redrawn in place, log messages scrolling above it (a TTY's default)
//   plain  a log line per step (the default when stderr is not a TTY, e.g. in CI logs)
//   json   one JSON object per line, for scripts: {"progress":"quantize","done":3,...}
//   none   nothing
//
//   Progress progress("quantize", num_layers);
//   progress.note("model.layers.2.mlp.down_proj");   // what is being worked on (bar only)
//   progress.advance(1, "layer 2 in 1.31 s");         // after each finished step

#include <chrono>
#include <cstdint>
#include <string>

namespace ptq {

enum class ProgressStyle { Auto, Bar, Plain, Json, None };

// "auto" | "bar" | "plain" | "json" | "none"; InputError otherwise.
ProgressStyle parse_progress_style(const std::string& name);
// The style every Progress uses from now on; Auto resolves to Bar when stderr is a TTY.
void set_progress_style(ProgressStyle style);
ProgressStyle progress_style();

// "task [#####-----]  50%  3/6  0:12 < 0:12": the bar for `done` of `total` steps after
// `elapsed` seconds, the remaining time extrapolated from the mean time per step so far ("?"
// before the first step).
std::string render_progress_bar(
    const std::string& task, int64_t done, int64_t total, double elapsed_seconds, int bar_width);

// m:ss below an hour, h:mm:ss above.
std::string format_duration(double seconds);

class Progress {
 public:
  Progress(std::string task, int64_t total);
  ~Progress();  // clears the status line of the bar style
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Records `steps` more finished steps; `label` says what finished.
  void advance(int64_t steps, const std::string& label);
  // Shows what is being worked on now, in the bar style only (other styles report steps).
  void note(const std::string& label);

 private:
  double elapsed_seconds() const;
  void draw_bar(const std::string& label) const;

  std::string _task;
  int64_t _total;
  int64_t _done = 0;
  ProgressStyle _style;
  std::chrono::steady_clock::time_point _start;
};

}  // namespace ptq
