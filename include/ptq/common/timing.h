#pragma once
// Wall-clock durations for the timings that runs log and report (per layer, per eval step),
// measured on the steady clock so that a clock adjustment cannot make them negative.
//
//   const auto start = std::chrono::steady_clock::now();
//   ...
//   result.seconds = seconds_since(start);

#include <chrono>

namespace ptq {

// Seconds elapsed since `start`.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace ptq
