#pragma once
// Helpers shared by the benchmarks: the common command line, best-of-N wall time and a
// calibration-like Hessian.

#include <ATen/ATen.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "ptq/quant/gptq.h"

namespace ptq::bench {

// The d x d shapes a benchmark runs: 512, 1024, 2048, and 4096 with --large; --repeats N.
struct Dimensions {
  bool large = false;
  int repeats = 3;

  void add_options(CLI::App& app) {
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

// Best wall time in seconds of `repeats` runs after one warm-up run.
inline double best_seconds(int repeats, const std::function<void()>& fn) {
  fn();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count());
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
