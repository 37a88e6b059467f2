// SEPTQ (issue 5): importance scores against hand-derived OBS saliencies, the global mask's
// count and tie rule, the masked column loop against an fp64 sequential reference, p = 0 against
// GPTQ, and the side store's validation.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "methods/septq/global_mask.h"
#include "methods/septq/importance.h"
#include "ptq/common/error.h"
#include "ptq/format/outlier_store.h"
#include "ptq/methods/method.h"
#include "ptq/quant/gptq.h"
#include "quant/quant_test_helpers.h"

namespace ptq::methods::septq {
namespace {

using quant::test_helpers::hessian_of;
using quant::test_helpers::matrix;
using quant::test_helpers::method_options;

quant::MethodOptions septq_options(int bits, int group_size, double keep_percent) {
  quant::MethodOptions o = method_options(bits, group_size);
  o.keep_percent = keep_percent;
  return o;
}

quant::GptqConfig mse_config(int bits, bool act_order) {
  quant::GptqConfig config;
  config.quantizer.bits = bits;
  config.quantizer.mse = true;
  config.act_order = act_order;
  return config;
}

// Flat indices of the kept weights a SEPTQ linear stores.
at::Tensor kept_indices(const quant::QuantizedLinear& q) {
  return q.extra_tensors.at(quant::kOutlierIndexSuffix).to(at::kLong);
}

// H = [[4, 2], [2, 3]] (or its act-order mirror), percdamp 0.01: damp = 0.01 * 3.5 = 0.035,
// H' = H + 0.035 I, det H' = 4.035 * 3.035 - 4 = 8.246225. GPTQ quantizes the first processed
// column while the other is still free: its OBS divisor is [H'^-1]_00 = 3.035 / det. The last
// column has nothing left to compensate: its divisor is 1 / 3.035. score = e^2 / divisor with e
// the RTN error (per channel, asymmetric, MSE clipping).
TEST(SeptqImportance, ScoreIsTheObsSaliencyOfTheRtnError) {
  const at::Tensor w = matrix({{0.3f, -0.7f}, {1.1f, 0.2f}, {-0.45f, 0.9f}});
  const double det = 4.035 * 3.035 - 4;
  for (const bool act_order : {false, true}) {
    SCOPED_TRACE(act_order);
    // With act-order, diag [3, 4] puts column 1 first: the roles of the columns swap.
    const at::Tensor h = act_order ? matrix({{3, 2}, {2, 4}}) : matrix({{4, 2}, {2, 3}});
    const quant::GptqConfig config = mse_config(2, act_order);
    const at::Tensor rtn =
        quant::quantize_rtn(w, quant::UniformQuantizer(config.quantizer), -1).weight;
    const at::Tensor scores = importance_scores(w, rtn.clone(), quant::prepare_hessian(h, config));
    const int first = act_order ? 1 : 0;
    for (int64_t r = 0; r < 3; ++r) {
      for (int c = 0; c < 2; ++c) {
        const double e = w[r][c].item<double>() - rtn[r][c].item<double>();
        const double divisor = c == first ? 3.035 / det : 1 / 3.035;
        const double want = e * e / divisor;
        EXPECT_NEAR(scores[r][c].item<double>(), want, 1e-5 * want + 1e-12) << r << "," << c;
      }
    }
    EXPECT_GT(scores.max().item<double>(), 0.0);
  }
}

TEST(SeptqMask, KeepsCeilOfThePercentage) {
  EXPECT_EQ(kept_count(1000, 1.0), 10);
  EXPECT_EQ(kept_count(1000, 1.1), 11);  // 1000 * 1.1 / 100 is 11.000000000000002 in binary
  EXPECT_EQ(kept_count(1001, 1.0), 11);  // 10.01 -> 11
  EXPECT_EQ(kept_count(7, 50.0), 4);     // 3.5 -> 4
  EXPECT_EQ(kept_count(200, 0.5), 1);
  EXPECT_EQ(kept_count(200, 0.0), 0);
  EXPECT_EQ(kept_count(3, 100.0), 3);
  EXPECT_THROW(kept_count(10, -1.0), InputError);
}

TEST(SeptqMask, TakesTheHighestScoresTiesByLowerIndex) {
  const at::Tensor scores = matrix({{1, 5, 2}, {5, 9, 5}});
  EXPECT_TRUE(global_top_mask(scores, 0).equal(at::zeros({2, 3}, at::kBool)));
  EXPECT_TRUE(global_top_mask(scores, 1).equal(matrix({{0, 0, 0}, {0, 1, 0}}).to(at::kBool)));
  // Three 5s tie for places 2..4: flat indices 1, 3, 5 in that order.
  EXPECT_TRUE(global_top_mask(scores, 2).equal(matrix({{0, 1, 0}, {0, 1, 0}}).to(at::kBool)));
  EXPECT_TRUE(global_top_mask(scores, 3).equal(matrix({{0, 1, 0}, {1, 1, 0}}).to(at::kBool)));
  EXPECT_TRUE(global_top_mask(scores, 6).all().item<bool>());
  EXPECT_THROW(global_top_mask(scores, 7), InputError);
}

// One row with a 5000 times wider range has far larger rounding errors: a global ranking puts
// every kept weight there, where a per-row or per-column rule would spread them.
TEST(SeptqMask, IsGlobalOverTheMatrix) {
  at::manual_seed(11);
  at::Tensor w = at::randn({8, 16}) * 0.01;
  w[3] = at::randn({16}) * 50;
  const at::Tensor h = hessian_of(at::randn({64, 16}));
  const auto septq = quant::create_method("septq", septq_options(3, -1, 3.125));
  const quant::QuantizedLinear q = septq->quantize_linear("m", w, {h, 1});
  const at::Tensor kept = kept_indices(q);
  ASSERT_EQ(kept.numel(), 4);  // ceil(128 * 3.125%) = 4
  EXPECT_TRUE(kept.div(16, "floor").eq(3).all().item<bool>()) << kept;
  const quant::GptqConfig config = mse_config(3, false);
  const at::Tensor rtn =
      quant::quantize_rtn(w, quant::UniformQuantizer(config.quantizer), -1).weight;
  const at::Tensor scores = importance_scores(w, rtn.clone(), quant::prepare_hessian(h, config));
  EXPECT_TRUE(global_top_mask(scores, 4).reshape({-1}).nonzero().reshape({-1}).equal(kept));
}

// The column loop in fp64, one column at a time (no lazy blocks): q = quant(w) except kept
// elements, which take their current (updated) value; err = (w - q) / U[c, c];
// W[:, c+1:] -= err U[c, c+1:]. U from an explicit inverse, not the Cholesky-inverse route.
struct Reference {
  at::Tensor weight;  // fp64 [N, K]
  at::Tensor codes;   // int64 [N, K]
};

Reference sequential_reference(const at::Tensor& w,
                               const at::Tensor& h,
                               const quant::QuantParams& grid,
                               int maxq,
                               const at::Tensor& keep) {
  at::Tensor hd = h.to(at::kDouble);
  hd.diagonal().add_(0.01 * hd.diagonal().mean().item<double>());
  const at::Tensor u = at::linalg_cholesky(at::linalg_inv(hd), /*upper=*/true);
  at::Tensor work = w.to(at::kDouble);
  Reference ref{at::zeros_like(work), at::zeros(w.sizes(), at::kLong)};
  const int64_t rows = w.size(0);
  const int64_t columns = w.size(1);
  auto wa = work.accessor<double, 2>();
  auto ua = u.accessor<double, 2>();
  auto qa = ref.weight.accessor<double, 2>();
  auto ca = ref.codes.accessor<int64_t, 2>();
  auto ka = keep.accessor<bool, 2>();
  for (int64_t c = 0; c < columns; ++c) {
    for (int64_t r = 0; r < rows; ++r) {
      const double scale = grid.scale[r].item<double>();
      const double zero = grid.zero[r].item<double>();
      const double x = wa[r][c];
      const double code = std::min(std::max(std::nearbyint(x / scale) + zero, 0.0), double(maxq));
      ca[r][c] = static_cast<int64_t>(code);
      qa[r][c] = ka[r][c] ? x : scale * (code - zero);
      const double err = (x - qa[r][c]) / ua[c][c];
      for (int64_t j = c + 1; j < columns; ++j) wa[r][j] -= err * ua[c][j];
    }
  }
  return ref;
}

TEST(SeptqMethod, KeptWeightsStayUnquantizedAndAbsorbUpdates) {
  at::manual_seed(12);
  const at::Tensor x = at::matmul(at::randn({256, 20}), at::eye(20) + 0.3 * at::randn({20, 20}));
  const at::Tensor h = hessian_of(x);
  const at::Tensor w = at::randn({6, 20});
  quant::MethodOptions options = septq_options(3, -1, 10);
  options.block_size = 8;  // lazy blocks must reproduce the one-column-at-a-time reference
  const quant::QuantizedLinear q =
      quant::create_method("septq", options)->quantize_linear("m", w, {h, 1});
  const at::Tensor kept = kept_indices(q);
  ASSERT_EQ(kept.numel(), 12);  // ceil(120 * 10%)
  at::Tensor keep = at::zeros({120}, at::kBool);
  keep.index_fill_(0, kept, true);
  keep = keep.view({6, 20});

  // The grid comes from the full W, kept weights included.
  quant::QuantizerConfig mse;
  mse.bits = 3;
  mse.mse = true;
  const quant::QuantParams grid = quant::UniformQuantizer(mse).find_params(w);
  EXPECT_TRUE(q.quantized.scales[0].equal(grid.scale));
  EXPECT_TRUE(q.quantized.zeros[0].equal(grid.zero));

  const Reference ref = sequential_reference(w, h, grid, 7, keep);
  const at::Tensor got = q.quantized.weight.to(at::kDouble);
  // Kept: the updated value, rounded to fp16 as stored (relative error <= 2^-11).
  const at::Tensor kept_ref = ref.weight.masked_select(keep);
  const at::Tensor kept_got = got.masked_select(keep);
  EXPECT_TRUE(at::allclose(kept_got, kept_ref, 1e-3, 1e-6)) << kept_got - kept_ref;
  EXPECT_TRUE(kept_got.equal(kept_got.to(at::kHalf).to(at::kDouble)));
  // ...which is not the original weight: earlier columns' errors were absorbed.
  EXPECT_GT((kept_ref - w.to(at::kDouble).masked_select(keep)).abs().max().item<double>(), 0.05);
  // Everything else is on the grid with the reference's codes.
  const at::Tensor rest = keep.logical_not();
  EXPECT_TRUE(
      q.quantized.codes.to(at::kLong).masked_select(rest).equal(ref.codes.masked_select(rest)));
  EXPECT_TRUE(at::allclose(got.masked_select(rest), ref.weight.masked_select(rest), 1e-5, 1e-6));
  // The side store holds exactly the kept values.
  EXPECT_TRUE(q.extra_tensors.at(quant::kOutlierValueSuffix).to(at::kDouble).equal(kept_got));
}

TEST(SeptqMethod, KeepPercentZeroIsGptqWithMseBitForBit) {
  at::manual_seed(13);
  const at::Tensor w = at::randn({12, 40});
  const at::Tensor h = hessian_of(at::randn({3, 64, 40}));
  for (const int group : {-1, 16}) {
    for (const bool act_order : {false, true}) {
      SCOPED_TRACE(std::to_string(group) + (act_order ? " act-order" : ""));
      quant::MethodOptions o = septq_options(3, group, 0);
      o.act_order = act_order;
      const quant::QuantizedLinear septq =
          quant::create_method("septq", o)->quantize_linear("m", w, {h, 3});
      o.quantizer.mse = true;
      const quant::QuantizedLinear gptq =
          quant::create_method("gptq", o)->quantize_linear("m", w, {h, 3});
      EXPECT_TRUE(septq.quantized.weight.equal(gptq.quantized.weight));
      EXPECT_TRUE(septq.quantized.codes.equal(gptq.quantized.codes));
      EXPECT_TRUE(septq.quantized.scales.equal(gptq.quantized.scales));
      EXPECT_TRUE(septq.quantized.zeros.equal(gptq.quantized.zeros));
      EXPECT_TRUE(septq.quantized.g_idx.equal(gptq.quantized.g_idx));
      EXPECT_EQ(septq.loss, gptq.loss);
      EXPECT_TRUE(septq.extra_tensors.empty());
    }
  }
}

TEST(SeptqMethod, RejectsKeepPercentOutOfRangeAndSymmetricGrids) {
  EXPECT_THROW(quant::create_method("septq", septq_options(3, -1, -0.5)), InputError);
  EXPECT_THROW(quant::create_method("septq", septq_options(3, -1, 50.5)), InputError);
  EXPECT_NO_THROW(quant::create_method("septq", septq_options(3, -1, 50)));
  quant::MethodOptions sym = septq_options(3, -1, 1);
  sym.quantizer.sym = true;
  EXPECT_THROW(quant::create_method("septq", sym), InputError);
  const auto septq = quant::create_method("septq", septq_options(4, -1, 1.5));
  EXPECT_EQ(septq->config_fields().at("keep_percent").get<double>(), 1.5);
}

TEST(SeptqOutlierStore, MakesAscendingIndicesAndRejectsMalformedStores) {
  const at::Tensor w = matrix({{1, 2, 3}, {4, 5, 6}});
  const at::Tensor mask = matrix({{0, 0, 1}, {1, 0, 0}}).to(at::kBool);
  const quant::OutlierStore store = quant::make_outlier_store(w, mask);
  EXPECT_TRUE(store.indices.equal(at::tensor({2, 3}, at::kInt)));
  EXPECT_TRUE(store.values.equal(at::tensor({3.0, 4.0}).to(at::kHalf)));
  EXPECT_NO_THROW(quant::check_outlier_store(store, 2, 3, "m"));
  at::Tensor zeroed = at::zeros({2, 3});
  quant::apply_outlier_store(zeroed, store);
  EXPECT_TRUE(zeroed.equal(matrix({{0, 0, 3}, {4, 0, 0}})));

  const auto rejects = [](const at::Tensor& idx, const at::Tensor& val) {
    EXPECT_THROW(quant::check_outlier_store({idx, val}, 2, 3, "m"), InputError) << idx << val;
  };
  const at::Tensor two_values = at::tensor({1.0, 2.0}).to(at::kHalf);
  rejects(at::tensor({2, 3}, at::kLong), two_values);             // int64 indices
  rejects(at::tensor({2, 3}, at::kInt), at::tensor({1.0, 2.0}));  // fp32 values
  rejects(at::tensor({2}, at::kInt), two_values);                 // lengths differ
  rejects(at::tensor({2, 6}, at::kInt), two_values);              // past 2 x 3
  rejects(at::tensor({-1, 2}, at::kInt), two_values);             // negative
  rejects(at::tensor({3, 3}, at::kInt), two_values);              // not strictly ascending
  EXPECT_THROW(quant::make_outlier_store(matrix({{1e5, 0}}), matrix({{1, 0}}).to(at::kBool)),
               InputError);
}

}  // namespace
}  // namespace ptq::methods::septq
