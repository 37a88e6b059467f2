// KL divergence statistics (ptq/eval/kl_divergence.h) on hand-computed distributions and on a
// model compared with itself.

#include "ptq/eval/kl_divergence.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "test_utils.h"

namespace ptq::test {
namespace {

at::Tensor log_probs(std::vector<std::vector<double>> rows) {
  std::vector<double> flat;
  for (const auto& r : rows) {
    for (double p : r) flat.push_back(std::log(p));
  }
  return at::tensor(flat, at::kDouble).view({static_cast<int64_t>(rows.size()), -1});
}

// Two tokens over a two-entry vocabulary:
//   token 1: base (0.75, 0.25), model (0.25, 0.75), target 0
//     KLD = 0.75 ln 3 + 0.25 ln(1/3) = 0.5 ln 3; top tokens differ; delta p = 0.25 - 0.75 = -0.5
//   token 2: base (0.8, 0.2), model (0.6, 0.4), target 1
//     KLD = 0.8 ln(4/3) + 0.2 ln(1/2); same top token; delta p = 0.4 - 0.2 = 0.2
// ln(PPL(model)/PPL(base)) = (ln(0.75 / 0.25) + ln(0.2 / 0.4)) / 2 = ln(1.5) / 2.
TEST(KlDivergence, HandComputedTwoTokens) {
  eval::KlAccumulator acc;
  acc.add(log_probs({{0.75, 0.25}, {0.8, 0.2}}), log_probs({{0.25, 0.75}, {0.6, 0.4}}),
          at::tensor(std::vector<int64_t>{0, 1}));
  const eval::KlResult r = acc.result();
  const double kld1 = 0.5 * std::log(3.0);
  const double kld2 = 0.8 * std::log(4.0 / 3.0) + 0.2 * std::log(0.5);
  EXPECT_EQ(r.tokens, 2);
  EXPECT_NEAR(r.mean_kld, (kld1 + kld2) / 2, 1e-6);
  // With two values, sqrt((E[x^2] - E[x]^2) / (n - 1)) = |a - b| / 2.
  EXPECT_NEAR(r.mean_kld_stderr, (kld1 - kld2) / 2, 1e-6);
  EXPECT_NEAR(r.median_kld, (kld1 + kld2) / 2, 1e-6);
  EXPECT_NEAR(r.p99_kld, 0.01 * kld2 + 0.99 * kld1, 1e-6);
  EXPECT_NEAR(r.max_kld, kld1, 1e-6);
  EXPECT_DOUBLE_EQ(r.top1_agreement, 0.5);
  EXPECT_NEAR(r.top1_agreement_stderr, 0.5, 1e-12);  // sqrt(0.5 * 0.5 / 1)
  EXPECT_NEAR(r.mean_delta_p, -0.15, 1e-6);
  EXPECT_NEAR(r.mean_delta_p_stderr, 0.35, 1e-6);  // |-0.5 - 0.2| / 2
  EXPECT_NEAR(r.rms_delta_p, std::sqrt((0.25 + 0.04) / 2), 1e-6);
  EXPECT_NEAR(r.ln_ppl_ratio, std::log(1.5) / 2, 1e-6);
  EXPECT_NEAR(r.perplexity, std::exp((-std::log(0.25) - std::log(0.4)) / 2), 1e-5);
  EXPECT_NEAR(r.base_perplexity, std::exp((-std::log(0.75) - std::log(0.2)) / 2), 1e-5);
}

// A model against itself: every KLD is 0, the top tokens always agree, delta p is 0.
TEST(KlDivergence, ModelAgainstItselfIsZero) {
  TempDir tmp;
  const auto json = tmp / "kl.json";
  const std::string model = (shared_dir() / "models" / "stories260K-hf").string();
  const CliResult r = run_cli(
      {"eval", "--model", model, "--kl-base", model, "--dataset",
       "tokens:" +
           (shared_dir() / "models" / "stories260K" / "samples-eval-64x512-seed2.i32").string(),
       "--max-segments", "2", "--report", json.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto kl = nlohmann::json::parse(read_file(json)).at("kl_divergence");
  EXPECT_EQ(kl.at("tokens").get<int64_t>(), 2 * 511);
  EXPECT_EQ(kl.at("mean_kld").get<double>(), 0.0);
  EXPECT_EQ(kl.at("p99_kld").get<double>(), 0.0);
  EXPECT_EQ(kl.at("top1_agreement").get<double>(), 1.0);
  EXPECT_EQ(kl.at("mean_delta_p").get<double>(), 0.0);
  EXPECT_EQ(kl.at("rms_delta_p").get<double>(), 0.0);
  EXPECT_EQ(kl.at("ln_ppl_ratio").get<double>(), 0.0);
  EXPECT_NE(r.out.find("top1_agreement 1.000000"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ptq::test
