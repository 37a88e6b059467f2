#include "ptq/pipeline/linear_measurement.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

// Each candidate's error is the squared output change over the calibration inputs relative to
// the output's squared norm, ||(W - Q) X^T||^2 / ||W X^T||^2, here computed from X itself (H = 2/n
// X^T X, the pipeline's Hessian); its bits are storage_bits.h's formula by hand; the loop carries
// on with the candidate of most bits. rtn's error is a trace; gptq's comes from its sweep's loss.
TEST(LinearMeasurement, RecordsOutputErrorAndStorageBitsPerCandidate) {
  for (const std::string method : {"rtn", "gptq"}) {
    SCOPED_TRACE(method);
    at::manual_seed(3);
    const int64_t n = 200, rows = 8, columns = 64;
    const at::Tensor x = at::randn({n, columns});
    const at::Tensor weight = at::randn({rows, columns});
    LinearStats stats;
    stats.hessian = x.t().matmul(x) * (2.0 / n);
    stats.samples = n;
    MeasuringMethod measure(method, MethodOptions{}, {{2, -1}, {4, 32}});
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
          create_method(method, *options[c])->quantize_linear("l", weight, stats).quantized.weight;
      const double direct = (weight - q).matmul(x.t()).pow(2).sum().item<double>() /
                            weight.matmul(x.t()).pow(2).sum().item<double>();
      EXPECT_NEAR(cost.error, direct, 1e-4 * direct);
      if (c == 1) EXPECT_TRUE(at::equal(carried.quantized.weight, q));
    }
    EXPECT_GT(measured[0].candidates[0].error, measured[0].candidates[1].error);
  }
}

// The layer state carries the measured linears to a resumed run in order; a state written
// with other candidates, or not by a measurement, is refused.
TEST(LinearMeasurement, LayerStateRestoresTheMeasuredLinears) {
  at::manual_seed(4);
  LinearStats stats;
  const at::Tensor x = at::randn({100, 32});
  stats.hessian = x.t().matmul(x) * (2.0 / 100);
  stats.samples = 100;
  MeasuringMethod measure("rtn", MethodOptions{}, {{2, -1}, {3, 16}});
  for (const char* module : {"layers.1.b", "layers.1.a", "layers.10.a"}) {
    measure.quantize_linear(module, at::randn({4, 32}), stats);
  }
  MeasuringMethod resumed("rtn", MethodOptions{}, {{2, -1}, {3, 16}});
  resumed.restore_layer_state(measure.layer_state());
  const std::vector<LinearCandidates> want = measure.measured(), got = resumed.measured();
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].module, want[i].module);
    EXPECT_EQ(got[i].weights, 4 * 32);
    ASSERT_EQ(got[i].candidates.size(), 2u);
    for (size_t c = 0; c < 2; ++c) {
      EXPECT_EQ(got[i].candidates[c].setting, want[i].candidates[c].setting);
      EXPECT_EQ(got[i].candidates[c].bits, want[i].candidates[c].bits);
      EXPECT_EQ(got[i].candidates[c].error, want[i].candidates[c].error);
    }
  }
  MeasuringMethod other("rtn", MethodOptions{}, {{2, -1}, {4, 16}});
  EXPECT_THROW(other.restore_layer_state(measure.layer_state()), InputError);
  EXPECT_THROW(other.restore_layer_state({{"generator", at::zeros({8}, at::kByte)}}), InputError);
}

TEST(LinearMeasurement, DefaultCandidatesAndRefusals) {
  const std::vector<LinearSetting> candidates = default_candidates("gptq");
  EXPECT_EQ(candidates.size(), 24u);
  EXPECT_EQ(candidates.front(), (LinearSetting{2, -1}));
  EXPECT_EQ(candidates.back(), (LinearSetting{8, 32}));
  const std::vector<LinearSetting> septq = default_candidates("septq");
  EXPECT_EQ(septq.size(), 72u);
  EXPECT_EQ(septq.front(), (LinearSetting{2, -1, 0.5}));
  EXPECT_EQ(septq[1], (LinearSetting{2, -1, 1.0}));
  EXPECT_EQ(septq.back(), (LinearSetting{8, 32, 2.0}));
  EXPECT_THROW(MeasuringMethod("ruquant", MethodOptions{}, candidates), InputError);
  EXPECT_THROW(MeasuringMethod("gptq", MethodOptions{}, {}), InputError);
  EXPECT_THROW(MeasuringMethod("gptq", MethodOptions{}, {{3, -1, 1.0}}), InputError);
}

// SEPTQ's keep fraction as part of a candidate: 2% of a 16 x 64 linear keeps ceil(20.48) = 21
// weights, 0.5% keeps ceil(5.12) = 6 (global_mask.h), each stored as a 32-bit index and a
// 16-bit value, so the two candidates' storage differs by exactly 15 x 48 bits (codes and grids
// alike); keeping more leaves less error.
TEST(LinearMeasurement, SeptqCandidatesDifferInTheirKeptWeights) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({300, 64});
  LinearStats stats;
  stats.hessian = x.t().matmul(x) * (2.0 / 300);
  stats.samples = 300;
  MeasuringMethod measure("septq", MethodOptions{}, {{3, -1, 0.5}, {3, -1, 2.0}});
  measure.quantize_linear("l", at::randn({16, 64}), stats);
  const std::vector<SettingCost> c = measure.measured().at(0).candidates;
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].setting.keep_percent, 0.5);
  EXPECT_EQ(c[1].bits - c[0].bits, 15 * 48);
  EXPECT_LT(c[1].error, c[0].error);
}

}  // namespace
}  // namespace ptq::quant
