#pragma once
// Helpers shared by the benchmarks: best-of-N wall time and a calibration-like Hessian.

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>

#include "ptq/quant/gptq.h"

namespace ptq::bench {

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
