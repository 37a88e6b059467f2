#pragma once
// `ptq quantize --eval` of a fixture model, then `ptq eval` of the directory it wrote: the
// perplexity printed for the in-memory quantized model must be reproduced from the files, and
// every quantized linear must be stored under its own Hugging Face name. The per-family tests
// (phi3_test.cpp, llama_test.cpp, qwen3_test.cpp, gemma_test.cpp) run it with gptq, septq and
// ruquant.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "model/model_test_utils.h"
#include "ptq/io/checkpoint.h"
#include "ptq/model/config.h"
#include "test_utils.h"

namespace ptq::test {

// 8 rows of random ids below the fixture's vocabulary size, max_position_embeddings each (the
// row length quantize and eval read a tokens: file with), as a tokens: dataset.
inline std::string fixture_token_rows(const TempDir& tmp, const std::string& fixture) {
  const model::ModelConfig config = model::load_model_config(fixture_model(fixture));
  const std::filesystem::path path = tmp / "tokens.i32";
  at::manual_seed(0);
  const at::Tensor ids =
      at::randint(config.vocab_size, {8, config.max_position_embeddings}, at::kInt);
  std::ofstream(path, std::ios::binary)
      .write(static_cast<const char*>(ids.data_ptr()), ids.numel() * sizeof(int32_t));
  return "tokens:" + path.string();
}

inline double printed_perplexity(const std::string& out) {
  const size_t at = out.find("perplexity ");
  EXPECT_NE(at, std::string::npos) << out;
  return at == std::string::npos ? 0.0 : std::stod(out.substr(at + 11));
}

// `layer0_linears` are module names relative to layer 0 ("self_attn.q_proj").
inline void expect_quantize_eval_round_trip(const std::string& fixture,
                                            const std::vector<std::string>& method_args,
                                            const std::vector<std::string>& layer0_linears) {
  TempDir tmp;
  const std::string tokens = fixture_token_rows(tmp, fixture);
  const std::filesystem::path out = tmp / "out";
  std::vector<std::string> args = {
      "--threads", "1",     "quantize",   "--model", fixture_model(fixture),
      "--calib",   tokens,  "--nsamples", "4",       "--eval",
      tokens,      "--out", out.string()};
  args.insert(args.end(), method_args.begin(), method_args.end());
  const CliResult q = run_cli(args);
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const double in_memory = printed_perplexity(q.out);
  const CliResult e =
      run_cli({"--threads", "1", "eval", "--model", out.string(), "--dataset", tokens});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  std::printf("[ %-12s ] %s %s: perplexity %.4f in memory, %.4f from the files\n", fixture.c_str(),
              method_args.at(1).c_str(), method_args.at(3).c_str(), in_memory,
              printed_perplexity(e.out));
  EXPECT_NEAR(printed_perplexity(e.out), in_memory, 1e-4 * in_memory);
  const io::Checkpoint written(out.string());
  for (const std::string& module : layer0_linears) {
    EXPECT_TRUE(written.contains("model.layers.0." + module + ".qweight")) << module;
  }
}

inline const std::vector<std::string>& gptq_w4_args() {
  static const std::vector<std::string> args = {"--method", "gptq", "--wbits", "4"};
  return args;
}
inline const std::vector<std::string>& septq_w3_args() {
  static const std::vector<std::string> args = {"--method", "septq",          "--wbits",
                                                "3",        "--keep-percent", "2"};
  return args;
}
inline const std::vector<std::string>& ruquant_w4a4_args() {
  static const std::vector<std::string> args = {"--method",         "ruquant", "--wbits",      "4",
                                                "--abits",          "4",       "--block-size", "16",
                                                "--rotation-steps", "4"};
  return args;
}

}  // namespace ptq::test
