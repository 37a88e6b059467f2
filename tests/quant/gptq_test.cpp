#include "ptq/quant/gptq.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "ptq/common/error.h"
#include "ptq/quant/triangular_inverse.h"
#include "quant/quant_test_helpers.h"

namespace ptq::quant {
namespace {

using test_helpers::matrix;

GptqConfig make_config(int bits, bool sym, int group_size = -1) {
  GptqConfig config;
  config.quantizer.bits = bits;
  config.quantizer.sym = sym;
  config.group_size = group_size;
  return config;
}

// Hessian 2/n sum x x^T of `tokens` inputs whose neighbouring features are correlated.
at::Tensor correlated_hessian(int64_t columns, int64_t tokens, at::Tensor* inputs = nullptr) {
  const at::Tensor z = at::randn({tokens, columns});
  const at::Tensor mix = at::eye(columns) + 0.9 * at::randn({columns, columns}) / 4;
  const at::Tensor x = at::matmul(z, mix);
  if (inputs != nullptr) *inputs = x;
  HessianAccumulator accumulator(columns);
  accumulator.add_batch(x);
  return accumulator.hessian();
}

// Every output element equals scale[g] * (code - zero[g]) of its group g = g_idx[column].
void expect_consistent_with_codes(const QuantizedWeight& q) {
  const at::Tensor g = q.g_idx.to(at::kLong);
  const at::Tensor scales = q.scales.index_select(0, g).t();
  const at::Tensor zeros = q.zeros.index_select(0, g).t();
  EXPECT_TRUE(at::equal(q.weight, scales * (q.codes.to(at::kFloat) - zeros)));
}

TEST(GptqHessian, AccumulatesTwoOverSamplesTimesXtX) {
  const at::Tensor x1 = at::randn({5, 4});     // 2-D: one sample of 5 tokens
  const at::Tensor x2 = at::randn({2, 3, 4});  // 3-D: two samples of 3 tokens
  HessianAccumulator accumulator(4, at::kDouble);
  accumulator.add_batch(x1);
  accumulator.add_batch(x2);
  EXPECT_EQ(accumulator.samples(), 3);
  const at::Tensor all = at::cat({x1, x2.reshape({6, 4})}).to(at::kDouble);
  const at::Tensor expected = 2.0 / 3.0 * at::matmul(all.t(), all);
  EXPECT_TRUE(at::allclose(accumulator.hessian(), expected, 1e-12, 1e-12));
  EXPECT_THROW(accumulator.add_batch(at::randn({3, 5})), InputError);
}

TEST(Gptq, MatchesHandDerivedObsUpdate) {
  // H = [[2,1,0,0],[1,2,0,0],[0,0,2,0],[0,0,0,2]], percdamp 0.5 -> damp 0.5 * mean(diag) = 1:
  // H' = [[3,1],[1,3]] (+) 3 I. (H')^-1 = [[3,-1],[-1,3]] / 8 (+) I / 3; its upper Cholesky
  // factor U has U00^2 = 3/8, U01 = (-1/8) / sqrt(3/8), U11^2 = 3/8 - U01^2 = 1/3; columns 2, 3
  // are decoupled. OBS: quantizing column 0 updates w1 -= err * U01 with err = e0 / U00, i.e.
  // w1 += e0 / 3.
  // 2-bit asymmetric grid of both rows (min -1, max 2): scale 1, zero 1, q in {-1, 0, 1, 2}.
  // Row 0: w0 0.45 -> q0 0, e0 0.45; w1 = 0.4 + 0.15 = 0.55 -> q1 1 (RTN would give 0).
  // Row 1: w0 -0.6 -> q0 -1, e0 0.4; w1 = -0.3 + 0.4/3 = -0.1667 -> q1 0.
  // Loss sum (w - q)^2 / U_ii^2 / 2 = 0.45^2 * 8/3 / 2 + 0.45^2 * 3 / 2 + 0.4^2 * 8/3 / 2
  //   + (1/6)^2 * 3 / 2 = 0.27 + 0.30375 + 0.21333 + 0.04167 = 0.82875.
  const at::Tensor w = matrix({{0.45, 0.4, -1, 2}, {-0.6, -0.3, 2, -1}});
  const at::Tensor h = matrix({{2, 1, 0, 0}, {1, 2, 0, 0}, {0, 0, 2, 0}, {0, 0, 0, 2}});
  GptqConfig config = make_config(2, false);
  config.percdamp = 0.5;
  const GptqResult result = gptq_quantize(w, h, config);
  EXPECT_TRUE(at::equal(result.quantized.weight, matrix({{0, 1, -1, 2}, {-1, 0, 2, -1}})));
  EXPECT_DOUBLE_EQ(result.damp, 1.0);
  EXPECT_NEAR(result.loss, 0.82875, 1e-6);
}

// H = [[3,1],[1,1]], percdamp 0.5 -> damp 0.5 * mean(diag) = 1: A = [[4,1],[1,2]], det 7,
// A^-1 = [[2,-1],[-1,4]] / 7. U = [[a, b], [0, c]] with U^T U = A^-1: a^2 = 2/7, a b = -1/7,
// b^2 + c^2 = 4/7, so b = -1/sqrt(14) and c^2 = 4/7 - 1/14 = 1/2.
TEST(Gptq, DampedInverseFactorMatchesHandDerivedTwoByTwo) {
  GptqConfig config;
  config.percdamp = 0.5;
  const DampedInverse got = damped_inverse_cholesky(matrix({{3, 1}, {1, 1}}), config);
  const at::Tensor want =
      matrix({{std::sqrt(2.0F / 7), -1 / std::sqrt(14.0F)}, {0, std::sqrt(0.5F)}});
  EXPECT_DOUBLE_EQ(got.damp, 1.0);
  EXPECT_TRUE(at::allclose(got.upper, want, 1e-6, 1e-7));
  EXPECT_EQ(got.upper[1][0].item<float>(), 0.0F);
}

// The factor from the flipped Cholesky and its triangular inverse against gptq.py's chain
// (cholesky, cholesky_inverse, upper cholesky), both in fp64 on a damped Hessian of K = 300
// (recursive blocks of uneven size), where the two differ only by rounding.
TEST(Gptq, DampedInverseFactorIsGptqPysFactor) {
  at::manual_seed(5);
  const at::Tensor h = correlated_hessian(300, 1200).to(at::kDouble);
  GptqConfig config;
  const DampedInverse got = damped_inverse_cholesky(h, config);
  at::Tensor damped = h.clone();
  damped.diagonal().add_(got.damp);
  const at::Tensor want =
      at::linalg_cholesky(at::cholesky_inverse(at::linalg_cholesky(damped)), /*upper=*/true);
  EXPECT_DOUBLE_EQ(got.damp, 0.01 * h.diagonal().mean().item<double>());
  EXPECT_TRUE(at::allclose(got.upper, want, 1e-10, 1e-12));
  EXPECT_TRUE(at::equal(got.upper.tril(-1), at::zeros_like(want)));
}

// The factor computed in one buffer (LAPACK and the triangular inverse in place, the flip back
// by swaps) against the same steps on fresh tensors, bit for bit; K = 301 is odd, so the flip
// back has a middle entry on the anti-diagonal. The in-place path reads the Hessian's other
// triangle, the same numbers because an accumulated Hessian is exactly symmetric.
TEST(Gptq, DampedInverseFactorInOneBufferEqualsTheOutOfPlaceSteps) {
  at::manual_seed(7);
  const at::Tensor h = correlated_hessian(301, 1200);
  ASSERT_TRUE(at::equal(h, h.t()));
  GptqConfig config;
  const DampedInverse got = damped_inverse_cholesky(h, config);
  at::Tensor flipped = h.flip({0, 1});
  flipped.diagonal().add_(got.damp);
  at::Tensor lower = at::linalg_cholesky(flipped);
  invert_lower_triangular_in_place(lower);
  EXPECT_TRUE(at::equal(got.upper, lower.flip({0, 1})));
  EXPECT_TRUE(got.upper.is_contiguous());
}

// How far U^T U is from A^-1, measured in fp64 as ||U^T U A - I||_F / sqrt(K).
double inverse_residual(const at::Tensor& upper, const at::Tensor& damped) {
  const at::Tensor u = upper.to(at::kDouble);
  const at::Tensor product = at::matmul(at::matmul(u.t(), u), damped.to(at::kDouble));
  return (product - at::eye(damped.size(0), at::kDouble)).norm().item<double>() /
         std::sqrt(static_cast<double>(damped.size(0)));
}

// In fp32 on a rank-deficient Hessian (100 tokens for K = 300: the damped matrix's condition
// number is about 1e3), the new factor inverts A as well as gptq.py's chain does. Both are
// rounding-limited at about cond(A) * fp32 epsilon; the 10% margin covers rounding noise only.
TEST(Gptq, DampedInverseFactorIsAsAccurateAsGptqPysChainInFp32) {
  at::manual_seed(6);
  const at::Tensor h = correlated_hessian(300, 100);
  GptqConfig config;
  const DampedInverse got = damped_inverse_cholesky(h, config);
  at::Tensor damped = h.clone();
  damped.diagonal().add_(got.damp);
  const at::Tensor chain =
      at::linalg_cholesky(at::cholesky_inverse(at::linalg_cholesky(damped)), /*upper=*/true);
  EXPECT_LT(inverse_residual(got.upper, damped), 1.1 * inverse_residual(chain, damped));
}

// Sequential OBS in fp64 with an explicit inverse (no Cholesky, no lazy batches): quantize
// column i, then W[:, j] -= e * Hinv[i, j] / Hinv[i, i] and eliminate i from Hinv.
at::Tensor obs_reference(at::Tensor w,
                         const at::Tensor& h,
                         const UniformQuantizer& quantizer,
                         int group_size,
                         double percdamp) {
  w = w.to(at::kDouble);
  const int64_t columns = w.size(1);
  at::Tensor damped = h.to(at::kDouble);
  damped.diagonal().add_(percdamp * damped.diagonal().mean());
  at::Tensor hinv = at::inverse(damped);
  at::Tensor q = at::zeros_like(w);
  QuantParams grid;
  for (int64_t i = 0; i < columns; ++i) {
    if (i % group_size == 0) {
      grid = quantizer.find_params(w.slice(1, i, i + group_size).to(at::kFloat));
    }
    const at::Tensor column = w.select(1, i).to(at::kFloat).unsqueeze(1);
    q.select(1, i).copy_(quantizer.quantize(column, grid).squeeze(1));
    const at::Tensor e = (w.select(1, i) - q.select(1, i)).unsqueeze(1);
    w -= e * hinv[i].unsqueeze(0) / hinv[i][i];
    hinv = hinv - at::outer(hinv.select(1, i), hinv[i]) / hinv[i][i];
  }
  return q.to(at::kFloat);
}

TEST(Gptq, MatchesSequentialObsWithLazyBlocks) {
  at::manual_seed(1);
  const at::Tensor w = at::randn({6, 12});
  const at::Tensor h = correlated_hessian(12, 64);
  GptqConfig config = make_config(4, false, 4);
  config.block_size = 4;  // three lazy blocks, group starts aligned with blocks
  const GptqResult result = gptq_quantize(w, h, config);
  const at::Tensor expected = obs_reference(w, h, UniformQuantizer(config.quantizer), 4, 0.01);
  EXPECT_TRUE(at::allclose(result.quantized.weight, expected, 1e-5, 1e-5))
      << result.quantized.weight << "\n"
      << expected;
  expect_consistent_with_codes(result.quantized);
}

// A deterministic problem rebuilt bit-for-bit by the Python run that produced the expected
// values: W = sin(0.7 i) + 0.3 cos(1.3 i), X = sin(0.37 j) + cos(0.11 j) with
// X[:, 1:] += 0.8 X[:, :-1], H = 2 X^T X (one sample).
std::pair<at::Tensor, at::Tensor> reference_problem() {
  const at::Tensor i = at::arange(3 * 8, at::kFloat).reshape({3, 8});
  const at::Tensor w = at::sin(i * 0.7) + 0.3 * at::cos(i * 1.3);
  const at::Tensor j = at::arange(24 * 8, at::kFloat).reshape({24, 8});
  at::Tensor x = at::sin(j * 0.37) + at::cos(j * 0.11);
  x.slice(1, 1) += 0.8 * x.slice(1, 0, -1).clone();
  return {w, 2.0 * at::matmul(x.t(), x)};
}

// quant.py's grids exactly: zero 0 allowed, fp32 scales.
GptqConfig reference_config(int bits, bool sym, int group_size) {
  GptqConfig config = make_config(bits, sym, group_size);
  config.quantizer.gptq_v1_zero = false;
  config.quantizer.fp16_scales = false;
  return config;
}

// Expected values: IST-DASLab/gptq gptq.py fasterquant + quant.py Quantizer transcribed for CPU
// and run by hand under Debian's python3-torch 1.13 on reference_problem().
TEST(Gptq, MatchesReferenceImplementation) {
  const auto [w, h] = reference_problem();
  struct Case {
    GptqConfig config;
    double loss;
    std::vector<std::vector<float>> q;
  };
  GptqConfig act_order = reference_config(3, false, 2);  // groups start inside lazy blocks of 4
  act_order.block_size = 4;
  act_order.act_order = true;
  GptqConfig mse = reference_config(2, true, 4);
  mse.block_size = 4;
  mse.quantizer.mse = true;
  GptqConfig static_groups = reference_config(4, false, 3);  // partial last group
  static_groups.block_size = 4;
  static_groups.act_order = true;
  static_groups.static_groups = true;
  const std::vector<Case> cases = {
      {act_order,
       2.1071839332580566,
       {{0.339055777f, 0.673537076f, 0.791130126f, 0.785793245f, 0.24890174f, 0.f, -0.855388939f,
         -1.24450874f},
        {-0.728455782f, 0.161858454f, 0.971274376f, 1.1330092f, 0.513127327f, 0.191852614f,
         -0.143889457f, -0.684169769f},
        {-1.10248685f, -0.959025621f, -0.157498121f, 1.27870083f, 1.10735881f, 0.677231312f, 0.f,
         -0.442943543f}}},
      {mse,
       112.63339233398438,
       {{0.24279435f, 0.24279435f, 0.24279435f, 0.24279435f, 1.98565578f, 0.f, 0.f, -1.98565578f},
        {-0.626356065f, 0.f, 0.626356065f, 0.626356065f, 1.04181373f, 1.04181373f, -1.04181373f,
         -1.04181373f},
        {-1.35204089f, -0.676020443f, 0.f, 0.676020443f, 0.875933826f, 0.875933826f, 0.875933826f,
         -0.875933826f}}},
      {static_groups,
       0.09082502126693726,
       {{0.339912117f, 0.728383064f, 0.728383064f, 0.656354129f, 0.421941966f, -0.0468824394f,
         -0.844512701f, -1.26676905f},
        {-0.806765258f, 0.230504364f, 0.922017455f, 0.939534128f, 0.563720465f, 0.187906832f,
         -0.128190249f, -0.640951276f},
        {-1.01766515f, -0.94497478f, 0.f, 0.947746575f, 1.10570431f, 0.710809946f, 0.0256337617f,
         -0.358872652f}}},
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE(testing::Message() << "case " << c);
    const GptqResult result = gptq_quantize(w, h, cases[c].config);
    // Relative as well as absolute: the weights reach their grids through fp32 Cholesky
    // updates, whose last digits depend on the BLAS kernel (an AMD EPYC with OpenBLAS's ZEN
    // kernels gave the MSE case's second group a scale 6.5e-6 relative off the reference, 1.3e-5
    // on 1.99). A wrong code is off by a whole grid step, hundreds of times more.
    EXPECT_TRUE(at::allclose(result.quantized.weight, matrix(cases[c].q), 1e-5, 1e-5))
        << result.quantized.weight;
    EXPECT_NEAR(result.loss, cases[c].loss, 1e-4 * cases[c].loss);
    expect_consistent_with_codes(result.quantized);
  }
}

TEST(Gptq, ActOrderPermutationRoundTrip) {
  at::manual_seed(2);
  const at::Tensor w = at::randn({5, 16});
  const at::Tensor h = correlated_hessian(16, 64) *
                       at::linspace(0.5, 2.0, 16).sqrt().outer(at::linspace(0.5, 2.0, 16).sqrt());
  GptqConfig config = make_config(3, false, 4);
  config.act_order = true;
  const GptqResult result = gptq_quantize(w, h, config);
  const at::Tensor perm = std::get<1>(h.diagonal().sort(true, 0, true));
  EXPECT_TRUE(at::equal(result.perm, perm));
  EXPECT_TRUE(at::equal(result.perm.index_select(0, result.inv_perm), at::arange(16, at::kLong)));
  // Same as plain GPTQ on the permuted problem, mapped back to the original columns.
  config.act_order = false;
  const GptqResult permuted =
      gptq_quantize(w.index_select(1, perm), h.index_select(0, perm).index_select(1, perm), config);
  EXPECT_TRUE(at::equal(result.quantized.weight,
                        permuted.quantized.weight.index_select(1, result.inv_perm)));
  EXPECT_TRUE(at::equal(result.quantized.scales, permuted.quantized.scales));
  // g_idx: the group of each original column is its processing position // group size.
  EXPECT_TRUE(at::equal(result.quantized.g_idx, result.inv_perm.div(4, "floor").to(at::kInt)));
  expect_consistent_with_codes(result.quantized);
}

// Three weights on one Hessian (q/k/v): the shared preparation is computed once and gives
// bit-identical results to preparing per weight; a modified Hessian or other damping is
// prepared afresh.
TEST(Gptq, SharedPreparationIsBitIdenticalAndFollowsTheHessian) {
  at::manual_seed(7);
  at::Tensor h = correlated_hessian(24, 96);
  GptqConfig config = make_config(3, false, 8);
  config.act_order = true;
  SharedPreparation shared;
  const PreparedHessian first = shared.get(h, config);
  for (int i = 0; i < 3; ++i) {
    const at::Tensor w = at::randn({6, 24});
    const PreparedHessian prepared = shared.get(h, config);
    EXPECT_EQ(prepared.inverse.upper.data_ptr(), first.inverse.upper.data_ptr());
    const GptqResult got = gptq_quantize(w, prepared, config);
    const GptqResult want = gptq_quantize(w, h, config);
    EXPECT_TRUE(got.quantized.weight.equal(want.quantized.weight));
    EXPECT_TRUE(got.quantized.codes.equal(want.quantized.codes));
    EXPECT_TRUE(got.quantized.scales.equal(want.quantized.scales));
    EXPECT_TRUE(got.quantized.g_idx.equal(want.quantized.g_idx));
    EXPECT_EQ(got.loss, want.loss);
  }
  h.mul_(4);  // in place: the same tensor, a new version
  const PreparedHessian scaled = shared.get(h, config);
  EXPECT_NE(scaled.inverse.upper.data_ptr(), first.inverse.upper.data_ptr());
  EXPECT_DOUBLE_EQ(scaled.inverse.damp, 4 * first.inverse.damp);
  config.percdamp = 0.1;
  EXPECT_NEAR(shared.get(h, config).inverse.damp, 40 * first.inverse.damp,
              1e-12 * first.inverse.damp);
}

// gptq.cpp's column sweep as it was before the row tiling and the branch-free rounding: each
// column over all N rows at once, std::nearbyint, the kept test inside the loop; grids per
// group of block_size columns found from W at the block's start (dynamic groups, group size =
// block size).
struct SweepReplay {
  at::Tensor weight, codes;
  double loss = 0;
};

SweepReplay replay_untiled_sweep(const at::Tensor& weight,
                                 const PreparedHessian& prepared,
                                 const GptqConfig& config,
                                 const at::Tensor& keep_mask) {
  const UniformQuantizer quantizer(config.quantizer);
  const float maxq = static_cast<float>(quantizer.maxq());
  const int64_t rows = weight.size(0), columns = weight.size(1);
  at::Tensor wt = weight.masked_fill(prepared.dead.unsqueeze(0), 0)
                      .index_select(1, prepared.perm)
                      .t()
                      .contiguous();
  const at::Tensor keep = keep_mask.index_select(1, prepared.perm).t().contiguous().to(at::kByte);
  const at::Tensor hinv = prepared.inverse.upper.to(at::kFloat).contiguous();
  at::Tensor qt = at::empty_like(wt);
  at::Tensor codes = at::empty(wt.sizes(), wt.options().dtype(at::kByte));
  const float* h = hinv.data_ptr<float>();
  double loss = 0;
  // Per column, its grid (dynamic groups or one per row, as gptq.cpp's GroupGrids): found at a
  // group's first column from wt as it is at the start of that column's block.
  std::vector<QuantParams> grids;
  if (config.group_size == -1) grids.push_back(quantizer.find_params(weight));
  for (int64_t begin = 0; begin < columns; begin += config.block_size) {
    const int64_t end = std::min<int64_t>(begin + config.block_size, columns);
    std::vector<QuantParams> block_grids;
    for (int64_t j = begin; j < end; ++j) {
      if (config.group_size != -1 && j % config.group_size == 0) {
        grids.push_back(quantizer.find_params(wt.slice(0, j, j + config.group_size).t()));
      }
      block_grids.push_back(grids.back());
    }
    at::Tensor w1 = wt.slice(0, begin, end).clone();
    at::Tensor err1 = at::zeros_like(w1);
    for (int64_t i = begin; i < end; ++i) {
      const float* scale = block_grids[i - begin].scale.data_ptr<float>();
      const float* zero = block_grids[i - begin].zero.data_ptr<float>();
      const float* w = w1.data_ptr<float>() + (i - begin) * rows;
      float* err = err1.data_ptr<float>() + (i - begin) * rows;
      const float d = h[i * columns + i];
      for (int64_t n = 0; n < rows; ++n) {
        const float code =
            std::min(std::max(std::nearbyint(w[n] / scale[n]) + zero[n], 0.0f), maxq);
        const bool kept = keep.data_ptr<uint8_t>()[i * rows + n] != 0;
        const float q = kept ? w[n] : scale[n] * (code - zero[n]);
        qt.data_ptr<float>()[i * rows + n] = q;
        codes.data_ptr<uint8_t>()[i * rows + n] = static_cast<uint8_t>(code);
        err[n] = (w[n] - q) / d;
      }
      for (int64_t j = i + 1; j < end; ++j) {
        float* wj = w1.data_ptr<float>() + (j - begin) * rows;
        for (int64_t n = 0; n < rows; ++n) wj[n] -= err[n] * h[i * columns + j];
      }
    }
    loss += 0.5 * err1.to(at::kDouble).square().sum().item<double>();
    wt.slice(0, end).addmm_(hinv.slice(0, begin, end).slice(1, end).t(), err1, 1, -1);
  }
  return {qt.t().index_select(1, prepared.inv_perm), codes.t().index_select(1, prepared.inv_perm),
          loss};
}

// The tiled sweep (64 output rows at a time, rounding without libm) against the replay, bit for
// bit: 150 rows are two whole tiles and a partial one, 300 columns two whole blocks and a
// partial one; with and without act-order and kept elements.
TEST(Gptq, TiledSweepIsBitIdenticalToTheUntiledSweep) {
  at::manual_seed(11);
  const at::Tensor w = at::randn({150, 300});
  const at::Tensor h = correlated_hessian(300, 600);
  for (bool act_order : {false, true}) {
    for (bool keep : {false, true}) {
      SCOPED_TRACE(testing::Message() << "act_order " << act_order << ", keep " << keep);
      GptqConfig config = make_config(4, false, 128);
      config.act_order = act_order;
      const at::Tensor mask = keep ? at::rand({150, 300}) < 0.05 : at::zeros({150, 300}, at::kBool);
      const PreparedHessian prepared = prepare_hessian(h, config);
      const GptqResult got = gptq_quantize(w, prepared, config, keep ? mask : at::Tensor());
      const SweepReplay want = replay_untiled_sweep(w, prepared, config, mask);
      EXPECT_TRUE(got.quantized.weight.equal(want.weight));
      EXPECT_TRUE(got.quantized.codes.equal(want.codes));
      EXPECT_EQ(got.loss, want.loss);
    }
  }
}

// The sweep writes Q over the rows of its W^T working copy that earlier blocks have finished:
// bit-identical to the replay, with its separate Q, where grids read rows of W^T across block
// boundaries (groups of 96 and 256 against blocks of 128), within a block (32) and not at all
// (one grid per row, with a dead column).
TEST(Gptq, SweepWritingQOverItsWorkingCopyIsBitIdenticalForEveryGroupLayout) {
  at::manual_seed(12);
  const at::Tensor w = at::randn({150, 300});
  at::Tensor h = correlated_hessian(300, 600);
  h.select(0, 7).zero_();
  h.select(1, 7).zero_();
  for (int group_size : {-1, 32, 96, 256}) {
    for (bool act_order : {false, true}) {
      SCOPED_TRACE(testing::Message() << "group " << group_size << ", act_order " << act_order);
      GptqConfig config = make_config(4, false, group_size);
      config.act_order = act_order;
      const at::Tensor mask = at::rand({150, 300}) < 0.05;
      const PreparedHessian prepared = prepare_hessian(h, config);
      const GptqResult got = gptq_quantize(w, prepared, config, mask);
      const SweepReplay want = replay_untiled_sweep(w, prepared, config, mask);
      EXPECT_TRUE(got.quantized.weight.equal(want.weight));
      EXPECT_TRUE(got.quantized.codes.equal(want.codes));
      EXPECT_EQ(got.loss, want.loss);
    }
  }
}

TEST(Gptq, StaticGroupsKeepSequentialGroupIndex) {
  at::manual_seed(3);
  const at::Tensor w = at::randn({4, 12});
  GptqConfig config = make_config(4, true, 4);
  config.act_order = true;
  config.static_groups = true;
  const GptqResult result = gptq_quantize(w, correlated_hessian(12, 48), config);
  const QuantizedWeight rtn = quantize_rtn(w, UniformQuantizer(config.quantizer), 4);
  EXPECT_TRUE(at::equal(result.quantized.g_idx, rtn.g_idx));
  EXPECT_TRUE(at::equal(result.quantized.scales, rtn.scales));
  EXPECT_TRUE(at::equal(result.quantized.zeros, rtn.zeros));
  expect_consistent_with_codes(result.quantized);
}

TEST(Gptq, DeadColumnsAreZeroed) {
  at::manual_seed(4);
  const at::Tensor w = at::randn({4, 6}) + 1;
  at::Tensor h = correlated_hessian(6, 32);
  h.select(0, 2).zero_();
  h.select(1, 2).zero_();
  const GptqResult result = gptq_quantize(w, h, make_config(4, true));
  EXPECT_TRUE(at::isfinite(result.quantized.weight).all().item<bool>());
  // W[:, 2] = 0 quantizes exactly to 0 on a symmetric grid.
  EXPECT_TRUE((result.quantized.weight.select(1, 2) == 0).all().item<bool>());
}

TEST(Gptq, CholeskyFailureRetriesWithLargerDamp) {
  // H = [[1, 3], [3, 1]] has eigenvalues -2 and 4; mean(diag) = 1, so the damps 0.01, 0.1 and 1
  // fail and percdamp 0.01 * 10^3 = 10 (eigenvalues 8, 14) succeeds.
  const at::Tensor w = matrix({{0.3, -0.7}, {1.1, 0.2}});
  const at::Tensor h = matrix({{1, 3}, {3, 1}});
  GptqConfig config = make_config(4, false);
  const GptqResult result = gptq_quantize(w, h, config);
  EXPECT_NEAR(result.percdamp, 10.0, 1e-9);
  EXPECT_NEAR(result.damp, 10.0, 1e-9);
  EXPECT_TRUE(at::isfinite(result.quantized.weight).all().item<bool>());
  config.max_damp_retries = 2;
  EXPECT_THROW(gptq_quantize(w, h, config), std::runtime_error);
  EXPECT_THROW(gptq_quantize(w, matrix({{1, NAN}, {NAN, 1}}), config), InputError);
}

// Prepared in the Hessian's own storage (dead diagonals set there, the factor overwriting it)
// against a preparation that leaves H intact, bit for bit: with a dead column, with and without
// act-order, and through damping retries, each rebuilding the flipped H from its packed half
// (K = 301: the packing's rows are of every length, the flip has a middle entry).
void expect_same_preparation_in_place(const at::Tensor& h, const GptqConfig& config) {
  const PreparedHessian want = prepare_hessian(h, config);
  const at::Tensor consumed = h.clone();
  const PreparedHessian got = prepare_hessian_in_place(consumed, config);
  EXPECT_TRUE(at::equal(got.dead, want.dead));
  EXPECT_TRUE(at::equal(got.perm, want.perm));
  EXPECT_TRUE(at::equal(got.inv_perm, want.inv_perm));
  EXPECT_TRUE(at::equal(got.inverse.upper, want.inverse.upper));
  EXPECT_EQ(got.inverse.percdamp, want.inverse.percdamp);
  EXPECT_EQ(got.inverse.damp, want.inverse.damp);
  // Without act-order no permuted copy is made: the factor is H's own buffer.
  if (!config.act_order) EXPECT_EQ(got.inverse.upper.data_ptr(), consumed.data_ptr());
}

TEST(Gptq, PreparationInPlaceIsBitIdenticalThroughRetries) {
  at::manual_seed(8);
  at::Tensor h = correlated_hessian(301, 1200);
  h[5].zero_();
  h.select(1, 5).zero_();
  for (const bool act_order : {false, true}) {
    GptqConfig config;
    config.act_order = act_order;
    expect_same_preparation_in_place(h, config);
  }
  // Shifted below definiteness by more than the first damp (0.01 mean diag H), its diagonal
  // still positive: retried.
  const at::Tensor live = correlated_hessian(301, 1200);
  const double lowest = at::linalg_eigvalsh(live.to(at::kDouble)).min().item<double>();
  const at::Tensor indefinite =
      live - (lowest + 0.01 * live.diagonal().mean().item<double>()) * at::eye(301);
  GptqConfig config;
  ASSERT_GT(prepare_hessian(indefinite, config).inverse.percdamp, config.percdamp);
  expect_same_preparation_in_place(indefinite, config);
}

TEST(Gptq, KeepMask) {
  at::manual_seed(5);
  const at::Tensor w = at::randn({8, 20});
  const at::Tensor h = correlated_hessian(20, 64);
  GptqConfig config = make_config(3, false, 8);
  config.block_size = 8;
  config.act_order = true;
  const GptqResult plain = gptq_quantize(w, h, config);
  // All-false mask: bit-identical to plain GPTQ.
  const GptqResult unmasked = gptq_quantize(w, h, config, at::zeros(w.sizes(), at::kBool));
  EXPECT_TRUE(at::equal(unmasked.quantized.weight, plain.quantized.weight));
  EXPECT_TRUE(at::equal(unmasked.quantized.codes, plain.quantized.codes));
  EXPECT_EQ(unmasked.loss, plain.loss);
  // All-true mask: nothing is quantized, no error is propagated.
  const GptqResult kept = gptq_quantize(w, h, config, at::ones(w.sizes(), at::kBool));
  EXPECT_TRUE(at::equal(kept.quantized.weight, w));
  EXPECT_EQ(kept.loss, 0.0);
  // Kept elements of the first processed column are its original (not yet updated) values.
  at::Tensor mask = at::zeros(w.sizes(), at::kBool);
  const int64_t first = plain.perm[0].item<int64_t>();
  mask.select(1, first).fill_(true);
  const GptqResult partial = gptq_quantize(w, h, config, mask);
  EXPECT_TRUE(at::equal(partial.quantized.weight.select(1, first), w.select(1, first)));
  // Every other element is on its grid.
  QuantizedWeight rest = partial.quantized;
  rest.weight = rest.weight.clone();
  rest.weight.select(1, first).copy_(plain.quantized.weight.select(1, first));
  rest.codes = rest.codes.clone();
  rest.codes.select(1, first).copy_(plain.quantized.codes.select(1, first));
  expect_consistent_with_codes(rest);
}

TEST(Gptq, BeatsRtnOnCorrelatedInputs) {
  at::manual_seed(6);
  at::Tensor x;
  const at::Tensor h = correlated_hessian(64, 1024, &x);
  const at::Tensor w = at::randn({32, 64});
  const GptqConfig config = make_config(3, false);
  const GptqResult gptq = gptq_quantize(w, h, config);
  const QuantizedWeight rtn = quantize_rtn(w, UniformQuantizer(config.quantizer), -1);
  const auto output_error = [&](const at::Tensor& q) {
    return at::matmul(x, (w - q).t()).square().sum().item<double>();
  };
  const double gptq_error = output_error(gptq.quantized.weight);
  const double rtn_error = output_error(rtn.weight);
  EXPECT_LT(gptq_error, 0.8 * rtn_error) << "GPTQ " << gptq_error << " vs RTN " << rtn_error;
}

TEST(Gptq, RejectsMismatchedInputs) {
  const GptqConfig config = make_config(4, false);
  EXPECT_THROW(gptq_quantize(at::randn({2, 3}), at::eye(4), config), InputError);
  EXPECT_THROW(gptq_quantize(at::randn({2, 3}), at::eye(3), config, at::ones({2, 3})), InputError);
  GptqConfig bad_static = config;
  bad_static.static_groups = true;
  EXPECT_THROW(gptq_quantize(at::randn({2, 3}), at::eye(3), bad_static), InputError);
}

}  // namespace
}  // namespace ptq::quant
