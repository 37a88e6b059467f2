// End-to-end checks of `ptq eval` on the real stories260K checkpoint (../shared/models).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "eval/byte_tokenizer.h"
#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

// docs/test-data.md: an independent implementation's value on the eval
// set, every 512-token row one segment.
constexpr double kReferencePerplexity = 15.68007;
constexpr double kReferenceMeanNll = 2.752390;

fs::path stories_dir() { return shared_dir() / "models" / "stories260K"; }

std::string eval_tokens() {
  return "tokens:" + (stories_dir() / "samples-eval-64x512-seed2.i32").string();
}

fs::path convert_stories(const TempDir& tmp) {
  const fs::path out = tmp / "m";
  const CliResult r =
      run_cli({"convert", "--from", "llama2c", (stories_dir() / "stories260K.bin").string(),
               "--out", out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

nlohmann::json eval_json(const fs::path& model, const TempDir& tmp) {
  const fs::path json = tmp / "r.json";
  const CliResult r = run_cli(
      {"eval", "--model", model.string(), "--dataset", eval_tokens(), "--report", json.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(read_file(json));
}

void expect_reference_perplexity(const nlohmann::json& report) {
  const double perplexity = report.at("perplexity").get<double>();
  EXPECT_LT(std::abs(perplexity / kReferencePerplexity - 1.0), 1e-5) << perplexity;
  EXPECT_NEAR(report.at("mean_nll").get<double>(), kReferenceMeanNll, 2e-6);
  EXPECT_EQ(report.at("segments").get<int64_t>(), 64);
  EXPECT_EQ(report.at("seqlen").get<int64_t>(), 512);
  EXPECT_EQ(report.at("tokens").get<int64_t>(), 64 * 512);
}

CliResult eval_cli(const fs::path& model,
                   const std::string& dataset,
                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"eval", "--model", model.string(), "--dataset", dataset};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_cli(args);
}

TEST(EvalCommand, ConvertedStories260KMatchesReferencePerplexity) {
  TempDir tmp;
  const nlohmann::json report = eval_json(convert_stories(tmp), tmp);
  expect_reference_perplexity(report);
}

TEST(EvalCommand, HuggingFaceStories260KMatchesReferencePerplexity) {
  TempDir tmp;
  const fs::path model = shared_dir() / "models" / "stories260K-hf";
  const nlohmann::json report = eval_json(model, tmp);
  expect_reference_perplexity(report);
  EXPECT_EQ(report.at("config").at("model").get<std::string>(), model.string());
  EXPECT_EQ(report.at("config").at("dataset").get<std::string>(), eval_tokens());
  EXPECT_GE(report.at("config").at("threads").get<int>(), 1);
  EXPECT_EQ(report.at("versions").at("ptq").get<std::string>(), PTQ_VERSION);
  EXPECT_TRUE(report.at("versions").contains("libtorch"));
  EXPECT_GT(report.at("timings").at("eval_seconds").get<double>(), 0.0);
  EXPECT_GT(report.at("tokens_per_second").get<double>(), 0.0);
  EXPECT_FALSE(fs::exists(tmp / "r.json.tmp"));
}

TEST(EvalCommand, PrintsTheResultOnStdout) {
  const CliResult r =
      eval_cli(shared_dir() / "models" / "stories260K-hf", eval_tokens(), {"--max-segments", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("perplexity "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("segments 8\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens 4096\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens_per_second "), std::string::npos) << r.out;
}

// --report is the one spelling of "write a JSON report" (tools/command.h); eval's former
// --json still writes the same report, with a warning, and the two together are refused.
TEST(EvalCommand, FormerJsonSpellingWritesTheSameReport) {
  TempDir tmp;
  const fs::path model = shared_dir() / "models" / "stories260K-hf";
  const std::vector<std::string> few = {"--max-segments", "2"};
  const auto report_of = [&](const std::string& flag, const std::string& name) {
    std::vector<std::string> extra = few;
    extra.insert(extra.end(), {flag, (tmp / name).string()});
    const CliResult r = eval_cli(model, eval_tokens(), extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find("--json PATH is now spelled --report PATH") != std::string::npos,
              flag == "--json")
        << r.err;
    return nlohmann::json::parse(read_file(tmp / name));
  };
  const nlohmann::json current = report_of("--report", "a.json");
  const nlohmann::json former = report_of("--json", "b.json");
  EXPECT_EQ(former.at("perplexity"), current.at("perplexity"));
  EXPECT_EQ(former.at("segments").get<int64_t>(), 2);
  std::vector<std::string> both = few;
  both.insert(both.end(),
              {"--report", (tmp / "c.json").string(), "--json", (tmp / "d.json").string()});
  const CliResult r = eval_cli(model, eval_tokens(), both);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "c.json"));
  EXPECT_FALSE(fs::exists(tmp / "d.json"));
}

std::string int32_bytes(const std::vector<int32_t>& ids) {
  return std::string(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(int32_t));
}

// A text data set is tokenized once (one BOS at its start) and cut into --seqlen windows:
// the same ids given as token rows must score the same.
TEST(EvalCommand, TextDatasetScoresLikeItsIdsAsTokenRows) {
  TempDir tmp;
  write_byte_tokenizer(tmp / "tokenizer");
  std::string text;
  while (text.size() < 400) text += "Once upon a time, a little dog found a big red ball. ";
  write_file(tmp / "story.txt", text);
  std::vector<int32_t> ids = byte_tokenizer_ids(text);
  ids.resize(ids.size() / 100 * 100);  // the windows' tail is dropped
  write_file(tmp / "story.i32", int32_bytes(ids));

  const fs::path model = shared_dir() / "models" / "stories260K-hf";
  const auto score = [&](const std::string& dataset, const std::string& json) {
    const CliResult r = eval_cli(model, dataset,
                                 {"--seqlen", "100", "--tokenizer", (tmp / "tokenizer").string(),
                                  "--report", (tmp / json).string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(read_file(tmp / json));
  };
  const nlohmann::json text_report = score((tmp / "story.txt").string(), "text.json");
  const nlohmann::json rows_report = score("tokens:" + (tmp / "story.i32").string(), "rows.json");
  EXPECT_EQ(text_report.at("segments").get<int64_t>(), static_cast<int64_t>(ids.size() / 100));
  EXPECT_NEAR(text_report.at("perplexity").get<double>(),
              rows_report.at("perplexity").get<double>(), 1e-9);
}

TEST(EvalCommand, EmptyDatasetExitsWithInputError) {
  TempDir tmp;
  write_file(tmp / "empty.i32", "");
  write_file(tmp / "empty.txt", "");
  const fs::path model = shared_dir() / "models" / "stories260K-hf";
  const CliResult tokens = eval_cli(model, "tokens:" + (tmp / "empty.i32").string());
  EXPECT_EQ(tokens.exit_code, 2) << tokens.err;
  EXPECT_NE(tokens.err.find("empty"), std::string::npos) << tokens.err;
  const CliResult text = eval_cli(model, (tmp / "empty.txt").string());
  EXPECT_EQ(text.exit_code, 2) << text.err;
}

TEST(EvalCommand, SeqlenLargerThanTheDataExitsWithInputError) {
  TempDir tmp;
  write_file(tmp / "short.i32", std::string(256 * sizeof(int32_t), '\0'));
  write_file(tmp / "short.txt", "Once upon a time there was a tiny model.\n");
  const fs::path model = shared_dir() / "models" / "stories260K-hf";
  const CliResult tokens =
      eval_cli(model, "tokens:" + (tmp / "short.i32").string(), {"--seqlen", "512"});
  EXPECT_EQ(tokens.exit_code, 2) << tokens.err;
  EXPECT_NE(tokens.err.find("larger than"), std::string::npos) << tokens.err;
  const CliResult text = eval_cli(
      model, (tmp / "short.txt").string(),
      {"--seqlen", "512", "--tokenizer", (shared_dir() / "data" / "gpt2-tokenizer").string()});
  EXPECT_EQ(text.exit_code, 2) << text.err;
  EXPECT_NE(text.err.find("larger than"), std::string::npos) << text.err;
}

TEST(EvalCommand, SeqlenBeyondTheModelPositionsExitsWithInputError) {
  const CliResult r =
      eval_cli(shared_dir() / "models" / "stories260K-hf", eval_tokens(), {"--seqlen", "1024"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(EvalCommand, MissingModelDirectoryExitsWithInputError) {
  TempDir tmp;
  const CliResult r = eval_cli(tmp / "no-such-model", eval_tokens());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no-such-model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ptq::test
