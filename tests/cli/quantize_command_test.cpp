// End-to-end checks of `ptq quantize` on the real stories260K checkpoint: a run that writes a
// loadable GPTQ directory and a report, and bad input that exits 2 leaving no output behind.

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

std::string stories_hf() { return (shared_dir() / "models" / "stories260K-hf").string(); }

std::string stories_tokens(const std::string& file) {
  return "tokens:" + (shared_dir() / "models" / "stories260K" / file).string();
}

// The base command line with each "--option value" pair of `extra` replacing the option's base
// value (CLI11 rejects an option given twice) or appended when the base lacks it.
std::vector<std::string> quantize_args(const fs::path& out, std::vector<std::string> extra) {
  std::vector<std::string> args = {"quantize", "--model", stories_hf(), "--method", "gptq",
                                   "--wbits", "4", "--calib",
                                   stories_tokens("samples-calib-128x512-seed1.i32"),
                                   "--nsamples", "8", "--out", out.string()};
  for (size_t i = 0; i + 1 < extra.size(); i += 2) {
    const auto at = std::find(args.begin(), args.end(), extra[i]);
    if (at != args.end()) {
      *(at + 1) = extra[i + 1];
    } else {
      args.push_back(extra[i]);
      args.push_back(extra[i + 1]);
    }
  }
  return args;
}

// Exit 2, the message mentions `needle`, and nothing at or beside `out` is left behind.
void expect_bad_input(const TempDir& tmp, const fs::path& out,
                      const std::vector<std::string>& extra, const std::string& needle) {
  const CliResult r = run_cli(quantize_args(out, extra));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  for (const auto& entry : fs::directory_iterator(tmp.path())) {
    EXPECT_NE(entry.path().filename().string().rfind("out", 0), 0u) << entry.path();
  }
}

TEST(QuantizeCommand, WritesAGptqDirectoryAndReport) {
  TempDir tmp;
  const fs::path out = tmp / "out";
  const fs::path report = tmp / "report.json";
  const CliResult r = run_cli(quantize_args(
      out, {"--group-size", "32", "--report", report.string(), "--eval",
            stories_tokens("samples-eval-64x512-seed2.i32")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "config.json"));
  const auto json = nlohmann::json::parse(read_file(report));
  EXPECT_EQ(json.at("layers").size(), 5u);
  EXPECT_EQ(json.at("layers")[0].at("linears").size(), 7u);
  EXPECT_TRUE(json.at("settings").at("true_sequential").get<bool>());  // LLaMA default
  EXPECT_GT(json.at("peak_rss_mb").get<double>(), 0.0);
  const double in_memory = json.at("eval").at("perplexity").get<double>();
  EXPECT_GT(in_memory, 15.68);
  // ptq eval of the written directory dequantizes on load: the same model.
  const CliResult e = run_cli({"eval", "--model", out.string(), "--dataset",
                               stories_tokens("samples-eval-64x512-seed2.i32")});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("perplexity"), std::string::npos);
  const double loaded = std::stod(e.out.substr(e.out.find("perplexity") + 11));
  EXPECT_NEAR(loaded, in_memory, 1e-4 * in_memory);
}

TEST(QuantizeCommand, RejectsBadInputWithExitCode2) {
  TempDir tmp;
  const fs::path out = tmp / "out";
  expect_bad_input(tmp, out, {"--wbits", "5"}, "--wbits 5");
  expect_bad_input(tmp, out, {"--group-size", "0"}, "--group-size");
  expect_bad_input(tmp, out, {"--method", "awq"}, "gptq, rtn");
  expect_bad_input(tmp, out, {"--nsamples", "129"}, "--nsamples 129");
  expect_bad_input(tmp, out, {"--seqlen", "3000"}, "samples-calib-128x512-seed1.i32");
}

TEST(QuantizeCommand, RefusesUnwritableOrNonEmptyOutput) {
  TempDir tmp;
  write_file(tmp / "file", "x");
  const CliResult unwritable = run_cli(quantize_args(tmp / "file" / "out", {}));
  EXPECT_EQ(unwritable.exit_code, 2) << unwritable.err;
  fs::create_directory(tmp / "full");
  write_file(tmp / "full" / "keep", "x");
  const CliResult full = run_cli(quantize_args(tmp / "full", {}));
  EXPECT_EQ(full.exit_code, 2) << full.err;
  EXPECT_EQ(read_file(tmp / "full" / "keep"), "x");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 2);
}

}  // namespace
}  // namespace ptq::test
