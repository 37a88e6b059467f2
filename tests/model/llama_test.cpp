// LLaMA family (Llama, Mistral, Qwen2) against the Python reference, and the real
// stories260K checkpoint.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>

#include "model/model_test_utils.h"
#include "ptq/model/causal_lm.h"

namespace ptq::model {
namespace {

using test::expect_matches_reference;

// GQA (8 query heads over 2 kv heads), untied lm_head, f32.
TEST(LlamaTest, LlamaMatchesReference) { expect_matches_reference("llama"); }

// bf16; head_dim 24 with hidden 64 (q_proj 96 x 64, as Mistral-Nemo); sliding window 8 over
// 12 positions, so the window mask is exercised.
TEST(LlamaTest, MistralMatchesReference) { expect_matches_reference("mistral"); }

// f16; q/k/v biases, tied embeddings, rope_theta 1e6.
TEST(LlamaTest, Qwen2MatchesReference) { expect_matches_reference("qwen2"); }

// bf16 over three shards listed in model.safetensors.index.json.
TEST(LlamaTest, ShardedCheckpointMatchesReference) { expect_matches_reference("llama_sharded"); }

TEST(LlamaTest, ConfigCarriesFamilyDifferences) {
  const auto qwen2 = load_causal_lm(test::fixture_model("qwen2"));
  EXPECT_TRUE(qwen2->has_weight("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_FALSE(qwen2->has_weight("model.layers.0.self_attn.o_proj.bias"));
  EXPECT_FALSE(qwen2->has_weight("lm_head.weight"));  // tied to model.embed_tokens
  const auto mistral = load_causal_lm(test::fixture_model("mistral"));
  EXPECT_EQ(mistral->config().sliding_window.value_or(0), 8);
  EXPECT_EQ(mistral->weight("model.layers.1.self_attn.o_proj.weight").sizes(),
            at::IntArrayRef({64, 96}));
}

at::Tensor read_eval_rows(int64_t rows) {
  const auto path = test::shared_dir() / "models" / "stories260K" / "samples-eval-64x512-seed2.i32";
  const std::string bytes = test::read_file(path);
  const int64_t length = 512;
  EXPECT_GE(bytes.size(), static_cast<size_t>(rows * length * 4));
  at::Tensor ids = at::empty({rows, length}, at::kInt);
  std::memcpy(ids.data_ptr(), bytes.data(), rows * length * 4);  // int32 LE, x86
  return ids.to(at::kLong);
}

TEST(LlamaTest, Stories260KNllMatchesPythonReference) {
  const auto lm = load_causal_lm((test::shared_dir() / "models" / "stories260K-hf").string());
  const at::Tensor ids = read_eval_rows(4);
  const at::Tensor logits = lm->forward(ids);
  const at::Tensor log_probs = at::log_softmax(logits.narrow(1, 0, 511), -1);
  const at::Tensor nll = -log_probs.gather(-1, ids.narrow(1, 1, 511).unsqueeze(-1));
  const double mean = nll.mean().item<double>();
  // tests/reference/stories260k_nll.py SHARED_DIR 4: HF LLaMA equations in fp64 over the
  // first 4 rows (4 x 511 targets). The same script over all 64 rows prints 2.752390418,
  // SOURCE.md's reference mean NLL.
  const double expected = 3.078582459;
  std::printf("[ stories260K         ] mean NLL %.9f, fp64 reference %.9f\n", mean, expected);
  EXPECT_NEAR(mean, expected, 1e-5);
}

}  // namespace
}  // namespace ptq::model
