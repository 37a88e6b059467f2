// `ptq inspect` on the shipped stories260K checkpoints and on a SEPTQ checkpoint written by
// `ptq quantize`, whose effective bits must be the ones its report gives (computed there from
// the tensors in memory, here from the written headers), and its exit codes.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

fs::path stories_models() { return shared_dir() / "models"; }

TEST(InspectCommand, Stories260KSummary) {
  const CliResult r = run_cli({"inspect", (stories_models() / "stories260K-hf").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("LlamaForCausalLM (llama): 5 layers, hidden 64"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("parameters    260032\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("F32 1040128 bytes"), std::string::npos) << r.out;
  // Layer 0's tensors stand for all 5 layers.
  EXPECT_NE(r.out.find("model.layers.0.mlp.down_proj.weight"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("model.layers.1."), std::string::npos) << r.out;
  EXPECT_NE(
      r.out.find("  model.layers.0.mlp.down_proj.weight             F32   [64, 172]  x 5 layers\n"),
      std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("quantization"), std::string::npos) << r.out;
}

TEST(InspectCommand, Llama2cBinJson) {
  const CliResult r = run_cli(
      {"inspect", "--json", (stories_models() / "stories260K" / "stories260K.bin").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "llama2c");
  EXPECT_EQ(j["parameters"], 260032);
  EXPECT_EQ(j["tensors"][2]["name"], "wq");
  EXPECT_EQ(j["tensors"][2]["shape"], nlohmann::json({5, 64, 64}));
}

// M = ceil(N K / 100) kept weights per linear at 1 %: q and o 41 (4096 weights), k and v 21
// (2048), gate, up and down 111 (11008); 457 per layer, 2285 in the 5 layers.
TEST(InspectCommand, SeptqCheckpointMatchesItsQuantizeReport) {
  TempDir tmp;
  const fs::path out = tmp / "septq";
  const CliResult q = run_cli(
      {"--threads", "1", "quantize", "--model", (stories_models() / "stories260K-hf").string(),
       "--method", "septq", "--wbits", "3", "--keep-percent", "1", "--calib",
       "tokens:" + (stories_models() / "stories260K" / "samples-calib-128x512-seed1.i32").string(),
       "--nsamples", "2", "--out", out.string(), "--report", (tmp / "report.json").string()});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const nlohmann::json report = nlohmann::json::parse(read_file(tmp / "report.json"));
  const CliResult r = run_cli({"inspect", "--json", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out)["quantization"];
  EXPECT_EQ(j["method"], "septq");
  EXPECT_EQ(j["bits"], 3);
  EXPECT_EQ(j["group_size"], -1);
  EXPECT_EQ(j["kept_weights"], 2285);
  EXPECT_EQ(j["quantized_weights"], report["storage"]["weights"]);
  EXPECT_DOUBLE_EQ(j["bits_per_weight"].get<double>(),
                   report["storage"]["bits_per_weight"].get<double>());
  const CliResult text = run_cli({"inspect", out.string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("quantization  septq, 3 bits, group size -1"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("kept weights       2285 ("), std::string::npos) << text.out;
}

TEST(InspectCommand, BadInputExitsTwoNamingTheFile) {
  TempDir tmp;
  const CliResult missing = run_cli({"inspect", (tmp / "nope").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find((tmp / "nope").string()), std::string::npos) << missing.err;
  write_file(tmp / "model.safetensors", "not a safetensors file");
  const CliResult bad = run_cli({"inspect", (tmp / "model.safetensors").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find((tmp / "model.safetensors").string()), std::string::npos) << bad.err;
  EXPECT_EQ(run_cli({"inspect"}).exit_code, 2);  // usage
}

}  // namespace
}  // namespace ptq::test
