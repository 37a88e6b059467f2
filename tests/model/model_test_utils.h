#pragma once
// Helpers for the model tests: the random checkpoints and reference logits written by
// tests/reference/make_fixtures.py into ptq::test::fixtures_dir().

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ptq/io/safetensors.h"
#include "ptq/model/causal_lm.h"
#include "test_utils.h"

namespace ptq::test {

// Every fixture directory make_fixtures.py writes.
inline const std::vector<std::string>& model_fixtures() {
  static const std::vector<std::string> names = {
      "gemma2",     "gemma3",  "gemma3_scaled", "gpt_neox",     "gpt_neox_sequential",
      "llama",      "llama3",  "llama_dynamic", "llama_linear", "llama_sharded",
      "llama_yarn", "mistral", "opt",           "opt_post_ln",  "opt_project",
      "phi3",       "qwen2",   "qwen2_window",  "qwen3"};
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

}  // namespace ptq::test
