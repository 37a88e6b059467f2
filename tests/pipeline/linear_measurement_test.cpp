#include "ptq/pipeline/linear_measurement.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

// Each candidate's error is the squared output change over the calibration inputs relative to
// the output's squared norm, ||(W - Q) X^T||^2 / ||W X^T||^2, here computed from X itself (H = 2/n
// X^T X, the pipeline's Hessian); its bits are storage_bits.h's formula by hand; the loop carries
// on with the candidate of most bits.
TEST(LinearMeasurement, RecordsOutputErrorAndStorageBitsPerCandidate) {
  at::manual_seed(3);
  const int64_t n = 200, rows = 8, columns = 64;
  const at::Tensor x = at::randn({n, columns});
  const at::Tensor weight = at::randn({rows, columns});
  LinearStats stats;
  stats.hessian = x.t().matmul(x) * (2.0 / n);
  stats.samples = n;
  MeasuringMethod measure("rtn", MethodOptions{}, {{2, -1}, {4, 32}});
  const QuantizedLinear carried = measure.quantize_linear("l", weight, stats);
  const std::vector<LinearCandidates> measured = measure.measured();
  ASSERT_EQ(measured.size(), 1u);
  ASSERT_EQ(measured[0].candidates.size(), 2u);
  // codes N K b + grids G N (16 + b) + g_idx 32 K.
  const double bits[] = {8 * 64 * 2 + 1 * 8 * 18 + 32 * 64, 8 * 64 * 4 + 2 * 8 * 20 + 32 * 64};
  MethodOptions four;
  four.quantizer.bits = 4;
  four.group_size = 32;
  MethodOptions two;
  two.quantizer.bits = 2;
  const MethodOptions* options[] = {&two, &four};
  for (int c = 0; c < 2; ++c) {
    SCOPED_TRACE(c);
    const SettingCost& cost = measured[0].candidates[c];
    EXPECT_EQ(cost.bits, bits[c]);
    const at::Tensor q =
        create_method("rtn", *options[c])->quantize_linear("l", weight, stats).quantized.weight;
    const double direct = (weight - q).matmul(x.t()).pow(2).sum().item<double>() /
                          weight.matmul(x.t()).pow(2).sum().item<double>();
    EXPECT_NEAR(cost.error, direct, 1e-4 * direct);
    if (c == 1) EXPECT_TRUE(at::equal(carried.quantized.weight, q));
  }
  EXPECT_GT(measured[0].candidates[0].error, measured[0].candidates[1].error);
}

TEST(LinearMeasurement, DefaultCandidatesAndRefusals) {
  const std::vector<LinearSetting> candidates = default_candidates();
  EXPECT_EQ(candidates.size(), 24u);
  EXPECT_EQ(candidates.front(), (LinearSetting{2, -1}));
  EXPECT_EQ(candidates.back(), (LinearSetting{8, 32}));
  EXPECT_THROW(MeasuringMethod("ruquant", MethodOptions{}, candidates), InputError);
  EXPECT_THROW(MeasuringMethod("gptq", MethodOptions{}, {}), InputError);
}

}  // namespace
}  // namespace ptq::quant
