#include "quant/grid_error_estimate.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ptq/quant/uniform_quantizer.h"

namespace ptq::quant {
namespace {

constexpr double kNoCeiling = std::numeric_limits<double>::infinity();

// A grid too coarse to reach any code but its zero: every value dequantizes to 0, so a row's
// error is |x| and the estimate of one element is |x|^norm.
double estimate_power(float e, float norm) {
  return estimate_grid_error(&e, 1, 1e30f, 0, 15, norm, kNoCeiling).value();
}

// pow_relative_error in src/quant/grid_error_estimate.cpp, whose derivation claims the measured
// error stays under half of it.
double claimed_pow_error(double norm) { return norm * 0x1p-16 + 0x1p-17; }

TEST(GridErrorEstimate, PowerWithinHalfItsClaimedError) {
  for (const float norm : {1.0f, 2.4f, 3.7f, 8.0f}) {
    double worst = 0;
    for (int exponent = -40; exponent < 64; ++exponent) {
      for (int step = 0; step < 2048; ++step) {
        const float e = std::ldexp(1.0f + static_cast<float>(step) / 2048, exponent);
        const double want = std::pow(static_cast<double>(e), static_cast<double>(norm));
        const double got = estimate_power(e, norm);
        if (want < 0x1p-125 || want > 0x1p126) continue;  // outside fp32's normal range
        worst = std::max(worst, std::abs(got / want - 1));
      }
    }
    EXPECT_LE(worst, claimed_pow_error(norm) / 2) << "norm " << norm;
  }
}

TEST(GridErrorEstimate, EdgesOfTheCoveredRange) {
  EXPECT_EQ(estimate_power(0, 2.4f), 0);
  EXPECT_EQ(estimate_power(0x1p-41f, 2.4f), 0);  // below 2^-40: counted as 0
  EXPECT_TRUE(std::isinf(estimate_power(0x1p65f, 2.4f)));
  EXPECT_TRUE(std::isinf(estimate_power(0x1p60f, 2.4f)));  // 2^144 overflows fp32
  EXPECT_TRUE(std::isinf(estimate_power(std::numeric_limits<float>::quiet_NaN(), 2.4f)));
  EXPECT_FALSE(grid_error_estimate_supported(0.5));
  EXPECT_TRUE(grid_error_estimate_supported(2.4));
}

TEST(GridErrorEstimate, ErrorsAreTheQuantizersErrors) {
  at::manual_seed(2);
  const at::Tensor x = at::randn({1, 1001}) * 3;
  QuantizerConfig config;
  config.bits = 3;
  const UniformQuantizer quantizer(config);
  const QuantParams params = quantizer.find_params(x);
  std::vector<float> errors(1001);
  grid_errors(x.data_ptr<float>(), 1001, params.scale.item<float>(), params.zero.item<float>(), 7,
              errors.data());
  const at::Tensor want = (quantizer.quantize(x, params) - x).abs_().reshape({-1});
  EXPECT_TRUE(at::equal(at::tensor(errors), want));
}

// The bounds hold against ATen's own score of the same errors, and are tight enough to rank the
// search's candidates (about 1e-3 apart at 11008 columns).
TEST(GridErrorEstimate, BoundsHoldAgainstAtenScores) {
  at::manual_seed(4);
  for (const int64_t cols : {1, 15, 128, 4096, 11008}) {
    for (const int bits : {2, 4, 8}) {
      const at::Tensor chi2 = at::randn({3, cols}).square().sum(0) / 3;
      const at::Tensor x = (at::randn({cols}) / chi2.sqrt()).contiguous();
      const float maxq = static_cast<float>((1 << bits) - 1);
      const float xmin = std::min(x.min().item<float>(), 0.0f) * 0.7f;
      const float xmax = std::max(x.max().item<float>(), 0.0f) * 0.7f;
      const float scale = (xmax - xmin) / maxq;
      const float zero = std::nearbyint(-xmin / scale);
      std::vector<float> errors(static_cast<size_t>(cols));
      grid_errors(x.data_ptr<float>(), cols, scale, zero, maxq, errors.data());
      const double aten = at::tensor(errors).pow_(2.4).sum().item<float>();
      const double estimate =
          estimate_grid_error(x.data_ptr<float>(), cols, scale, zero, maxq, 2.4f, kNoCeiling)
              .value();
      const double lower = grid_error_lower_bound(estimate, cols, 2.4);
      const double upper = grid_error_upper_bound(estimate, cols, 2.4);
      SCOPED_TRACE(testing::Message() << cols << " columns, " << bits << " bits");
      EXPECT_LE(lower, aten);
      EXPECT_GE(upper, aten);
      EXPECT_LT(upper / lower - 1, 2e-3);
    }
  }
}

// With a ceiling the estimate stops (none) only when its lower bound exceeds it, and otherwise
// returns the full estimate.
TEST(GridErrorEstimate, StopsOnlyAboveTheCeiling) {
  at::manual_seed(6);
  const at::Tensor x = at::randn({4096});
  const auto estimate = [&](double ceiling) {
    return estimate_grid_error(x.data_ptr<float>(), 4096, 0.3f, 8, 15, 2.4f, ceiling);
  };
  const double full = estimate(kNoCeiling).value();
  EXPECT_EQ(estimate(grid_error_upper_bound(full, 4096, 2.4)), full);
  EXPECT_EQ(estimate(grid_error_lower_bound(full, 4096, 2.4)), full);
  EXPECT_FALSE(estimate(grid_error_lower_bound(full, 4096, 2.4) * 0.999).has_value());
  EXPECT_FALSE(estimate(0).has_value());
}

}  // namespace
}  // namespace ptq::quant
