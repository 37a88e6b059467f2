#include "ptq/eval/generate.h"

#include <gtest/gtest.h>

#include "eval/cyclic_lm.h"
#include "ptq/common/error.h"

namespace ptq::eval {
namespace {

test::CyclicLM kModel(/*vocab=*/4, /*favored_weight=*/5.0);

GenerateOptions options_for(int64_t new_tokens, double temperature, uint64_t seed = 0) {
  GenerateOptions options;
  options.max_new_tokens = new_tokens;
  options.temperature = temperature;
  options.seed = seed;
  return options;
}

double favored_fraction(const std::vector<int32_t>& ids) {
  int64_t hits = 0;
  for (size_t i = 1; i < ids.size(); ++i) hits += ids[i] == (ids[i - 1] + 1) % 4;
  return static_cast<double>(hits) / static_cast<double>(ids.size() - 1);
}

TEST(Generate, GreedyTakesTheMostLikelyTokenEachStep) {
  EXPECT_EQ(generate(kModel, {2}, options_for(5, 0.0)), (std::vector<int32_t>{2, 3, 0, 1, 2, 3}));
  EXPECT_EQ(generate(kModel, {1, 1}, options_for(2, 0.0)), (std::vector<int32_t>{1, 1, 2, 3}));
  EXPECT_EQ(generate(kModel, {1}, options_for(0, 0.0)), (std::vector<int32_t>{1}));
}

TEST(Generate, StopsAfterEos) {
  GenerateOptions options = options_for(10, 0.0);
  options.eos_id = 0;
  EXPECT_EQ(generate(kModel, {2}, options), (std::vector<int32_t>{2, 3, 0}));
}

TEST(Generate, SameSeedGivesTheSameIds) {
  const auto first = generate(kModel, {0}, options_for(200, 1.0, /*seed=*/7));
  EXPECT_EQ(first, generate(kModel, {0}, options_for(200, 1.0, /*seed=*/7)));
  EXPECT_NE(first, generate(kModel, {0}, options_for(200, 1.0, /*seed=*/8)));
}

// p(favored) = w^(1/T) / (w^(1/T) + 3): 5/8 at T = 1, 25/28 at T = 0.5; 4000 draws give a
// standard error below 0.008.
TEST(Generate, SamplesFromTheTemperatureScaledSoftmax) {
  EXPECT_NEAR(favored_fraction(generate(kModel, {0}, options_for(4000, 1.0, 1))), 5.0 / 8, 0.04);
  EXPECT_NEAR(favored_fraction(generate(kModel, {0}, options_for(4000, 0.5, 2))), 25.0 / 28, 0.03);
}

TEST(Generate, RejectsInvalidRequests) {
  EXPECT_THROW(generate(kModel, {}, options_for(1, 0.0)), InputError);
  EXPECT_THROW(generate(kModel, {4}, options_for(1, 0.0)), InputError);
  EXPECT_THROW(generate(kModel, {0}, options_for(1, -1.0)), InputError);
  EXPECT_THROW(generate(kModel, {0}, options_for(4096, 0.0)), InputError);
}

}  // namespace
}  // namespace ptq::eval
