// The attention quantizer (Q, K after a block Hadamard, V; per token and head) against values
// derived independently: the Sylvester sign rule, plain-loop attention in fp64, and the model's
// own full-precision logits for the orthogonal part.

#include "ptq/quant/attention_quantizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bitset>
#include <cmath>
#include <limits>
#include <vector>

#include "model/layers.h"
#include "model/model_test_utils.h"
#include "ptq/quant/input_transform.h"

namespace ptq::quant {
namespace {

// Entry (i, j) of the Sylvester Hadamard matrix of order n: (-1)^popcount(i & j) / sqrt(n).
double sylvester_entry(int64_t i, int64_t j, int64_t n) {
  const int sign = std::bitset<64>(static_cast<uint64_t>(i & j)).count() % 2 ? -1 : 1;
  return sign / std::sqrt(static_cast<double>(n));
}

TEST(AttentionQuantizer, HadamardIsSylvesterAndOrthogonal) {
  const at::Tensor h4 =
      at::tensor({1, 1, 1, 1, 1, -1, 1, -1, 1, 1, -1, -1, 1, -1, -1, 1}, at::kFloat).view({4, 4}) /
      2;
  EXPECT_TRUE(at::allclose(hadamard_matrix(4), h4, 0, 1e-7)) << hadamard_matrix(4);
  for (const int64_t n : {1, 2, 8, 64, 128}) {
    const at::Tensor h = hadamard_matrix(n);
    ASSERT_EQ(h.sizes(), at::IntArrayRef({n, n}));
    for (const int64_t i : {int64_t{0}, n / 2, n - 1}) {
      for (const int64_t j : {int64_t{0}, n / 3, n - 1}) {
        EXPECT_NEAR(h[i][j].item<double>(), sylvester_entry(i, j, n), 1e-7) << n;
      }
    }
    EXPECT_TRUE(at::allclose(at::matmul(h, h.t()), at::eye(n), 0, 1e-6)) << n;
  }
  EXPECT_THROW(hadamard_matrix(6), c10::Error);
}

TEST(AttentionQuantizer, BlockIsTheLargestPowerOfTwoDividingHeadDim) {
  EXPECT_EQ(hadamard_block_size(128), 128);
  EXPECT_EQ(hadamard_block_size(64), 64);
  EXPECT_EQ(hadamard_block_size(192), 64);
  EXPECT_EQ(hadamard_block_size(24), 8);  // the mistral fixture
  EXPECT_EQ(hadamard_block_size(8), 8);   // stories260K
  EXPECT_EQ(hadamard_block_size(12), 4);
  EXPECT_EQ(hadamard_block_size(7), 1);  // odd: the identity
}

TEST(AttentionQuantizer, BlockHadamardKeepsQKTransposeInFullPrecision) {
  at::manual_seed(5);
  const at::Tensor q = at::randn({2, 3, 5, 24});
  const at::Tensor k = at::randn({2, 3, 7, 24});
  const at::Tensor h = hadamard_matrix(hadamard_block_size(24));
  const at::Tensor qh = apply_blocks(q, h), kh = apply_blocks(k, h);
  EXPECT_TRUE(at::allclose(at::matmul(qh, kh.transpose(-1, -2)), at::matmul(q, k.transpose(-1, -2)),
                           0, 1e-5));
  // ... while changing Q and K themselves (it is not the identity).
  EXPECT_GT((qh - q).abs().max().item<double>(), 0.1);
}

TEST(AttentionQuantizer, SixteenBitsLeavesAttentionAlone) {
  const model::AttentionInputs maps = attention_quantizer({16, 1.0}, 8);
  EXPECT_FALSE(maps.query || maps.key || maps.value);
}

// Training through the quantizers (RUQuant stage 2): with the straight-through estimator a
// token's entries other than its min and max (which set its grid) pass the gradient of the
// identity, 1 for sum(quant(v)) (StraightThroughGradientByHand in activation_quantizer_test.cpp
// derives the rest). Plain rounding passes a gradient only through each token's grid (its min
// and max entries; round() has a zero gradient), which would leave q/k/v's reflections almost
// untrained.
TEST(AttentionQuantizer, StraightThroughRoundingPassesTheGradient) {
  at::manual_seed(6);
  for (const Rounding rounding : {Rounding::StraightThrough, Rounding::Plain}) {
    const model::AttentionInputs maps = attention_quantizer({4, 1.0}, 8, rounding);
    const at::Tensor v = at::randn({1, 1, 3, 8}).requires_grad_();
    maps.value(v).sum().backward();
    const at::Tensor values = v.detach();
    const at::Tensor inner =
        values.ne(values.amax(-1, true)).logical_and(values.ne(values.amin(-1, true)));
    const at::Tensor inner_grad = v.grad().masked_select(inner);
    ASSERT_EQ(inner_grad.numel(), 3 * 6);
    if (rounding == Rounding::StraightThrough) {
      EXPECT_TRUE(at::allclose(inner_grad, at::ones_like(inner_grad), 0, 0)) << v.grad();
    } else {
      EXPECT_EQ(inner_grad.ne(0).sum().item<int64_t>(), 0) << v.grad();
    }
  }
}

// ---- a small quantized attention against plain loops ---------------------------------------

using Grid = std::vector<std::vector<std::vector<std::vector<double>>>>;  // [B][H][T][hd]

Grid to_grid(const at::Tensor& x) {
  const at::Tensor d = x.to(at::kDouble).contiguous();
  Grid g(d.size(0), std::vector<std::vector<std::vector<double>>>(
                        d.size(1), std::vector<std::vector<double>>(
                                       d.size(2), std::vector<double>(d.size(3)))));
  for (int64_t b = 0; b < d.size(0); ++b)
    for (int64_t h = 0; h < d.size(1); ++h)
      for (int64_t t = 0; t < d.size(2); ++t)
        for (int64_t c = 0; c < d.size(3); ++c) g[b][h][t][c] = d[b][h][t][c].item<double>();
  return g;
}

// Each `block` channels times the Sylvester matrix, by the sign rule.
std::vector<double> hadamard_blocks(const std::vector<double>& x, int64_t block) {
  std::vector<double> out(x.size(), 0.0);
  for (size_t start = 0; start < x.size(); start += block)
    for (int64_t j = 0; j < block; ++j)
      for (int64_t i = 0; i < block; ++i)
        out[start + j] += x[start + i] * sylvester_entry(i, j, block);
  return out;
}

// Asymmetric min-max at `bits` over the vector (activation_quantizer.h), round half to even.
std::vector<double> quantize_token(const std::vector<double>& x, int bits) {
  double lo = x[0], hi = x[0];
  for (double v : x) lo = std::min(lo, v), hi = std::max(hi, v);
  const double maxq = (1 << bits) - 1;
  const double scale = std::max((hi - lo) / maxq, 1e-5);
  const double zero = std::nearbyint(-lo / scale);
  std::vector<double> out;
  for (double v : x) {
    const double code = std::clamp(std::nearbyint(v / scale) + zero, 0.0, maxq);
    out.push_back((code - zero) * scale);
  }
  return out;
}

TEST(AttentionQuantizer, QuantizedAttentionMatchesAPlainLoopReference) {
  at::manual_seed(11);
  const int64_t batch = 2, heads = 4, kv_heads = 2, tokens = 6, hd = 8, bits = 3;
  const at::Tensor q = at::randn({batch, heads, tokens, hd});
  const at::Tensor k = at::randn({batch, kv_heads, tokens, hd});
  const at::Tensor v = at::randn({batch, kv_heads, tokens, hd});
  const model::AttentionInputs maps = attention_quantizer({bits, 1.0}, hd);
  const at::Tensor got =
      model::causal_attention(maps.query(q), maps.key(k), maps.value(v), 0, std::nullopt);

  Grid gq = to_grid(q), gk = to_grid(k), gv = to_grid(v);
  for (auto& per_batch : gq)
    for (auto& head : per_batch)
      for (auto& token : head) token = quantize_token(hadamard_blocks(token, hd), bits);
  for (auto& per_batch : gk)
    for (auto& head : per_batch)
      for (auto& token : head) token = quantize_token(hadamard_blocks(token, hd), bits);
  for (auto& per_batch : gv)
    for (auto& head : per_batch)
      for (auto& token : head) token = quantize_token(token, bits);
  const int64_t group = heads / kv_heads;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < tokens; ++i) {
        std::vector<double> p(i + 1);  // causal: keys 0..i, probabilities in full precision
        double top = -std::numeric_limits<double>::infinity(), sum = 0;
        for (int64_t j = 0; j <= i; ++j) {
          for (int64_t c = 0; c < hd; ++c) p[j] += gq[b][h][i][c] * gk[b][h / group][j][c];
          p[j] /= std::sqrt(static_cast<double>(hd));
          top = std::max(top, p[j]);
        }
        for (double& s : p) sum += (s = std::exp(s - top));
        for (int64_t c = 0; c < hd; ++c) {
          double want = 0;
          for (int64_t j = 0; j <= i; ++j) want += p[j] / sum * gv[b][h / group][j][c];
          EXPECT_NEAR(got[b][i][h * hd + c].item<double>(), want, 1e-5)
              << "batch " << b << " head " << h << " query " << i << " channel " << c;
        }
      }
    }
  }
}

// ---- the hook in every model family -----------------------------------------------------

model::AttentionInputs hadamard_only(const at::Tensor& h, bool keys_too) {
  const model::TensorMap rotate = [h](const at::Tensor& x) { return apply_blocks(x, h); };
  return {rotate, keys_too ? rotate : model::TensorMap(), {}};
}

// The hook sees Q and K after RoPE: the same Hadamard on both leaves the logits as they are,
// on the queries alone it does not (so the hook is applied).
TEST(AttentionQuantizerHook, HadamardOnQueriesAndKeysKeepsEveryFamilysLogits) {
  for (const std::string& name : test::model_fixtures()) {
    SCOPED_TRACE(name);
    const auto lm = model::load_causal_lm(test::fixture_model(name));
    const at::Tensor ids = test::load_reference(name).input_ids;
    const at::Tensor plain = lm->forward(ids);
    const at::Tensor h = hadamard_matrix(hadamard_block_size(lm->config().head_dim));
    for (int64_t i = 0; i < lm->num_layers(); ++i) {
      lm->set_attention_quantizer(i, hadamard_only(h, /*keys_too=*/true));
    }
    EXPECT_LT(test::relative_max_diff(lm->forward(ids), plain), 1e-5);
    for (int64_t i = 0; i < lm->num_layers(); ++i) {
      lm->set_attention_quantizer(i, hadamard_only(h, /*keys_too=*/false));
    }
    EXPECT_GT(test::relative_max_diff(lm->forward(ids), plain), 1e-3);
  }
}

// With the KV cache (ptq generate), the cache holds the quantized keys and values: at most
// 2^2 levels per token and head (of at least 8 channels); decoding token by token gives the
// full forward's logits.
TEST(AttentionQuantizerHook, CacheHoldsQuantizedKeysAndValues) {
  for (const std::string& name : {"llama", "mistral", "opt", "gpt_neox"}) {
    SCOPED_TRACE(name);
    const auto lm = model::load_causal_lm(test::fixture_model(name));
    const at::Tensor ids = test::load_reference(name).input_ids;
    const at::Tensor plain = lm->forward(ids);
    for (int64_t i = 0; i < lm->num_layers(); ++i) {
      lm->set_attention_quantizer(i, attention_quantizer({2, 1.0}, lm->config().head_dim));
    }
    const at::Tensor full = lm->forward(ids);
    EXPECT_GT(test::relative_max_diff(full, plain), 1e-3);
    model::KVCache cache;
    std::vector<at::Tensor> steps = {lm->forward(ids.narrow(1, 0, 3), &cache)};
    for (int64_t t = 3; t < ids.size(1); ++t)
      steps.push_back(lm->forward(ids.narrow(1, t, 1), &cache));
    EXPECT_LT(test::relative_max_diff(at::cat(steps, 1), full), 1e-5);
    for (const at::Tensor& cached : {cache.keys.back(), cache.values.back()}) {
      const at::Tensor rows = cached.reshape({-1, cached.size(-1)});
      for (int64_t r = 0; r < rows.size(0); ++r) {
        EXPECT_LE(std::get<0>(at::_unique(rows[r])).numel(), 4) << "token-head row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace ptq::quant
