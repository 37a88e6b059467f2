#include "ptq/quant/relative_error.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "ptq/common/error.h"
#include "ptq/quant/gptq.h"
#include "quant/quant_test_helpers.h"

namespace ptq::quant {
namespace {

using test_helpers::matrix;

// W = [1 2], Q = [1 1], H = [[2 1] [1 3]]: tr(W H W^T) = 2 + 2 * 2 + 4 * 3 = 18; W - Q = [0 1]
// gives 3; the relative error is 3 / 18.
TEST(RelativeError, HandDerivedTwoByTwo) {
  const at::Tensor h = matrix({{2, 1}, {1, 3}});
  EXPECT_DOUBLE_EQ(quadratic_trace(matrix({{1, 2}}), h), 18.0);
  EXPECT_DOUBLE_EQ(relative_error(matrix({{1, 2}}), matrix({{1, 1}}), h), 3.0 / 18.0);
  EXPECT_EQ(relative_error(at::zeros({1, 2}), matrix({{1, 1}}), h), 0.0);
}

// Small integers: every fp32 product and partial sum is an integer below 2^24 (at most
// 600 * 3 * 2 = 3600 per GEMM entry), so the blocked trace must equal the exact integer
// tr(X H X^T), over whole and partial blocks (600 columns) and within one block (100).
TEST(RelativeError, IntegerInputsGiveTheExactTrace) {
  at::manual_seed(3);
  for (int64_t k : {100, 600}) {
    SCOPED_TRACE(testing::Message() << "K " << k);
    const at::Tensor x = at::randint(-3, 4, {5, k}, at::kLong);
    const at::Tensor a = at::randint(-1, 2, {k, k}, at::kLong);
    const at::Tensor h = a + a.t();
    const int64_t exact = (at::matmul(x, h) * x).sum().item<int64_t>();
    EXPECT_EQ(quadratic_trace(x.to(at::kFloat), h.to(at::kFloat)), static_cast<double>(exact));
  }
}

// Real inputs: the blocked trace and the full product X H (the formula it replaces) are each
// within (K + 1) 2^-24 T of the exact value, T = tr(|X| |H| |X|^T) (every fp32 GEMM entry is a
// sum of at most K products, then one more rounding multiplying by X), plus N K 2^-53 T for
// the fp64 sum; so they differ by at most twice that.
TEST(RelativeError, BlockedTraceWithinTheDerivedBoundOfTheFullProduct) {
  at::manual_seed(4);
  const int64_t n = 40, k = 700;
  const at::Tensor x = at::randn({n, k});
  HessianAccumulator accumulator(k);
  accumulator.add_batch(at::randn({900, k}));
  const at::Tensor h = (accumulator.hessian() + accumulator.hessian().t()) * 0.5;
  const double full = (at::matmul(x, h) * x).sum(at::kDouble).item<double>();
  const at::Tensor x64 = x.to(at::kDouble), h64 = h.to(at::kDouble);
  const double exact = (at::matmul(x64, h64) * x64).sum().item<double>();
  const double t = (at::matmul(x64.abs(), h64.abs()) * x64.abs()).sum().item<double>();
  const double bound = ((k + 1) * std::ldexp(1.0, -24) + n * k * std::ldexp(1.0, -53)) * t;
  const double blocked = quadratic_trace(x, h);
  EXPECT_LE(std::abs(blocked - exact), bound);
  EXPECT_LE(std::abs(blocked - full), 2 * bound);
}

// W = [3 2], Q = [0 1], H = [[0 0] [0 5]]: column 0 is dead, so tr((W - Q) H (W - Q)^T) = 5.
// A sweep with damp 1 would report ||Err||^2 = tr((W' - Q)(H + I)(W' - Q)^T) = 5 + 1, loss 3:
// 2 * 3 - 1 * 1 = 5. With a loss below the damping term (0.4 < 1) the trace itself is computed.
TEST(RelativeError, SweepErrorHandDerived) {
  const at::Tensor h = matrix({{0, 0}, {0, 5}});
  EXPECT_DOUBLE_EQ(sweep_output_error(matrix({{3, 2}}), matrix({{0, 1}}), h, 3.0, 1.0), 5.0);
  EXPECT_DOUBLE_EQ(sweep_output_error(matrix({{3, 2}}), matrix({{0, 1}}), h, 0.4, 1.0), 5.0);
}

// GPTQ's own loss gives the trace of its output, over bit widths, group sizes, act-order and a
// dead input, to 1e-4 of the exact (fp64) trace: the measurement ranks candidates whose errors
// differ by factors (about 4 per bit), so far coarser agreement would choose the same.
TEST(RelativeError, SweepErrorEqualsTheTraceOfGptqOutput) {
  at::manual_seed(5);
  const int64_t n = 48, k = 256, tokens = 1024;
  // Correlated inputs with spread scales, like a layer's: a random mixing of scaled columns.
  at::Tensor x = at::randn({tokens, k}) * at::linspace(0.05, 3.0, k);
  x = x.matmul(at::eye(k) + 0.2 * at::randn({k, k}) / std::sqrt(static_cast<double>(k)));
  x.select(1, 7).zero_();
  HessianAccumulator accumulator(k);
  accumulator.add_batch(x);
  const at::Tensor h = accumulator.hessian();
  const at::Tensor w = at::randn({n, k});
  for (const int bits : {2, 4, 8}) {
    for (const int group_size : {-1, 32}) {
      for (const bool act_order : {false, true}) {
        SCOPED_TRACE(testing::Message()
                     << bits << " bits, group " << group_size << (act_order ? ", act-order" : ""));
        GptqConfig config;
        config.quantizer.bits = bits;
        config.group_size = group_size;
        config.act_order = act_order;
        const GptqResult r = gptq_quantize(w, h, config);
        const at::Tensor d = (w - r.quantized.weight).to(at::kDouble);
        const double exact = (d.matmul(h.to(at::kDouble)) * d).sum().item<double>();
        const double from_loss = sweep_output_error(w, r.quantized.weight, h, r.loss, r.damp);
        EXPECT_NEAR(from_loss, exact, 1e-4 * exact);
      }
    }
  }
}

TEST(RelativeError, RejectsMismatchedShapes) {
  EXPECT_THROW(quadratic_trace(at::ones({2, 3}), at::ones({4, 4})), InputError);
}

}  // namespace
}  // namespace ptq::quant
