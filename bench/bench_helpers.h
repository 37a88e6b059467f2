#pragma once
// Helpers shared by the benchmarks: the common command line, best-of-N time (wall or CPU) and a
// calibration-like Hessian.

#include <ATen/ATen.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "ptq/quant/gptq.h"

namespace ptq::bench {

// What a benchmark's seconds are: wall time, or with --cpu-time the process's CPU time (user
// + system of all its threads), which on a machine shared with other jobs leaves out the time
// spent waiting for a core. A 1-thread run's CPU time is its work; with more threads it also
// counts the threads' waiting at barriers.
enum class Timer { Wall, Cpu };
inline Timer& timer() {
  static Timer chosen = Timer::Wall;
  return chosen;
}

inline void add_timer_option(CLI::App& app) {
  app.add_flag_callback(
      "--cpu-time", [] { timer() = Timer::Cpu; },
      "time in process CPU seconds instead of wall seconds (a machine shared with other jobs)");
}

// Seconds on the chosen timer, from an arbitrary origin.
inline double now_seconds() {
  if (timer() == Timer::Cpu) {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The d x d shapes a benchmark runs: 512, 1024, 2048, and 4096 with --large; --repeats N;
// --cpu-time.
struct Dimensions {
  bool large = false;
  int repeats = 3;

  void add_options(CLI::App& app) {
    add_timer_option(app);
    app.add_flag("--large", large, "also run d = 4096");
    app.add_option("--repeats", repeats, "timed runs per measurement (best is kept)")
        ->check(CLI::PositiveNumber);
  }
  std::vector<int64_t> dims() const {
    std::vector<int64_t> d = {512, 1024, 2048};
    if (large) d.push_back(4096);
    return d;
  }
};

// Best time in seconds (timer()) of `repeats` runs after one warm-up run.
inline double best_seconds(int repeats, const std::function<void()>& fn) {
  fn();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double start = now_seconds();
    fn();
    best = std::min(best, now_seconds() - start);
  }
  return best;
}

// Calibration-sized inputs: `samples` samples of `tokens` random tokens of width d.
constexpr int64_t kTokens = 2048;
constexpr int kSamples = 4;

// H = 2/n sum x x^T over kSamples copies of x [kTokens, d], as HessianAccumulator builds it.
inline at::Tensor accumulate_hessian(const at::Tensor& x) {
  quant::HessianAccumulator accumulator(x.size(1));
  for (int s = 0; s < kSamples; ++s) accumulator.add_batch(x);
  return accumulator.hessian();
}

}  // namespace ptq::bench
