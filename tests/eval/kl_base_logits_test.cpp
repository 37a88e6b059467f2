// KL divergence against base distributions written to a file (ptq eval --save-logits, then
// --kl-base-logits; ptq/eval/logits_file.h): the same statistics as --kl-base for full
// distributions, a hand-computed top-k case, and the files the second run must refuse.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ptq/eval/kl_divergence.h"
#include "ptq/eval/logits_file.h"
#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

std::string stories_model() { return (shared_dir() / "models" / "stories260K-hf").string(); }

std::string token_set(const std::string& name) {
  return "tokens:" + (shared_dir() / "models" / "stories260K" / name).string();
}

const std::string kEvalRows = "samples-eval-64x512-seed2.i32";

// stories260K RTN 4-bit groups of 32 in tmp/rtn (RTN reads no calibration rows but the command
// takes them).
std::string quantize_rtn(const TempDir& tmp) {
  const fs::path out = tmp / "rtn";
  const CliResult q = run_cli({"--threads", "1", "quantize", "--model", stories_model(), "--method",
                               "rtn", "--wbits", "4", "--group-size", "32", "--calib",
                               token_set("samples-calib-128x512-seed1.i32"), "--nsamples", "8",
                               "--out", out.string()});
  EXPECT_EQ(q.exit_code, 0) << q.err;
  return out.string();
}

nlohmann::json kl_json(const fs::path& json) {
  return nlohmann::json::parse(read_file(json)).at("kl_divergence");
}

CliResult save_logits(const fs::path& file, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--threads",
                                   "1",
                                   "eval",
                                   "--model",
                                   stories_model(),
                                   "--dataset",
                                   token_set(kEvalRows),
                                   "--save-logits",
                                   file.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_cli(args);
}

// Both runs take the same forward passes (perplexity.h's for_each_batch_logits, the same
// batches) and the file holds the fp32 log_softmax --kl-base computes from the base logits,
// so every statistic is bit-identical.
TEST(KlBaseLogits, FullDistributionsFileGivesTheKlBaseStatistics) {
  TempDir tmp;
  const std::string q = quantize_rtn(tmp);
  const CliResult direct =
      run_cli({"--threads", "1", "eval", "--model", q, "--kl-base", stories_model(), "--dataset",
               token_set(kEvalRows), "--max-segments", "4", "--report", (tmp / "a.json").string()});
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  const CliResult saved = save_logits(tmp / "fp.logits", {"--max-segments", "4"});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_NE(saved.out.find("top_k 0\n"), std::string::npos) << saved.out;  // 512 <= 4096: full
  EXPECT_FALSE(fs::exists(tmp / "fp.logits.tmp"));
  // 16-byte preamble + header + 4 x 511 predictions x 512 fp32.
  EXPECT_GT(fs::file_size(tmp / "fp.logits"), 4u * 511 * 512 * 4);
  EXPECT_LT(fs::file_size(tmp / "fp.logits"), 4u * 511 * 512 * 4 + 1024);
  const CliResult from_file =
      run_cli({"--threads", "1", "eval", "--model", q, "--kl-base-logits",
               (tmp / "fp.logits").string(), "--dataset", token_set(kEvalRows), "--max-segments",
               "4", "--report", (tmp / "b.json").string()});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  nlohmann::json a = kl_json(tmp / "a.json"), b = kl_json(tmp / "b.json");
  EXPECT_EQ(b.at("tokens").get<int64_t>(), 4 * 511);
  EXPECT_GT(b.at("mean_kld").get<double>(), 0.1);  // RTN w4 is far from the original
  a.erase("seconds");
  b.erase("seconds");
  EXPECT_EQ(a, b);
}

// The self-sampled eval rows are drawn from the FP model, so E[KLD] = E[ln p_fp - ln p_q] =
// ln(PPL(Q) / PPL(FP)) in expectation: on all 32,704 predictions the two agree to within the
// mean KLD's standard error (docs/kl-divergence.md).
TEST(KlBaseLogits, RtnMeanKldIsTheLogPerplexityRatioWithinItsStandardError) {
  TempDir tmp;
  const std::string q = quantize_rtn(tmp);
  ASSERT_EQ(save_logits(tmp / "fp.logits", {}).exit_code, 0);
  const CliResult r = run_cli({"--threads", "1", "eval", "--model", q, "--kl-base-logits",
                               (tmp / "fp.logits").string(), "--dataset", token_set(kEvalRows),
                               "--report", (tmp / "kl.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json kl = kl_json(tmp / "kl.json");
  EXPECT_EQ(kl.at("tokens").get<int64_t>(), 64 * 511);
  EXPECT_NEAR(kl.at("mean_kld").get<double>(), kl.at("ln_ppl_ratio").get<double>(),
              kl.at("mean_kld_stderr").get<double>());
  EXPECT_NEAR(kl.at("base_perplexity").get<double>(), 15.68007,
              5e-5);  // docs/test-data.md's FP value
}

// A top-k file: the coarsened KLD is below the full one, everything else is exact.
TEST(KlBaseLogits, TopKFileBoundsKldFromBelowAndKeepsTheOtherStatistics) {
  TempDir tmp;
  const std::string q = quantize_rtn(tmp);
  const std::vector<std::string> rows = {"--max-segments", "2"};
  ASSERT_EQ(save_logits(tmp / "full.logits", rows).exit_code, 0);
  std::vector<std::string> top = rows;
  top.insert(top.end(), {"--top-k", "8"});
  const CliResult saved = save_logits(tmp / "top8.logits", top);
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_NE(saved.out.find("top_k 8\n"), std::string::npos) << saved.out;
  // Records of 8 x (4 + 4) + 8 bytes instead of 512 x 4; the headers are as long ("top_k":8).
  EXPECT_EQ(fs::file_size(tmp / "full.logits") - fs::file_size(tmp / "top8.logits"),
            2u * 511 * (512 * 4 - (8 * 8 + 8)));
  for (const char* name : {"full", "top8"}) {
    const CliResult r = run_cli({"--threads", "1", "eval", "--model", q, "--kl-base-logits",
                                 (tmp / (std::string(name) + ".logits")).string(), "--dataset",
                                 token_set(kEvalRows), "--max-segments", "2", "--report",
                                 (tmp / (std::string(name) + ".json")).string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const nlohmann::json full = kl_json(tmp / "full.json"), top8 = kl_json(tmp / "top8.json");
  EXPECT_EQ(full.at("base_tail_mass").get<double>(), 0.0);
  EXPECT_GT(top8.at("base_tail_mass").get<double>(), 0.0);
  EXPECT_LT(top8.at("mean_kld").get<double>(), full.at("mean_kld").get<double>());
  for (const char* key : {"top1_agreement", "ln_ppl_ratio", "mean_delta_p", "rms_delta_p",
                          "perplexity", "base_perplexity"}) {
    EXPECT_EQ(top8.at(key), full.at(key)) << key;
  }
}

at::Tensor log_of(const std::vector<std::vector<double>>& rows) {
  std::vector<float> flat;
  for (const auto& r : rows) {
    for (double p : r) flat.push_back(static_cast<float>(std::log(p)));
  }
  return at::tensor(flat).view({static_cast<int64_t>(rows.size()), -1});
}

// Two predictions over four tokens, base distributions kept as their top 2:
//   1: base (0.5, 0.3, 0.15, 0.05), model (0.35, 0.45, 0.1, 0.1), target 2
//      top {0, 1}, rest r = 0.2, model rest 0.2:
//      KLD_2 = 0.5 ln(0.5/0.35) + 0.3 ln(0.3/0.45) + 0.2 ln(0.2/0.2); top tokens 0 vs 1
//      delta p = 0.1 - 0.15
//   2: base (0.1, 0.2, 0.3, 0.4), model uniform, target 0
//      top {3, 2}, r = 0.3, model rest 0.5:
//      KLD_2 = 0.4 ln(1.6) + 0.3 ln(1.2) + 0.3 ln(0.6); top tokens 0 vs 3
//      delta p = 0.25 - 0.1 (the target is outside the top 2: its stored log-prob)
// The full KLD exceeds KLD_2 by r x KL of the renormalised rests:
//   1: 0.2 (0.75 ln(0.75/0.5) + 0.25 ln(0.25/0.5)); 2: 0.3 (1/3 ln(2/3) + 2/3 ln(4/3)).
TEST(KlBaseLogits, TopKHandComputedTwoPredictions) {
  const at::Tensor base = log_of({{0.5, 0.3, 0.15, 0.05}, {0.1, 0.2, 0.3, 0.4}});
  const at::Tensor model = log_of({{0.35, 0.45, 0.1, 0.1}, {0.25, 0.25, 0.25, 0.25}});
  const at::Tensor targets = at::tensor(std::vector<int64_t>{2, 0});
  const eval::TopKLogProbs top = eval::top_k_log_probs(base, targets, 2);
  EXPECT_TRUE(at::equal(top.ids, at::tensor(std::vector<int64_t>{0, 1, 3, 2}).view({2, 2})));
  EXPECT_NEAR(top.log_rest[0].item<double>(), std::log(0.2), 1e-6);
  EXPECT_NEAR(top.log_rest[1].item<double>(), std::log(0.3), 1e-6);

  // Through a file and back, bit for bit.
  TempDir tmp;
  eval::LogitsFileHeader header;
  header.dataset = "hand";
  header.segments = 1;
  header.seqlen = 3;
  header.vocab = 4;
  header.top_k = 2;
  header.token_hash = "0";
  {
    eval::LogitsFileWriter out((tmp / "t.logits").string(), header);
    out.write_top_k(top);
    out.commit();
  }
  eval::LogitsFileReader in((tmp / "t.logits").string());
  const eval::TopKLogProbs back = in.read_top_k(2);
  EXPECT_TRUE(at::equal(back.log_probs, top.log_probs));
  EXPECT_TRUE(at::equal(back.ids, top.ids));
  EXPECT_TRUE(at::equal(back.log_rest, top.log_rest));
  EXPECT_TRUE(at::equal(back.log_target, top.log_target));

  eval::KlAccumulator acc;
  acc.add_top_k(back, model, targets);
  const eval::KlResult r = acc.result();
  const double kld1 = 0.5 * std::log(0.5 / 0.35) + 0.3 * std::log(0.3 / 0.45);
  const double kld2 = 0.4 * std::log(1.6) + 0.3 * std::log(1.2) + 0.3 * std::log(0.6);
  EXPECT_NEAR(r.mean_kld, (kld1 + kld2) / 2, 1e-6);
  EXPECT_NEAR(r.max_kld, std::max(kld1, kld2), 1e-6);
  EXPECT_DOUBLE_EQ(r.top1_agreement, 0.0);
  EXPECT_NEAR(r.mean_delta_p, (-0.05 + 0.15) / 2, 1e-6);
  EXPECT_NEAR(r.ln_ppl_ratio, (std::log(0.15 / 0.1) + std::log(0.1 / 0.25)) / 2, 1e-6);
  EXPECT_NEAR(r.mean_base_tail_mass, 0.25, 1e-6);

  eval::KlAccumulator full;
  full.add_log_probs(base, model, targets);
  const double gap1 = 0.2 * (0.75 * std::log(1.5) + 0.25 * std::log(0.5));
  const double gap2 = 0.3 * (std::log(2.0 / 3.0) / 3 + 2 * std::log(4.0 / 3.0) / 3);
  EXPECT_NEAR(full.result().mean_kld - r.mean_kld, (gap1 + gap2) / 2, 1e-6);
}

TEST(KlBaseLogits, FileForOtherRowsIsRefused) {
  TempDir tmp;
  ASSERT_EQ(save_logits(tmp / "fp.logits", {"--max-segments", "2"}).exit_code, 0);
  const auto compare = [&](const std::string& dataset, const std::string& segments) {
    return run_cli({"--threads", "1", "eval", "--model", stories_model(), "--kl-base-logits",
                    (tmp / "fp.logits").string(), "--dataset", dataset, "--max-segments",
                    segments});
  };
  const CliResult other = compare(token_set("samples-calib-128x512-seed1.i32"), "2");
  EXPECT_EQ(other.exit_code, 2) << other.err;
  EXPECT_NE(other.err.find((tmp / "fp.logits").string() + " was written for 2 rows of 512 tokens"),
            std::string::npos)
      << other.err;
  EXPECT_NE(other.err.find("token hash"), std::string::npos) << other.err;
  const CliResult fewer = compare(token_set(kEvalRows), "1");
  EXPECT_EQ(fewer.exit_code, 2) << fewer.err;
  EXPECT_NE(fewer.err.find("this run evaluates 1 rows"), std::string::npos) << fewer.err;
  const CliResult same = compare(token_set(kEvalRows), "2");
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("mean_kld 0.000000"), std::string::npos) << same.out;
}

TEST(KlBaseLogits, TruncatedOrForeignFileIsRefused) {
  TempDir tmp;
  const fs::path file = tmp / "fp.logits";
  ASSERT_EQ(save_logits(file, {"--max-segments", "1", "--top-k", "4"}).exit_code, 0);
  const std::string bytes = read_file(file);
  const auto compare = [&] {
    return run_cli({"--threads", "1", "eval", "--model", stories_model(), "--kl-base-logits",
                    file.string(), "--dataset", token_set(kEvalRows), "--max-segments", "1"});
  };
  write_file(file, bytes.substr(0, bytes.size() - 4));
  CliResult r = compare();
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(file.string() + " holds " + std::to_string(bytes.size() - 4) +
                       " bytes but its header's 1 segments x 511 predictions of 40 bytes need " +
                       std::to_string(bytes.size())),
            std::string::npos)
      << r.err;
  write_file(file, bytes.substr(0, 12));
  r = compare();
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("too short for a ptq logits file"), std::string::npos) << r.err;
  write_file(file, "not a logits file at all");
  r = compare();
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(file.string() + " is not a ptq logits file"), std::string::npos) << r.err;
}

// An error during --save-logits (here a token outside the vocabulary, found by the forward
// pass) leaves neither the file nor its temporary behind.
TEST(KlBaseLogits, FailedSaveLeavesNothingBehind) {
  TempDir tmp;
  std::string rows(2 * 4 * 4, '\0');
  rows[4 * 5] = '\x10';  // token 5: 0x1010 = 4112, outside the 512-entry vocabulary
  rows[4 * 5 + 1] = '\x10';
  write_file(tmp / "bad.i32", rows);
  const fs::path file = tmp / "fp.logits";
  const CliResult r = run_cli({"--threads", "1", "eval", "--model", stories_model(), "--dataset",
                               "tokens:" + (tmp / "bad.i32").string(), "--seqlen", "4",
                               "--save-logits", file.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("vocabulary"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file.string() + ".tmp"));
}

}  // namespace
}  // namespace ptq::test
