// `ptq export --merge-outliers` on SEPTQ checkpoints of the real stories260K (w3, w4): the export
// has no side tensors and tests/reference/merged_outliers_check.py, a reader written from the
// GPTQ loaders' conventions, decodes it to exactly the weights ptq evaluates, equal to SEPTQ's
// except at the kept positions, which hold the grid point nearest to the kept value; its
// perplexity is finite. And the inputs and outputs it refuses (exit 2, naming the file).

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/stories260k_runs.h"
#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;
using stories260k::eval_perplexity;
using stories260k::quantize_args;
using stories260k::short_eval_set;
using stories260k::stories_hf;

// Runs the reference check; its exit status and output.
std::pair<int, std::string> run_reference_check(const fs::path& septq,
                                                const fs::path& out,
                                                const fs::path& work) {
  const std::string command =
      "/usr/bin/python3 " +
      (fs::path(PTQ_SOURCE_DIR) / "tests" / "reference" / "merged_outliers_check.py").string() +
      " " + PTQ_CLI_PATH + " " + septq.string() + " " + out.string() + " " + work.string() +
      " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[512];
  while (pipe && fgets(buffer, sizeof(buffer), pipe)) output += buffer;
  const int status = pipe ? pclose(pipe) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::vector<std::string> export_args(const fs::path& model, const fs::path& out) {
  return {"export", "--merge-outliers", "--model", model.string(), "--out", out.string()};
}

void expect_round_trip(const std::string& bits) {
  TempDir tmp;
  const fs::path septq = tmp / "septq";
  const fs::path out = tmp / "out";
  const CliResult q = run_cli(quantize_args(
      septq, {"--method", "septq", "--wbits", bits, "--keep-percent", "1", "--nsamples", "2"}));
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const CliResult e = run_cli(export_args(septq, out));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  // 1 % of stories260K's linears: 2285 kept weights (inspect_command_test.cpp derives it).
  EXPECT_NE(e.err.find("2285 kept weights in 35 of 35 quantized linears"), std::string::npos)
      << e.err;
  const auto [status, report] = run_reference_check(septq, out, tmp / "check");
  std::printf("%s", report.c_str());
  EXPECT_EQ(status, 0) << report;
  const std::string eval = short_eval_set(tmp);
  const double septq_ppl = eval_perplexity(septq, eval);
  const double export_ppl = eval_perplexity(out, eval);
  std::printf("[ w%s ] perplexity on 4 eval rows: septq %.4f, export %.4f\n", bits.c_str(),
              septq_ppl, export_ppl);
  EXPECT_TRUE(std::isfinite(export_ppl) && export_ppl > 1) << export_ppl;
  // inspect says who serves the SEPTQ directory; the export is not a SEPTQ one any more.
  const std::string line = "kept weights served by ptq only; ptq export --merge-outliers";
  EXPECT_NE(run_cli({"inspect", septq.string()}).out.find(line), std::string::npos);
  const CliResult inspected = run_cli({"inspect", out.string()});
  EXPECT_EQ(inspected.out.find(line), std::string::npos) << inspected.out;
  EXPECT_NE(inspected.out.find("kept weights       0 ("), std::string::npos) << inspected.out;
  // The output exists now: a second export to it is refused and changes nothing.
  const std::string before = read_file(out / "model.safetensors");
  const CliResult again = run_cli(export_args(septq, out));
  EXPECT_EQ(again.exit_code, 2) << again.err;
  EXPECT_NE(again.err.find(out.string() + " exists and is not empty"), std::string::npos)
      << again.err;
  EXPECT_EQ(read_file(out / "model.safetensors"), before);
  // Nor is the export an input: its kept weights are merged already.
  const CliResult merged = run_cli(export_args(out, tmp / "out2"));
  EXPECT_EQ(merged.exit_code, 2) << merged.err;
  EXPECT_NE(merged.err.find("merged already"), std::string::npos) << merged.err;
  EXPECT_FALSE(fs::exists(tmp / "out2"));
}

TEST(ExportCommand, MergesSeptqW3IntoItsNearestGptqCheckpoint) { expect_round_trip("3"); }
TEST(ExportCommand, MergesSeptqW4IntoItsNearestGptqCheckpoint) { expect_round_trip("4"); }

// Exit 2 with `needle` in stderr and no output directory.
void expect_refused(const TempDir& tmp,
                    const std::vector<std::string>& args,
                    const std::string& needle) {
  const CliResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

TEST(ExportCommand, RefusesWhatIsNotASeptqCheckpointWithExit2) {
  TempDir tmp;
  const fs::path out = tmp / "out";
  expect_refused(tmp, export_args(stories_hf(), out),
                 (fs::path(stories_hf()) / "config.json").string() + " has no quantization_config");
  ASSERT_EQ(run_cli(quantize_args(tmp / "rtn", {"--method", "rtn"})).exit_code, 0);
  expect_refused(tmp, export_args(tmp / "rtn", out),
                 (tmp / "rtn" / "config.json").string() +
                     ": quantization_config.meta.method is \"rtn\", not \"septq\"");
  ASSERT_EQ(run_cli(quantize_args(tmp / "keep0", {"--method", "septq", "--wbits", "3",
                                                  "--keep-percent", "0", "--nsamples", "2"}))
                .exit_code,
            0);
  expect_refused(tmp, export_args(tmp / "keep0", out),
                 (tmp / "keep0").string() + " holds no side tensors");
  expect_refused(tmp, export_args(tmp / "missing", out),
                 (tmp / "missing").string() + " is not a directory");
  // Usage: --merge-outliers is what export does, and must be asked for.
  expect_refused(tmp, {"export", "--model", (tmp / "keep0").string(), "--out", out.string()},
                 "--merge-outliers is required");
}

}  // namespace
}  // namespace ptq::test
