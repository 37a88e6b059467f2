#pragma once
// Helpers for the model tests: the random checkpoints and reference logits written by
// tests/reference/make_fixtures.py into ptq::test::fixtures_dir().

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ptq/io/checkpoint.h"
#include "ptq/io/safetensors.h"
#include "ptq/model/causal_lm.h"
#include "ptq/model/config.h"
#include "test_utils.h"

namespace ptq::test {

// Every fixture directory make_fixtures.py writes.
inline const std::vector<std::string>& model_fixtures() {
  static const std::vector<std::string> names = {
      "gemma2",  "gemma3", "gpt_neox",    "gpt_neox_sequential", "llama", "llama_sharded",
      "mistral", "opt",    "opt_post_ln", "opt_project",         "phi3",  "qwen2"};
  return names;
}

inline std::string fixture_model(const std::string& name) {
  return (fixtures_dir() / name).string();
}

struct ReferenceLogits {
  at::Tensor input_ids;  // [B, T] int64
  at::Tensor logits;     // [B, T, vocab] fp64, from the Python fp64 forward
};

inline ReferenceLogits load_reference(const std::string& name) {
  const io::SafetensorsReader reader(
      (fixtures_dir() / "reference" / (name + ".safetensors")).string());
  return {reader.tensor("input_ids").clone(), reader.tensor("logits").clone()};
}

// max |got - want| / max |want|, the relative error the fixture tests bound.
inline double relative_max_diff(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor ref = want.to(at::kDouble);
  return (got.to(at::kDouble) - ref).abs().max().item<double>() / ref.abs().max().item<double>();
}

// Loads fixture `name`, runs the full forward on the reference ids and checks the logits
// against the Python reference to 1e-4 relative to the largest reference logit.
inline void expect_matches_reference(const std::string& name) {
  const auto lm = model::load_causal_lm(fixture_model(name));
  const ReferenceLogits ref = load_reference(name);
  const at::Tensor logits = lm->forward(ref.input_ids);
  ASSERT_EQ(logits.sizes(), ref.logits.sizes());
  EXPECT_EQ(logits.scalar_type(), at::kFloat);
  const double diff = relative_max_diff(logits, ref.logits);
  std::printf("[ %-19s ] max|diff| / max|ref logit| = %.3g\n", name.c_str(), diff);
  EXPECT_LT(diff, 1e-4) << name;
}

// "tokens:<file>" of 8 rows of 128 random ids below `vocab`, written in `tmp`.
inline std::string random_token_rows(const TempDir& tmp, int64_t vocab) {
  const std::filesystem::path path = tmp / "tokens-8x128.i32";
  at::manual_seed(0);
  const at::Tensor ids = at::randint(vocab, {8, 128}, at::kInt);
  std::ofstream(path, std::ios::binary)
      .write(static_cast<const char*>(ids.data_ptr()), ids.numel() * sizeof(int32_t));
  return "tokens:" + path.string();
}

inline double printed_perplexity(const std::string& out) {
  const size_t at = out.find("perplexity ");
  EXPECT_NE(at, std::string::npos) << out;
  return at == std::string::npos ? 0.0 : std::stod(out.substr(at + 11));
}

// `ptq quantize --eval` of fixture `name` with `method_args` prints the in-memory model's
// perplexity; `ptq eval` of the written directory must reproduce it, with each of layer 0's
// `modules` stored quantized under its own name.
inline void expect_quantize_eval_round_trip(const std::string& name,
                                            const std::vector<std::string>& method_args,
                                            const std::vector<std::string>& modules) {
  TempDir tmp;
  const std::string tokens =
      random_token_rows(tmp, model::load_model_config(fixture_model(name)).vocab_size);
  const std::filesystem::path out = tmp / "out";
  std::vector<std::string> args = {
      "--threads", "1",     "quantize",   "--model", fixture_model(name),
      "--calib",   tokens,  "--nsamples", "4",       "--eval",
      tokens,      "--out", out.string()};
  args.insert(args.end(), method_args.begin(), method_args.end());
  const CliResult q = run_cli(args);
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const double in_memory = printed_perplexity(q.out);
  const CliResult e =
      run_cli({"--threads", "1", "eval", "--model", out.string(), "--dataset", tokens});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NEAR(printed_perplexity(e.out), in_memory, 1e-4 * in_memory);
  const io::Checkpoint written(out.string());
  for (const std::string& module : modules) {
    EXPECT_TRUE(written.contains("model.layers.0." + module + ".qweight")) << module;
  }
}

}  // namespace ptq::test
