#include "ptq/quant/activation_quantizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ptq/common/error.h"
#include "quant/quant_test_helpers.h"

namespace ptq::quant {
namespace {

using test_helpers::matrix;

TEST(ActivationQuantizer, PerTokenAsymmetricMinMaxByHand) {
  // 2 bits (maxq 3), each row its own grid.
  // Row 0 [-1, 0.5, 3]: scale 4/3, zero round(0.75) = 1; codes round(x / scale) + 1 =
  //   [round(-0.75) + 1 = 0, round(0.375) + 1 = 1, round(2.25) + 1 = 3] -> [-4/3, 0, 8/3].
  // Row 1 [0, 1, 3]: range [0, 3] need not include a negative side: scale 1, zero 0 -> exact.
  const at::Tensor x = matrix({{-1, 0.5, 3}, {0, 1, 3}});
  const at::Tensor q = fake_quantize_per_token(x, {2, 1.0});
  EXPECT_TRUE(at::allclose(q, matrix({{-4.0f / 3, 0, 8.0f / 3}, {0, 1, 3}}), 0, 1e-6)) << q;
}

TEST(ActivationQuantizer, ClipShrinksEachTokensRange) {
  // clip 0.5 on [-1, 0.5, 3]: range [-0.5, 1.5], scale 2/3, zero round(0.75) = 1; codes
  // [round(-1.5) = -2 (half to even) + 1 -> clamped 0, round(0.75) + 1 = 2,
  //  round(4.5) = 4 + 1 -> clamped 3] -> [-2/3, 2/3, 4/3].
  const at::Tensor q = fake_quantize_per_token(matrix({{-1, 0.5, 3}}), {2, 0.5});
  EXPECT_TRUE(at::allclose(q, matrix({{-2.0f / 3, 2.0f / 3, 4.0f / 3}}), 0, 1e-6)) << q;
}

// The gradient of sum(q(x)) with Rounding::StraightThrough (round_ste), by hand. With
// q_i = (clamp(round(x_i / s) + z) - z) s, z = round(-xmin / s) (no gradient) and s from the
// token's min and max: an entry the clamp keeps contributes dx_i + ds (round(x_i / s) - x_i / s),
// a clamped one (code_i - z) ds; ds/dx is nonzero only at the min and max entries.
TEST(ActivationQuantizer, StraightThroughGradientByHand) {
  const auto gradient = [](const at::Tensor& x, const ActivationQuantizerConfig& config) {
    const at::Tensor leaf = x.clone().requires_grad_();
    per_token_quantizer(config, Rounding::StraightThrough)(leaf).sum().backward();
    return leaf.grad();
  };
  // [0, 1.2, 3] at 2 bits: s = (3 - 0) / 3 = 1, z = 0, codes [0, 1, 3] (none clamped); the
  // rounding residuals sum to round(1.2) - 1.2 = -0.2 and ds/dx = [-1/3, 0, 1/3]:
  // gradient [1 + 0.2 / 3, 1, 1 - 0.2 / 3].
  const at::Tensor g1 = gradient(matrix({{0, 1.2f, 3}}), {2, 1.0});
  EXPECT_TRUE(at::allclose(g1, matrix({{1 + 0.2f / 3, 1, 1 - 0.2f / 3}}), 0, 1e-6)) << g1;
  // [-1, 0.5, 3] clipped by 0.5 (ClipShrinksEachTokensRange): s = 0.5 (3 + 1) / 3 = 2/3,
  // ds/dx = [-1/6, 0, 1/6], z = 1; the ends are clamped (codes 0 and 3: no direct gradient),
  // the middle is kept (code 2). Sum over i: (0 - 1) + (round(0.75) - 0.75) + (3 - 1) = 1.25:
  // gradient [-1.25 / 6, 1, 1.25 / 6].
  const at::Tensor g2 = gradient(matrix({{-1, 0.5, 3}}), {2, 0.5});
  EXPECT_TRUE(at::allclose(g2, matrix({{-1.25f / 6, 1, 1.25f / 6}}), 0, 1e-6)) << g2;
  // Plain rounding: round() passes nothing, so the middle entry gets no gradient.
  const at::Tensor leaf = matrix({{0, 1.2f, 3}}).requires_grad_();
  per_token_quantizer({2, 1.0}, Rounding::Plain)(leaf).sum().backward();
  EXPECT_EQ(leaf.grad()[0][1].item<float>(), 0) << leaf.grad();
}

TEST(ActivationQuantizer, ConstantTokenAndLeadingDimensions) {
  // A constant token has range 0: the 1e-5 floor on the scale keeps it (nearly) exact.
  const at::Tensor constant = fake_quantize_per_token(at::full({1, 2, 4}, 2.0f), {4, 1.0});
  EXPECT_TRUE(at::allclose(constant, at::full({1, 2, 4}, 2.0f), 0, 1e-4)) << constant;
  // [B, T, K]: the grid is per K-vector, as for the 2-D rows.
  const at::Tensor rows = matrix({{-1, 0.5, 3}, {0, 1, 3}});
  const at::Tensor batched = fake_quantize_per_token(rows.view({2, 1, 3}), {2, 1.0});
  EXPECT_TRUE(at::equal(batched.view({2, 3}), fake_quantize_per_token(rows, {2, 1.0})));
}

TEST(ActivationQuantizer, SixteenBitsIsTheIdentityAndBadSettingsAreRejected) {
  const at::Tensor x = at::randn({3, 5});
  EXPECT_TRUE(at::equal(fake_quantize_per_token(x, {16, 1.0}), x));
  EXPECT_THROW(check_activation_quantizer({1, 1.0}), InputError);
  EXPECT_THROW(check_activation_quantizer({17, 1.0}), InputError);
  EXPECT_THROW(check_activation_quantizer({4, 0.0}), InputError);
  EXPECT_THROW(check_activation_quantizer({4, 1.5}), InputError);
  EXPECT_NO_THROW(check_activation_quantizer({4, 0.9}));
}

}  // namespace
}  // namespace ptq::quant
