// A method registered from outside the library (tests/methods/toy/) is a method like the
// built-in ones: `ptq quantize --help` lists it and its option group, --method runs it with its
// option, the report and the checkpoint record the option, and its validation and ownership
// errors exit 2. The commands run in this process (tools/cli.h), where the toy is registered.

#include "methods/toy/toy_method.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.h"
#include "cli/stories260k_runs.h"
#include "ptq/quant/uniform_quantizer.h"
#include "test_utils.h"

namespace ptq::test {
namespace {

using stories260k::quantize_args;

struct InProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

InProcessResult run_in_process(std::vector<std::string> args) {
  args.insert(args.begin(), "ptq");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  InProcessResult result;
  result.exit_code = cli::run(static_cast<int>(argv.size()), argv.data());
  result.out = testing::internal::GetCapturedStdout();
  result.err = testing::internal::GetCapturedStderr();
  return result;
}

class ToyMethod : public testing::Test {
 protected:
  void SetUp() override { quant::register_method(toy_method_entry()); }
  void TearDown() override { quant::unregister_method("toy"); }
};

TEST_F(ToyMethod, HelpListsTheMethodAndItsOptionGroup) {
  const InProcessResult r = run_in_process({"quantize", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string expected :
       {"toy: test only: shrink the weights toward zero by --toy-shrink, then round to nearest",
        "Options of --method toy", "--toy-shrink",
        "toy: fraction each weight is shrunk toward "
        "zero"}) {
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << "\n" << r.out;
  }
}

// Halving is exact in fp32 and fp16 (the grids' scales are fp16-representable), so the min-max
// grid of the halved weights is the unshrunk grid halved, with the same codes: the toy's weights
// at --toy-shrink 0.5 are exactly half of rtn's.
TEST_F(ToyMethod, ShrinksTheWeightsBeforeRounding) {
  at::manual_seed(0);
  const at::Tensor w = at::randn({8, 32});
  quant::MethodOptions options;
  options.quantizer.bits = 4;
  const quant::QuantizedWeight rtn =
      quant::create_method("rtn", options)->quantize_linear("m", w, {}).quantized;
  options.extra["toy_shrink"] = 0.5;
  const quant::QuantizedWeight toy =
      quant::create_method("toy", options)->quantize_linear("m", w, {}).quantized;
  EXPECT_TRUE(toy.codes.equal(rtn.codes));
  EXPECT_TRUE(toy.weight.equal(0.5 * rtn.weight));
  EXPECT_FALSE(toy.weight.equal(rtn.weight));
}

TEST_F(ToyMethod, ReportAndCheckpointRecordItsOption) {
  TempDir tmp;
  const auto out = tmp / "out";
  const auto report = tmp / "report.json";
  const InProcessResult r = run_in_process(
      quantize_args(out, {"--method", "toy", "--toy-shrink", "0.25", "--report", report.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto json = nlohmann::json::parse(read_file(report));
  EXPECT_EQ(json.at("settings").at("method"), "toy");
  EXPECT_EQ(json.at("settings").at("toy_shrink"), 0.25);
  EXPECT_EQ(json.at("settings").at("keep_percent"), 1.0);  // other methods' defaults stay
  const auto config = nlohmann::json::parse(read_file(out / "config.json"));
  EXPECT_EQ(config.at("quantization_config").at("meta").at("toy_shrink"), 0.25);
}

TEST_F(ToyMethod, BadOrMisplacedOptionExitsTwo) {
  TempDir tmp;
  const InProcessResult bad =
      run_in_process(quantize_args(tmp / "out", {"--method", "toy", "--toy-shrink", "1"}));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("toy: --toy-shrink must be in [0, 1), got 1"), std::string::npos)
      << bad.err;
  const InProcessResult other =
      run_in_process(quantize_args(tmp / "out", {"--method", "rtn", "--toy-shrink", "0.5"}));
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("--toy-shrink applies to --method toy only (this run's method is rtn)"),
            std::string::npos)
      << other.err;
}

}  // namespace
}  // namespace ptq::test
