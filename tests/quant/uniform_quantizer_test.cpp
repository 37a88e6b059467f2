#include "ptq/quant/uniform_quantizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "ptq/common/error.h"
#include "ptq/format/gptq_packing.h"
#include "quant/quant_test_helpers.h"

namespace ptq::quant {
namespace {

using test_helpers::matrix;

QuantizerConfig make_config(int bits, bool sym, bool mse = false) {
  QuantizerConfig config;
  config.bits = bits;
  config.sym = sym;
  config.mse = mse;
  return config;
}

UniformQuantizer make_quantizer(int bits, bool sym, bool mse = false) {
  return UniformQuantizer(make_config(bits, sym, mse));
}

// quant.py's grids exactly: zero 0 allowed, fp32 scales.
UniformQuantizer reference_quantizer(int bits, bool sym, bool mse = false) {
  QuantizerConfig config = make_config(bits, sym, mse);
  config.gptq_v1_zero = false;
  config.fp16_scales = false;
  return UniformQuantizer(config);
}

void expect_tensor_eq(const at::Tensor& actual, const at::Tensor& expected) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_TRUE(at::equal(actual, expected.to(actual.scalar_type()))) << "actual\n"
                                                                    << actual << "\nexpected\n"
                                                                    << expected;
}

TEST(Quantizer, AsymmetricMinMaxGrid) {
  // 2 bits, maxq = 3.
  // Row 0 [-1, 0, 0.5, 2]: xmin -1, xmax 2 -> scale 3/3 = 1, zero round(1/1) = 1;
  //   codes round(x) + 1 = [0, 1, round(0.5) = 0 (half to even) + 1 = 1, 3].
  // Row 1 [0.25, 0.75, 1.25, 3]: xmin = min(0.25, 0) = 0, xmax 3 -> scale 1, zero 0;
  //   codes [0, 1, 1, 3].
  // Row 2 all zero: range forced to [-1, 1] -> scale 2/3, zero round(1.5) = 2; codes 2, values 0.
  const at::Tensor x = matrix({{-1, 0, 0.5, 2}, {0.25, 0.75, 1.25, 3}, {0, 0, 0, 0}});
  const UniformQuantizer quantizer = reference_quantizer(2, false);
  const QuantParams params = quantizer.find_params(x);
  expect_tensor_eq(params.scale, at::tensor({1.0f, 1.0f, 2.0f / 3.0f}));
  expect_tensor_eq(params.zero, at::tensor({1.0f, 0.0f, 2.0f}));
  expect_tensor_eq(quantizer.codes(x, params),
                   matrix({{0, 1, 1, 3}, {0, 1, 1, 3}, {2, 2, 2, 2}}).to(at::kByte));
  expect_tensor_eq(quantizer.quantize(x, params),
                   matrix({{-1, 0, 0, 2}, {0, 1, 1, 3}, {0, 0, 0, 0}}));
}

TEST(Quantizer, WeightClipShrinksTheMinMaxRange) {
  // clip 0.5 on [-2, 0, 1, 4] at 2 bits: range [-1, 2] -> scale 1, zero 1; codes
  // round(x) + 1 clamped to [0, 3] = [0, 1, 2, 3], values [-1, 0, 1, 2]: the ends saturate.
  QuantizerConfig config = make_config(2, false);
  config.gptq_v1_zero = false;
  config.clip = 0.5;
  const UniformQuantizer quantizer(config);
  const at::Tensor x = matrix({{-2, 0, 1, 4}});
  const QuantParams params = quantizer.find_params(x);
  expect_tensor_eq(params.scale, at::tensor({1.0f}));
  expect_tensor_eq(params.zero, at::tensor({1.0f}));
  expect_tensor_eq(quantizer.quantize(x, params), matrix({{-1, 0, 1, 2}}));
}

TEST(Quantizer, SymmetricMinMaxGrid) {
  // 4 bits, maxq 15, zero fixed at (15 + 1) / 2 = 8.
  // Row 0 [-3, 1, 7.5, 0]: xmax = max(|-3|, 7.5) = 7.5, xmin = -7.5 -> scale 15/15 = 1;
  //   codes [5, 9, round(7.5) = 8 (even) + 8 = 16 -> clamp 15, 8] -> values [-3, 1, 7, 0].
  // Row 1 [1, 2, 15, 0.5] has no negative value, so quant.py keeps xmin = 0: scale 15/15 = 1
  //   and zero 8 clip the positive side at (15 - 8) * 1 = 7: codes [9, 10, 15, 8] (0.5 -> 0).
  const at::Tensor x = matrix({{-3, 1, 7.5, 0}, {1, 2, 15, 0.5}});
  const UniformQuantizer quantizer = reference_quantizer(4, true);
  const QuantParams params = quantizer.find_params(x);
  expect_tensor_eq(params.scale, at::tensor({1.0f, 1.0f}));
  expect_tensor_eq(params.zero, at::tensor({8.0f, 8.0f}));
  expect_tensor_eq(quantizer.codes(x, params),
                   matrix({{5, 9, 15, 8}, {9, 10, 15, 8}}).to(at::kByte));
  expect_tensor_eq(quantizer.quantize(x, params), matrix({{-3, 1, 7, 0}, {1, 2, 7, 0}}));
}

TEST(Quantizer, GroupsIncludingPartialLastGroup) {
  // K = 6, group size 4: groups [0, 4) and the partial tail [4, 6); 2 bits asymmetric.
  // Group 0: row 0 [-1, 0, 1, 2] -> scale 1, zero 1; row 1 [0, 0, 0, 3] -> scale 1, zero 0.
  // Group 1: row 0 [3, 6] -> xmin 0, scale 6/3 = 2, zero 0, codes [round(1.5) = 2, 3] -> [4, 6];
  //          row 1 [-3, -1.5] -> xmax 0, scale 1, zero 3, codes [0, round(-1.5) = -2 + 3 = 1].
  const at::Tensor w = matrix({{-1, 0, 1, 2, 3, 6}, {0, 0, 0, 3, -3, -1.5}});
  const QuantizedWeight q = quantize_rtn(w, reference_quantizer(2, false), 4);
  expect_tensor_eq(q.scales, matrix({{1, 1}, {2, 1}}));
  expect_tensor_eq(q.zeros, matrix({{1, 0}, {0, 3}}));
  expect_tensor_eq(q.g_idx, at::tensor({0, 0, 0, 0, 1, 1}, at::kInt));
  expect_tensor_eq(q.codes, matrix({{0, 1, 2, 3, 2, 3}, {0, 0, 0, 3, 0, 1}}).to(at::kByte));
  expect_tensor_eq(q.weight, matrix({{-1, 0, 1, 2, 4, 6}, {0, 0, 0, 3, -3, -2}}));
  EXPECT_EQ(group_count(6, 4), 2);
  EXPECT_EQ(group_count(6, -1), 1);
}

TEST(Quantizer, PerChannelIsOneGroup) {
  const at::Tensor w = at::randn({5, 40}, at::TensorOptions().dtype(at::kFloat));
  const UniformQuantizer quantizer = make_quantizer(3, false);
  const QuantizedWeight q = quantize_rtn(w, quantizer, -1);
  const QuantParams params = quantizer.find_params(w);
  expect_tensor_eq(q.scales, params.scale.unsqueeze(0));
  expect_tensor_eq(q.weight, quantizer.quantize(w, params));
  expect_tensor_eq(q.g_idx, at::zeros({40}, at::kInt));
}

// Expected grids from an independent numpy float32 re-implementation of quant.py's
// find_params(mse=True) (norm 2.4, grid 100, maxshrink 0.8), run by hand with numpy 1.24.
TEST(Quantizer, MseSearchMatchesReferenceGrid) {
  const at::Tensor x = matrix({{0.125, -0.25, 0.5, 0.375, -0.125, 0.25, 3.0, -0.5},
                               {1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 0.0, 0.75}});
  struct Case {
    int bits;
    bool sym;
    std::vector<float> scale;
    std::vector<float> zero;
    std::vector<std::vector<float>> codes;
  };
  const std::vector<Case> cases = {
      // Row 0's outlier 3.0 makes the search shrink to p = 0.8: 3.5 / 3 * 0.8 = 0.93333.
      {2,
       false,
       {0.9333333969116211f, 0.6133333444595337f},
       {0, 2},
       {{0, 0, 1, 0, 0, 0, 3, 0}, {3, 0, 3, 1, 2, 2, 2, 3}}},
      {3,
       true,
       {0.8571428656578064f, 0.2742857038974762f},
       {4, 4},
       {{4, 4, 5, 4, 4, 4, 7, 3}, {7, 0, 6, 2, 5, 3, 4, 7}}},
      {4,
       false,
       {0.22866667807102203f, 0.13066667318344116f},
       {2, 8},
       {{3, 1, 4, 4, 1, 3, 15, 0}, {15, 0, 12, 4, 10, 6, 8, 14}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.bits << " bits, sym " << c.sym);
    const UniformQuantizer quantizer = reference_quantizer(c.bits, c.sym, true);
    const QuantParams params = quantizer.find_params(x);
    expect_tensor_eq(params.scale, at::tensor(c.scale));
    expect_tensor_eq(params.zero, at::tensor(c.zero));
    expect_tensor_eq(quantizer.codes(x, params), matrix(c.codes).to(at::kByte));
  }
}

// Wide rows with heavy tails (Student-t with 3 degrees of freedom, as z / sqrt(chi2 / 3)), where
// the search's estimates must leave several near-tied candidates to the exact scores, and rows
// whose estimates prove nothing: errors that underflow in pow (every score 0, so the first
// candidate wins) and errors whose powers overflow fp32 (every score infinite, so the min-max
// grid stays).
at::Tensor wide_heavy_tailed_rows() {
  at::manual_seed(11);
  const at::Tensor chi2 = at::randn({3, 6, 4096}).square().sum(0) / 3;
  at::Tensor x = at::randn({6, 4096}) / chi2.sqrt();
  x[1].mul_(1e-30);
  x[2].mul_(1e30);
  x[3][4000] = 1e25;
  return x;
}

// The search ranks candidates by an estimate and scores exactly only those the estimate's bound
// cannot rule out: the grids equal bit for bit those of quant.py's loop written with separate
// tensor ops (quantize, subtract, abs, pow, sum), on a contiguous weight, on a transposed slice
// (GPTQ's group grids) and on wide heavy-tailed rows with special values.
TEST(Quantizer, MseSearchEqualsTheUnfusedLoop) {
  at::manual_seed(5);
  const at::Tensor w = at::randn({48, 300}) * at::rand({48, 1}) + 0.2 * at::randn({48, 1});
  for (const at::Tensor& x :
       {w, w.t().contiguous().slice(0, 0, 96).t(), wide_heavy_tailed_rows()}) {
    const UniformQuantizer quantizer = reference_quantizer(3, false, true);
    const QuantizerConfig& c = quantizer.config();
    const at::Tensor zeros = at::zeros({x.size(0)}, x.options());
    const at::Tensor xmin = at::minimum(x.amin(1), zeros);
    const at::Tensor xmax = at::maximum(x.amax(1), zeros);
    QuantParams want;
    want.scale = (xmax - xmin) / quantizer.maxq();
    want.zero = at::round(-xmin / want.scale);
    at::Tensor best = at::full({x.size(0)}, INFINITY);
    for (int i = 0; i < static_cast<int>(c.maxshrink * c.grid); ++i) {
      const double p = 1 - static_cast<double>(i) / c.grid;
      QuantParams candidate;
      candidate.scale = (xmax * p - xmin * p) / quantizer.maxq();
      candidate.zero = at::round(-(xmin * p) / candidate.scale);
      const at::Tensor err = (quantizer.quantize(x, candidate) - x).abs_().pow_(c.norm).sum(1);
      const at::Tensor better = err < best;
      best = at::where(better, err, best);
      want.scale = at::where(better, candidate.scale, want.scale);
      want.zero = at::where(better, candidate.zero, want.zero);
    }
    const QuantParams got = quantizer.find_params(x);
    expect_tensor_eq(got.scale, want.scale);
    expect_tensor_eq(got.zero, want.zero);
  }
}

TEST(Quantizer, MseSearchNeverWorseThanMinMax) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({16, 64}) * at::rand({16, 1}) + 0.1 * at::randn({16, 1});
  for (bool sym : {false, true}) {
    const UniformQuantizer minmax = make_quantizer(3, sym);
    const UniformQuantizer mse = make_quantizer(3, sym, true);
    const auto error = [&](const UniformQuantizer& q) {
      return (q.quantize(x, q.find_params(x)) - x).abs().pow(2.4).sum(1);
    };
    EXPECT_TRUE((error(mse) <= error(minmax)).all().item<bool>()) << "sym " << sym;
  }
}

TEST(Quantizer, GptqV1ZeroKeepsNonNegativeRowsStorable) {
  // 2 bits, maxq 3. Row 0 [0.5, 1, 3, 2.25] has xmin 0, so quant.py's zero is 0, which v1
  // cannot store. The v1 grid has zero 1 and scale 3 / (3 - 1) = 1.5 (exact in fp16), so the top
  // code 3 gives 1.5 * 2 = 3 = xmax; codes round(x / 1.5) + 1 = [1, 2, 3, round(1.5) = 2 + 1 = 3].
  // Row 1 [-1, 0, 0.5, 2] keeps the reference grid (scale 1, zero 1).
  const at::Tensor x = matrix({{0.5, 1, 3, 2.25}, {-1, 0, 0.5, 2}});
  const UniformQuantizer quantizer = make_quantizer(2, false);
  const QuantParams params = quantizer.find_params(x);
  expect_tensor_eq(params.scale, at::tensor({1.5f, 1.0f}));
  expect_tensor_eq(params.zero, at::tensor({1.0f, 1.0f}));
  expect_tensor_eq(quantizer.codes(x, params), matrix({{1, 2, 3, 3}, {0, 1, 1, 3}}).to(at::kByte));
  expect_tensor_eq(quantizer.quantize(x, params), matrix({{0, 1.5, 3, 3}, {-1, 0, 0, 2}}));
  EXPECT_EQ(refit_rows(params), 1);  // row 0 only
  EXPECT_EQ(quantize_rtn(x, quantizer, -1).refit_groups, 1);
  // Groups of 2 columns: [0.5, 1], [3, 2.25] and [0.5, 2] have xmin 0; [-1, 0] does not.
  EXPECT_EQ(quantize_rtn(x, quantizer, 2).refit_groups, 3);
  EXPECT_EQ(quantize_rtn(x, reference_quantizer(2, false), -1).refit_groups, 0);
  EXPECT_NO_THROW(pack_gptq(quantize_rtn(x, quantizer, -1), 2));
  // The reference grid has zero 0 and is rejected by the packer.
  EXPECT_EQ(reference_quantizer(2, false).find_params(x).zero[0].item<float>(), 0.0f);
  EXPECT_THROW(pack_gptq(quantize_rtn(x, reference_quantizer(2, false), -1), 2), InputError);
  // Every MSE candidate is fitted too: non-negative rows never end with zero 0.
  at::manual_seed(7);
  const at::Tensor positive = at::rand({16, 64});
  const UniformQuantizer mse = make_quantizer(3, false, true);
  EXPECT_TRUE((mse.find_params(positive).zero >= 1).all().item<bool>());
  EXPECT_NO_THROW(pack_gptq(quantize_rtn(positive, mse, 32), 3));
}

TEST(Quantizer, Fp16ScalesAreRepresentable) {
  at::manual_seed(8);
  const at::Tensor x = at::randn({32, 48}) * at::rand({32, 1}) * 3;
  for (bool sym : {false, true}) {
    for (bool mse : {false, true}) {
      SCOPED_TRACE(testing::Message() << "sym " << sym << ", mse " << mse);
      const at::Tensor scale = make_quantizer(4, sym, mse).find_params(x).scale;
      EXPECT_TRUE(at::equal(scale, scale.to(at::kHalf).to(at::kFloat)));
    }
  }
  // A range below fp16's smallest subnormal keeps a positive scale instead of rounding to 0.
  const at::Tensor tiny = at::full({1, 4}, 1e-9f);
  EXPECT_GT(make_quantizer(4, false).find_params(tiny).scale.item<float>(), 0.0f);
}

// round_half_even against std::nearbyint (default rounding mode) bit for bit, sign of zero
// included, NaN as NaN: a sweep over the whole float range (every 4099th bit pattern, both signs),
// every half-integer tie and its neighbours around the 2^22..2^24 boundaries where the trick's sum
// changes spacing, and the special values.
TEST(Quantizer, RoundHalfEvenIsNearbyint) {
  const auto bits = [](float x) {
    uint32_t b = 0;
    std::memcpy(&b, &x, sizeof b);
    return b;
  };
  // NaNs only as NaNs: nearbyint quiets a signalling NaN's payload, round_half_even returns it.
  const auto expect_same = [&](float x) {
    if (std::isnan(x)) {
      ASSERT_TRUE(std::isnan(round_half_even(x))) << std::hexfloat << x;
      return;
    }
    ASSERT_EQ(bits(round_half_even(x)), bits(std::nearbyint(x))) << std::hexfloat << x;
  };
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; b += 4099) {
    float x = 0;
    const uint32_t pattern = static_cast<uint32_t>(b);
    std::memcpy(&x, &pattern, sizeof x);
    expect_same(x);
  }
  for (int sign : {1, -1}) {
    for (int k = 0; k < 4096; ++k) {
      expect_same(sign * (k + 0.5f));
      expect_same(sign * std::nextafter(k + 0.5f, 0.0f));
      expect_same(sign * std::nextafter(k + 0.5f, 1e9f));
    }
    for (float edge : {4194304.0f, 8388608.0f, 16777216.0f}) {
      float x = edge;
      for (int step = 0; step < 64; ++step) x = std::nextafter(x, 0.0f);
      for (int step = 0; step < 128; ++step, x = std::nextafter(x, 1e30f)) expect_same(sign * x);
    }
  }
  for (float x :
       {0.0f, -0.0f, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 1e-45f, -1e-45f,
        std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
        std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()}) {
    expect_same(x);
  }
  EXPECT_TRUE(std::isnan(round_half_even(std::numeric_limits<float>::quiet_NaN())));
}

TEST(Quantizer, RejectsInvalidConfigurations) {
  QuantizerConfig config;
  config.bits = 1;
  EXPECT_THROW(UniformQuantizer{config}, InputError);
  config.bits = 9;
  EXPECT_THROW(UniformQuantizer{config}, InputError);
  config.bits = 4;
  config.clip = 0;
  EXPECT_THROW(UniformQuantizer{config}, InputError);
  config.clip = 1.5;
  EXPECT_THROW(UniformQuantizer{config}, InputError);
  EXPECT_THROW(quantize_rtn(at::ones({2, 8}), make_quantizer(4, false), 0), InputError);
}

}  // namespace
}  // namespace ptq::quant
