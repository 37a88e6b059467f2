#include "ptq/eval/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>

#include "eval/cyclic_lm.h"
#include "ptq/common/error.h"

namespace ptq::eval {
namespace {

// With vocab 4 and weight 5: a predicted (x + 1) % 4 costs log(8/5), any other id log(8).
test::CyclicLM kModel(/*vocab=*/4, /*favored_weight=*/5.0);
const double kHit = std::log(8.0 / 5.0);
const double kMiss = std::log(8.0);

// Windows of 4: [0 1 2 3] has 3 hits; [2 3 0 0] 2 hits and 1 miss; the tail [1 1] (a miss)
// is dropped, and so are the transitions across window boundaries (3 -> 2 would miss).
const std::vector<int32_t> kIds = {0, 1, 2, 3, 2, 3, 0, 0, 1, 1};

PerplexityOptions windows_of(int64_t seqlen) {
  PerplexityOptions options;
  options.seqlen = seqlen;
  return options;
}

TEST(Perplexity, MatchesHandComputedMeanOverWholeWindows) {
  const PerplexityResult r = evaluate_perplexity(kModel, kIds, windows_of(4));
  const double mean = (5 * kHit + 1 * kMiss) / 6;
  EXPECT_NEAR(r.mean_nll, mean, 1e-6);
  EXPECT_NEAR(r.perplexity, std::exp(mean), 1e-5);
  EXPECT_EQ(r.segments, 2);
  EXPECT_EQ(r.tokens, 8);
  EXPECT_EQ(r.seqlen, 4);
  EXPECT_GT(r.tokens_per_second, 0.0);
}

TEST(Perplexity, MaxSegmentsKeepsTheFirstWindows) {
  PerplexityOptions options = windows_of(4);
  options.max_segments = 1;
  const PerplexityResult r = evaluate_perplexity(kModel, kIds, options);
  EXPECT_EQ(r.segments, 1);
  EXPECT_NEAR(r.perplexity, 1.6, 1e-5);
}

TEST(Perplexity, CutsFloorOfNOverSeqlenWindows) {
  EXPECT_EQ(evaluate_perplexity(kModel, kIds, windows_of(3)).segments, 3);
  EXPECT_EQ(evaluate_perplexity(kModel, kIds, windows_of(5)).segments, 2);
  EXPECT_EQ(evaluate_perplexity(kModel, kIds, windows_of(10)).segments, 1);
}

TEST(Perplexity, BatchSizeDoesNotChangeTheResult) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 200; ++i) ids.push_back((i * i + i / 3) % 4);
  PerplexityOptions one_by_one = windows_of(8);
  one_by_one.batch_size = 1;
  PerplexityOptions batched = windows_of(8);
  batched.batch_size = 7;  // does not divide the 25 windows
  EXPECT_NEAR(evaluate_perplexity(kModel, ids, one_by_one).perplexity,
              evaluate_perplexity(kModel, ids, batched).perplexity, 1e-9);
}

TEST(Perplexity, RejectsFewerTokensThanSeqlen) {
  EXPECT_THROW(evaluate_perplexity(kModel, kIds, windows_of(11)), InputError);
  EXPECT_THROW(evaluate_perplexity(kModel, {}, windows_of(4)), InputError);
}

TEST(Perplexity, RejectsIdsOutsideTheVocabulary) {
  EXPECT_THROW(evaluate_perplexity(kModel, {0, 1, 4, 3}, windows_of(4)), InputError);
  EXPECT_THROW(evaluate_perplexity(kModel, {0, -1, 2, 3}, windows_of(4)), InputError);
}

TEST(Perplexity, RowsAreScoredAsWholeSegments) {
  data::TokenRows rows;
  rows.ids = {0, 1, 2, 3, 2, 3, 0, 0};
  rows.rows = 2;
  rows.row_len = 4;
  const PerplexityResult r = evaluate_rows(kModel, rows, windows_of(/*ignored=*/2));
  EXPECT_EQ(r.segments, 2);
  EXPECT_EQ(r.seqlen, 4);
  EXPECT_NEAR(r.mean_nll, (5 * kHit + 1 * kMiss) / 6, 1e-6);
}

TEST(Perplexity, RowsRejectAnEmptySet) {
  data::TokenRows rows;
  rows.row_len = 4;
  EXPECT_THROW(evaluate_rows(kModel, rows, {}), InputError);
}

}  // namespace
}  // namespace ptq::eval
