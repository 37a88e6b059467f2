#include "quant/grid_error_estimate.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "ptq/quant/uniform_quantizer.h"

namespace ptq::quant {
namespace {

// The bound below is proved for norms in [1, 8]: y = norm * log2(e) stays within |y| <= 512,
// where fp32 carries it to 2^-15 (and quant.py's norm is 2.4).
constexpr double kMinNorm = 1;
constexpr double kMaxNorm = 8;
// Errors below 2^-40 count as 0 (true term < 2^-40 since norm >= 1); above 2^64 the estimate
// gives up.
constexpr float kSmallest = 0x1p-40f;
constexpr float kLargest = 0x1p64f;
constexpr int kLanes = 16;
constexpr int kChunk = 256;
constexpr int kCheckEvery = 4;  // chunks between two comparisons with the ceiling

// Relative error of pow_estimate for e in [2^-40, 2^64] with a normal result. y = norm * (n +
// log2 m) has |n + log2 m| <= 64.5: rounding the sum and the product adds <= norm * 2^-17, the
// log2 polynomial's fit norm * 2^-19.4 and its fp32 evaluation norm * 2^-22, so 2^y is off by
// ln 2 times that (<= norm * 2^-17.3); the exp polynomial's truncation (< 2^-18.2) and evaluation
// add < 2^-17. Measured maxima (tests/quant/grid_error_estimate_test.cpp) stay under half of it.
double pow_relative_error(double norm) { return norm * 0x1p-16 + 0x1p-17; }

float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// e^norm for e >= 0 from fp32 polynomials: log2 of the mantissa in [sqrt(1/2), sqrt(2)), then
// 2^y as 2^k times a degree-5 Taylor polynomial of exp on [-ln2 / 2, ln2 / 2] (truncation
// < 2^-18), both in Estrin's order (shorter dependency chains). 0 below 2^-40 and for results
// below 2^-126; infinity above 2^64 or 2^127 and for NaN. Branch-free, so that the loops over it
// vectorise.
inline float pow_estimate(float e, float norm) {
  const uint32_t bits = float_to_bits(e);
  const int32_t exponent = static_cast<int32_t>(bits >> 23) - 127;
  float m = bits_to_float((bits & 0x7fffffu) | 0x3f800000u);
  const bool high = m > 1.41421356f;
  m = high ? m * 0.5f : m;
  const float n = static_cast<float>(exponent + (high ? 1 : 0));
  // log2(1 + t) = t q(t), q of degree 6 fitted on [sqrt(1/2) - 1, sqrt(2) - 1] (Chebyshev
  // least squares, max error 1.4e-6): no division, whose latency bounded the loop.
  const float t = m - 1.0f;
  const float t2 = t * t;
  const float q = (1.4426961f + t * -0.7213581f) + t2 * (0.48067617f + t * -0.35965672f) +
                  (t2 * t2) * ((0.29510933f + t * -0.26626143f) + t2 * 0.17001335f);
  const float y = norm * (n + t * q);
  // NaN (from a NaN e, returned as infinity below) clamps to -127 too: no NaN reaches the cast.
  const float floored = y >= -127.0f ? y : -127.0f;
  const float clamped = floored <= 128.0f ? floored : 128.0f;
  constexpr float kShift = 12582912.0f;  // 1.5 * 2^23: (y + shift) - shift rounds y to an integer
  const float k = (clamped + kShift) - kShift;
  const float g = (clamped - k) * 0.693147181f;
  const float g2 = g * g;
  const float p = (1.0f + g) + g2 * ((0.5f + g * (1.0f / 6)) + g2 * (1.0f / 24 + g * (1.0f / 120)));
  const int32_t ki = static_cast<int32_t>(k);
  const float two_k = bits_to_float(static_cast<uint32_t>(std::max(ki + 127, 1)) << 23);
  const float value = p * two_k;
  const float infinity = std::numeric_limits<float>::infinity();
  const bool negligible = (e < kSmallest) | (y < -126.0f);
  const float finite_or_zero = negligible ? 0.0f : value;
  const bool covered = (e <= kLargest) & (y <= 127.0f);
  return covered ? finite_or_zero : infinity;
}

// This file is built with -ffp-contract=off (CMakeLists.txt): no clone fuses the multiply and
// the subtraction, so every clone computes quant.py's fp32 errors.
inline float grid_error(float x, float scale, float zero, float maxq) {
  return std::fabs(dequantize_code(quantize_code(x, scale, zero, maxq), scale, zero) - x);
}

// gamma_n = n u / (1 - n u), u = 2^-24: the relative error of any fp32 sum of n + 1
// non-negative terms (Higham, Accuracy and Stability of Numerical Algorithms, 4.2).
double gamma(int64_t n) {
  const double nu = static_cast<double>(n) * 0x1p-24;
  return nu / (1 - nu);
}

// Our sum: kLanes fp32 lanes of at most ceil(cols / kLanes) terms each, then lanes in double.
double estimate_sum_error(int64_t cols) { return gamma((cols + kLanes - 1) / kLanes) + 0x1p-40; }

}  // namespace

__attribute__((target_clones("avx512f", "avx2", "default"))) void grid_errors(
    const float* x, int64_t cols, float scale, float zero, float maxq, float* out) {
  for (int64_t c = 0; c < cols; ++c) out[c] = grid_error(x[c], scale, zero, maxq);
}

bool grid_error_estimate_supported(double norm) { return norm >= kMinNorm && norm <= kMaxNorm; }

__attribute__((target_clones("avx512f", "avx2", "default"))) std::optional<double>
estimate_grid_error(
    const float* x, int64_t cols, float scale, float zero, float maxq, float norm, double ceiling) {
  float lanes[kLanes] = {};
  float terms[kChunk];
  const auto total = [&] {
    double sum = 0;
    for (float lane : lanes) sum += lane;
    return sum;
  };
  for (int64_t begin = 0; begin < cols; begin += kChunk) {
    const int len = static_cast<int>(std::min<int64_t>(kChunk, cols - begin));
    const float* xs = x + begin;
    for (int j = 0; j < len; ++j) {
      terms[j] = pow_estimate(grid_error(xs[j], scale, zero, maxq), norm);
    }
    const int padded = (len + kLanes - 1) / kLanes * kLanes;
    for (int j = len; j < padded; ++j) terms[j] = 0;
    for (int j = 0; j < padded; j += kLanes) {
      for (int l = 0; l < kLanes; ++l) lanes[l] += terms[j + l];
    }
    // Adding a non-negative term never lowers a rounded lane, so the row's estimate is at least
    // this partial one, and so is its lower bound.
    if (begin / kChunk % kCheckEvery == kCheckEvery - 1) {
      const double partial = total();
      if (std::isfinite(partial) && grid_error_lower_bound(partial, cols, norm) > ceiling) {
        return std::nullopt;
      }
    }
  }
  return total();
}

// With R the real sum of e_c^norm over the row's fp32 errors e_c, s = estimate_sum_error and
// p = pow_relative_error:
//  - our terms are within p of e_c^norm, except that errors below 2^-40 and results below
//    2^-126 count 0 (true term < 2^-40, as norm >= 1), and our sum is within s of theirs, so
//    R >= E' / ((1 + s)(1 + p)) and R <= (E' / (1 - s) + cols 2^-40) / (1 - p);
//  - ATen's terms are within 2^-22 of e_c^norm (Sleef's u10 pow and glibc's powf are within one
//    ulp, 2^-23) or below 2^-126 absolute when the result is subnormal, and its fp32 sum in any
//    order adds gamma(cols).
// Both bounds are widened by 1e-12 relative for their own double rounding.
double grid_error_lower_bound(double estimate, int64_t cols, double norm) {
  const double s = estimate_sum_error(cols);
  const double p = pow_relative_error(norm);
  const double real = estimate / ((1 + s) * (1 + p));
  const double aten = (1 - gamma(cols)) * ((1 - 0x1p-22) * real - cols * 0x1p-126);
  return aten * (1 - 1e-12);
}

double grid_error_upper_bound(double estimate, int64_t cols, double norm) {
  const double s = estimate_sum_error(cols);
  const double p = pow_relative_error(norm);
  const double real = (estimate / (1 - s) + cols * 0x1p-40) / (1 - p);
  const double aten = (1 + gamma(cols)) * ((1 + 0x1p-22) * real + cols * 0x1p-126);
  return aten * (1 + 1e-12);
}

}  // namespace ptq::quant
