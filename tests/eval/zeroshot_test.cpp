// ptq's zero-shot task scores against tests/reference/zeroshot_reference.py, an independent
// Python implementation of lm-evaluation-harness's rules (prompts, pair encoding, scoring) on
// the same random checkpoints: one with GPT-2's byte-level BPE, one with LLaMA's sentencepiece
// tokenizer, so both tokenizers' boundary behaviour (a leading space merged into the
// continuation, sentencepiece's dummy prefix and BOS) is exercised.

#include "ptq/eval/zeroshot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <ostream>

#include "ptq/common/error.h"
#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

// fp32 forward and log-softmax against the reference's fp64, summed over a continuation.
constexpr double kLoglikTolerance = 1e-4;

struct Case {
  std::string fixture;
  std::string task;
};

// ctest shows the case, not GetParam()'s bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.fixture << " " << c.task; }

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return info.param.fixture + "_" + info.param.task;
}

class ZeroShotReference : public testing::TestWithParam<Case> {};

TEST_P(ZeroShotReference, LoglikelihoodsAndAccuracyMatchLmEvalRules) {
  const Case& c = GetParam();
  const nlohmann::json reference =
      nlohmann::json::parse(read_file(fixtures_dir() / "reference" / (c.fixture + ".json")))
          .at(c.task);
  const fs::path model_dir = fixtures_dir() / c.fixture;
  const auto lm = model::load_causal_lm(model_dir.string());
  const auto tokenizer = tokenizer::load_tokenizer(model_dir.string());
  eval::ZeroShotOptions options;
  // ARC and HellaSwag are not in the shared data: the reference writes records in their
  // original formats beside the fixtures.
  const bool user_task = c.task == "arc_easy" || c.task == "arc_challenge" || c.task == "hellaswag";
  options.task_dir = user_task ? (fixtures_dir() / "zeroshot_user_tasks").string()
                               : (shared_dir() / "data" / "zeroshot").string();
  options.limit = reference.at("limit").get<int64_t>();
  const eval::TaskResult result = eval::evaluate_task(*lm, *tokenizer, c.task, options);

  const auto& examples = reference.at("examples");
  ASSERT_EQ(result.examples, static_cast<int64_t>(examples.size()));
  double acc = 0.0, acc_norm = 0.0;
  for (size_t e = 0; e < examples.size(); ++e) {
    const auto& expected = examples[e];
    const auto& got = result.scores[e];
    EXPECT_EQ(got.gold, expected.at("gold").get<int64_t>()) << "example " << e;
    ASSERT_EQ(got.requests.size(), expected.at("loglikelihoods").size()) << "example " << e;
    for (size_t i = 0; i < got.requests.size(); ++i) {
      EXPECT_NEAR(got.requests[i].logprob, expected["loglikelihoods"][i].get<double>(),
                  kLoglikTolerance)
          << "example " << e << " request " << i;
      EXPECT_EQ(got.requests[i].greedy, expected["greedy"][i].get<bool>())
          << "example " << e << " request " << i;
    }
    acc += expected.at("acc").get<double>();
    if (expected.contains("acc_norm")) acc_norm += expected["acc_norm"].get<double>();
  }
  const double n = static_cast<double>(examples.size());
  EXPECT_EQ(result.metrics.at("acc"), acc / n);
  if (c.task == "piqa" || user_task) EXPECT_EQ(result.metrics.at("acc_norm"), acc_norm / n);
  if (c.task == "lambada_openai") {
    double mean_ll = 0.0;
    for (const auto& e : examples) mean_ll += e["loglikelihoods"][0].get<double>() / n;
    EXPECT_NEAR(std::log(result.metrics.at("perplexity")), -mean_ll, kLoglikTolerance);
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* fixture : {"zeroshot_gpt2", "zeroshot_llama"}) {
    for (const char* task : {"lambada_openai", "piqa", "winogrande", "boolq", "arc_easy",
                             "arc_challenge", "hellaswag"}) {
      cases.push_back({fixture, task});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Tasks, ZeroShotReference, testing::ValuesIn(all_cases()), case_name);

// lm-eval's mean_stderr: sqrt(sample variance (n - 1) / n). For 0, 1, 1, 0, 1: mean 0.6,
// variance 1.2 / 4 = 0.3, stderr sqrt(0.3 / 5).
TEST(ZeroShotMetrics, AccuracyStderrIsSampleStderrOfMean) {
  const auto lm = model::load_causal_lm((fixtures_dir() / "zeroshot_gpt2").string());
  const auto tokenizer = tokenizer::load_tokenizer((fixtures_dir() / "zeroshot_gpt2").string());
  eval::ZeroShotOptions options;
  options.task_dir = (shared_dir() / "data" / "zeroshot").string();
  options.limit = 3;
  const eval::TaskResult result = eval::evaluate_task(*lm, *tokenizer, "winogrande", options);
  std::vector<double> acc;
  for (const auto& s : result.scores) {
    const bool second = s.requests[1].logprob > s.requests[0].logprob;
    acc.push_back((second ? 1 : 0) == s.gold ? 1.0 : 0.0);
  }
  const double mean = (acc[0] + acc[1] + acc[2]) / 3.0;
  double var = 0.0;
  for (double a : acc) var += (a - mean) * (a - mean) / 2.0;
  EXPECT_DOUBLE_EQ(result.metrics.at("acc"), mean);
  EXPECT_NEAR(result.metrics.at("acc_stderr"), std::sqrt(var / 3.0), 1e-12);
}

TEST(ZeroShotTaskFiles, UnknownTaskAndMissingFilesAreInputErrors) {
  const auto lm = model::load_causal_lm((fixtures_dir() / "zeroshot_gpt2").string());
  const auto tokenizer = tokenizer::load_tokenizer((fixtures_dir() / "zeroshot_gpt2").string());
  eval::ZeroShotOptions options;
  TempDir tmp;
  options.task_dir = tmp.path().string();
  try {
    eval::evaluate_task(*lm, *tokenizer, "mmlu", options);
    FAIL() << "no error for an unknown task";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("known tasks: arc_challenge, arc_easy, boolq, hellaswag, "
                                         "lambada_openai, piqa, winogrande"),
              std::string::npos)
        << e.what();
  }
  fs::create_directories(tmp / "winogrande");
  write_file(
      tmp / "winogrande" / "dev.jsonl",
      "{\"sentence\": \"A _ b\", \"option1\": \"x\", \"option2\": \"y\", \"answer\": \"1\"}\n"
      "{\"sentence\": \"no blank\", \"option1\": \"x\", \"option2\": \"y\", \"answer\": \"1\"}\n");
  try {
    eval::evaluate_task(*lm, *tokenizer, "winogrande", options);
    FAIL() << "no error for a sentence without a blank";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dev.jsonl:2: the sentence has no \"_\""),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(eval::evaluate_task(*lm, *tokenizer, "piqa", options), InputError);
}

TEST(ZeroShotCli, WritesTaskMetricsToJsonReport) {
  TempDir tmp;
  const fs::path json = tmp / "r.json";
  const CliResult r =
      run_cli({"eval", "--model", (fixtures_dir() / "zeroshot_gpt2").string(), "--tasks", "piqa",
               "--limit", "2", "--task-dir", (shared_dir() / "data" / "zeroshot").string(),
               "--report", json.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("piqa acc_norm "), std::string::npos) << r.out;
  const auto report = nlohmann::json::parse(read_file(json));
  const auto& piqa = report.at("tasks").at("piqa");
  EXPECT_EQ(piqa.at("examples").get<int64_t>(), 2);
  EXPECT_EQ(piqa.at("per_example").size(), 2u);
  EXPECT_TRUE(piqa.at("metrics").contains("acc_stderr"));

  const CliResult bad = run_cli(
      {"eval", "--model", (fixtures_dir() / "zeroshot_gpt2").string(), "--tasks", "piqa,nope"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("unknown task \"nope\""), std::string::npos) << bad.err;

  const CliResult neither =
      run_cli({"eval", "--model", (fixtures_dir() / "zeroshot_gpt2").string()});
  EXPECT_EQ(neither.exit_code, 2) << neither.err;
  EXPECT_NE(neither.err.find("eval needs --dataset (or --tasks)"), std::string::npos)
      << neither.err;
}

}  // namespace
}  // namespace ptq::test
