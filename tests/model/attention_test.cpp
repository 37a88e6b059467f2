// causal_attention (query-blocked, mask added inside the score product) against a naive
// fp64 reference: full scores, mask, softmax, product with v.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>

#include "model/layers.h"

namespace ptq::model {
namespace {

// softmax(cap(q k^T * scale) + mask) v in fp64 with k/v repeated per query-head group; scale
// 1/sqrt(hd) and no cap unless given, cap(s) = softcap * tanh(s / softcap).
at::Tensor naive_attention(const at::Tensor& q,
                           const at::Tensor& k,
                           const at::Tensor& v,
                           int64_t offset,
                           std::optional<int64_t> window,
                           const AttentionScores& scoring = {}) {
  const int64_t group = q.size(1) / k.size(1);
  const at::Tensor q64 = q.to(at::kDouble);
  const at::Tensor k64 = k.to(at::kDouble).repeat_interleave(group, 1);
  const at::Tensor v64 = v.to(at::kDouble).repeat_interleave(group, 1);
  const double scale = scoring.scale.value_or(1.0 / std::sqrt(q.size(3)));
  at::Tensor scores = at::matmul(q64, k64.transpose(-1, -2)) * scale;
  if (scoring.softcap) scores = at::tanh(scores / *scoring.softcap) * *scoring.softcap;
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  const at::Tensor query_pos = at::arange(offset, offset + q.size(2), i64).unsqueeze(1);
  const at::Tensor key_pos = at::arange(k.size(2), i64).unsqueeze(0);
  at::Tensor hidden = key_pos > query_pos;
  if (window) hidden = hidden.logical_or(query_pos - key_pos >= *window);
  scores = scores.masked_fill(hidden, -std::numeric_limits<double>::infinity());
  return merge_heads(at::matmul(at::softmax(scores, -1), v64));
}

// Random q [B, heads, T, hd] after `prefix` cached positions, k/v over prefix + T positions.
void expect_matches_naive(int64_t queries,
                          int64_t heads,
                          int64_t kv_heads,
                          int64_t prefix,
                          std::optional<int64_t> window) {
  at::manual_seed(queries * 31 + heads * 7 + prefix);
  const int64_t batch = 2, dim = 32;
  const at::Tensor q = at::randn({batch, heads, queries, dim});
  const at::Tensor k = at::randn({batch, kv_heads, prefix + queries, dim});
  const at::Tensor v = at::randn({batch, kv_heads, prefix + queries, dim});
  const at::Tensor got = causal_attention(q, k, v, prefix, window);
  const at::Tensor want = naive_attention(q, k, v, prefix, window);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_EQ(got.scalar_type(), at::kFloat);
  EXPECT_LT((got.to(at::kDouble) - want).abs().max().item<double>(), 1e-5);
}

// The query block is 256 rows: below, at and above it (a partial last block).
TEST(AttentionTest, MatchesNaiveBelowBlockSize) { expect_matches_naive(100, 4, 4, 0, {}); }
TEST(AttentionTest, MatchesNaiveAtBlockSize) { expect_matches_naive(256, 4, 4, 0, {}); }
TEST(AttentionTest, MatchesNaiveAboveBlockSize) { expect_matches_naive(600, 2, 2, 0, {}); }

TEST(AttentionTest, MatchesNaiveWithGroupedQueryHeads) { expect_matches_naive(300, 8, 2, 0, {}); }

// Queries attend to every cached key and causally to the new ones.
TEST(AttentionTest, MatchesNaiveWithCachedPrefix) { expect_matches_naive(300, 4, 2, 70, {}); }
TEST(AttentionTest, MatchesNaiveForSingleStepDecode) { expect_matches_naive(1, 4, 2, 500, {}); }

// Windows shorter than a block, longer than one and spanning a cached prefix.
TEST(AttentionTest, MatchesNaiveWithShortSlidingWindow) { expect_matches_naive(600, 4, 2, 0, 40); }
TEST(AttentionTest, MatchesNaiveWithLongSlidingWindow) { expect_matches_naive(600, 4, 4, 0, 300); }
TEST(AttentionTest, MatchesNaiveWithSlidingWindowAndCache) {
  expect_matches_naive(300, 4, 2, 450, 200);
}

// Gemma's scoring: a scale other than 1/sqrt(hd) and a cap that bites (scores of unit normals
// over 32 dims reach about 4 * sqrt(32) * 0.5 = 11, against a cap of 5), over a window and a
// cached prefix.
TEST(AttentionTest, MatchesNaiveWithScaleAndSoftcap) {
  at::manual_seed(5);
  const AttentionScores scoring{/*scale=*/0.5, /*softcap=*/5.0};
  const at::Tensor q = at::randn({2, 4, 300, 32});
  const at::Tensor k = at::randn({2, 2, 340, 32}), v = at::randn({2, 2, 340, 32});
  const at::Tensor want = naive_attention(q, k, v, 40, 100, scoring);
  const at::Tensor got = causal_attention(q, k, v, 40, 100, scoring);
  EXPECT_LT((got.to(at::kDouble) - want).abs().max().item<double>(), 1e-5);
  // The cap matters: without it the same scores attend differently.
  const at::Tensor uncapped = naive_attention(q, k, v, 40, 100, {0.5, std::nullopt});
  EXPECT_GT((uncapped - want).abs().max().item<double>(), 1e-2);
}

// split_heads hands over transposed views; the result must not depend on the layout.
TEST(AttentionTest, AcceptsTransposedViews) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({1, 280, 4 * 16});
  const at::Tensor q = split_heads(x, 4), k = split_heads(x * 0.5, 4), v = split_heads(x, 4);
  const at::Tensor got = causal_attention(q, k, v, 0, {});
  EXPECT_LT((got.to(at::kDouble) - naive_attention(q, k, v, 0, {})).abs().max().item<double>(),
            1e-5);
}

}  // namespace
}  // namespace ptq::model
