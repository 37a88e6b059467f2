// Gemma 2 and Gemma 3 (text) against the Python reference, their config reading and errors,
// their tables, and quantize -> eval round trips through the ptq executable.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/model_test_utils.h"
#include "model/round_trip.h"
#include "ptq/common/error.h"
#include "ptq/model/architecture.h"
#include "ptq/model/causal_lm.h"
#include "ptq/model/config.h"
#include "ptq/model/tensor_table.h"
#include "ptq/pipeline/pipeline.h"
#include "test_utils.h"

namespace ptq::model {
namespace {

std::vector<bool> sliding_layers(const ModelConfig& c) {
  std::vector<bool> sliding;
  for (int64_t i = 0; i < c.num_layers; ++i) sliding.push_back(is_sliding_layer(c, i));
  return sliding;
}

nlohmann::json fixture_config(const std::string& name) {
  return nlohmann::json::parse(test::read_file(test::fixtures_dir() / name / "config.json"));
}

// The InputError message of parsing `json` ("" if none was thrown).
std::string parse_error(const nlohmann::json& json) {
  try {
    parse_model_config(json, "gemma/config.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// 4 layers, even ones sliding (window 5 of 12 positions), head_dim 24 with 4 heads over
// hidden 64, query_pre_attn_scalar 20, attention scores capped at 3 and logits at 20, tied
// embeddings, bf16.
TEST(GemmaTest, Gemma2MatchesReference) { test::expect_matches_reference("gemma2"); }

// Multi-query attention, q/k norms, layers 0, 1, 3 sliding (window 4, RoPE base 1e4) and layer
// 2 global (base 1e6), sqrt(48) embedding scale, no soft-capping, fp16.
TEST(GemmaTest, Gemma3MatchesReference) { test::expect_matches_reference("gemma3"); }

// As gemma-3-4b and larger: linear rope_scaling (factor 8) on the global layer 2 only; without
// it the reference logits differ by 3.6e-2 of their maximum.
TEST(GemmaTest, Gemma3ScaledRopeMatchesReference) {
  test::expect_matches_reference("gemma3_scaled");
}

TEST(GemmaTest, Gemma2ConfigAndItsDefaults) {
  const ModelConfig c = parse_model_config(fixture_config("gemma2"), "gemma2/config.json");
  EXPECT_EQ(c.family, ArchFamily::Gemma);
  EXPECT_EQ(c.head_dim, 24);
  EXPECT_EQ(c.hidden_act, "gelu_pytorch_tanh");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(sliding_layers(c), (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(c.attn_logit_softcapping.value_or(0), 3.0);
  EXPECT_EQ(c.final_logit_softcapping.value_or(0), 20.0);
  EXPECT_EQ(c.query_pre_attn_scalar, 20.0);
  EXPECT_EQ(c.rope_local_theta, c.rope_theta);
  // Gemma2Config's defaults when keys are absent; null soft-capping turns it off.
  nlohmann::json json = fixture_config("gemma2");
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping", "head_dim",
                          "query_pre_attn_scalar", "sliding_window", "tie_word_embeddings"}) {
    json.erase(key);
  }
  const ModelConfig d = parse_model_config(json, "gemma2/config.json");
  EXPECT_EQ(d.attn_logit_softcapping.value_or(0), 50.0);
  EXPECT_EQ(d.final_logit_softcapping.value_or(0), 30.0);
  EXPECT_EQ(d.head_dim, 256);
  EXPECT_EQ(d.query_pre_attn_scalar, 256.0);
  EXPECT_EQ(d.sliding_window.value_or(0), 4096);
  EXPECT_TRUE(d.tie_word_embeddings);
  json["attn_logit_softcapping"] = nullptr;
  json["final_logit_softcapping"] = nullptr;
  const ModelConfig off = parse_model_config(json, "gemma2/config.json");
  EXPECT_FALSE(off.attn_logit_softcapping || off.final_logit_softcapping);
}

TEST(GemmaTest, Gemma3LayerTypesFromPatternOrList) {
  nlohmann::json json = fixture_config("gemma3");
  const ModelConfig c = parse_model_config(json, "gemma3/config.json");
  EXPECT_EQ(c.family, ArchFamily::Gemma);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_EQ(sliding_layers(c), (std::vector<bool>{true, true, false, true}));
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.rope_local_theta, 1e4);
  EXPECT_FALSE(c.attn_logit_softcapping || c.final_logit_softcapping);
  // Gemma3TextConfig's default pattern is 6: with 4 layers every one slides.
  json.erase("sliding_window_pattern");
  EXPECT_EQ(sliding_layers(parse_model_config(json, "gemma3/config.json")),
            (std::vector<bool>(4, true)));
  // transformers >= 4.53 writes the list, which wins.
  json["layer_types"] = {"full_attention", "sliding_attention", "full_attention",
                         "sliding_attention"};
  EXPECT_EQ(sliding_layers(parse_model_config(json, "gemma3/config.json")),
            (std::vector<bool>{false, true, false, true}));
  json["layer_types"] = {"full_attention", "chunked_attention"};
  EXPECT_NE(parse_error(json).find("layer_types lists 2 layers, num_hidden_layers is 4"),
            std::string::npos)
      << parse_error(json);
  json["layer_types"] = {"full_attention", "chunked_attention", "full_attention", "full_attention"};
  EXPECT_NE(parse_error(json).find("layer_types entry 'chunked_attention' is not supported"),
            std::string::npos)
      << parse_error(json);
}

// Not implemented here: rope_scaling for Gemma 2 (no released one sets it; Gemma 3's is, see the
// gemma3_scaled fixture), bidirectional attention, and Gemma 3 attention soft-capping. Each is
// refused by name.
TEST(GemmaTest, UnsupportedKeysAreClearErrors) {
  nlohmann::json json = fixture_config("gemma2");
  json["rope_scaling"] = {{"factor", 8.0}, {"rope_type", "linear"}};
  const std::string scaling = parse_error(json);
  EXPECT_NE(scaling.find("gemma/config.json"), std::string::npos) << scaling;
  EXPECT_NE(scaling.find("rope_scaling is not supported"), std::string::npos) << scaling;
  json = fixture_config("gemma3");
  json["rope_scaling"] = {{"factor", 8.0}, {"rope_type", "longrope"}};
  EXPECT_NE(parse_error(json).find("rope_scaling type 'longrope' is not supported"),
            std::string::npos)
      << parse_error(json);
  json = fixture_config("gemma3");
  json["attn_logit_softcapping"] = 50.0;
  EXPECT_NE(parse_error(json).find("attn_logit_softcapping"), std::string::npos);
  json = fixture_config("gemma3");
  json["use_bidirectional_attention"] = true;
  EXPECT_NE(parse_error(json).find("use_bidirectional_attention"), std::string::npos);
  json = fixture_config("gemma2");
  json["final_logit_softcapping"] = -1.0;
  EXPECT_NE(parse_error(json).find("final_logit_softcapping must be positive"), std::string::npos);
}

// The four norms of every layer, q_norm/k_norm [head_dim] only in Gemma 3, and LLaMA's stages.
TEST(GemmaTest, TableNamesTheNormsAndLlamaStages) {
  const ModelConfig g3 = load_model_config(test::fixture_model("gemma3"));
  std::vector<std::string> norms;
  for (const TensorSpec& spec : layer_specs(find_architecture(g3.architecture).table(), g3, 1)) {
    if (spec.shape.size() == 1) norms.push_back(spec.name);
  }
  const std::string p = "model.layers.1.";
  EXPECT_EQ(norms,
            (std::vector<std::string>{
                p + "input_layernorm.weight", p + "post_attention_layernorm.weight",
                p + "pre_feedforward_layernorm.weight", p + "post_feedforward_layernorm.weight",
                p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"}));
  const auto lm = load_causal_lm(test::fixture_model("gemma3"));
  EXPECT_EQ(lm->weight(p + "self_attn.k_norm.weight").sizes(), at::IntArrayRef({32}));
  const std::vector<std::vector<std::string>> want = {
      {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
      {p + "self_attn.o_proj"},
      {p + "mlp.gate_proj", p + "mlp.up_proj"},
      {p + "mlp.down_proj"}};
  EXPECT_EQ(quant::linear_groups(*lm, 1, true), want);
  const auto g2 = load_causal_lm(test::fixture_model("gemma2"));
  EXPECT_FALSE(g2->config().qk_norm);
  EXPECT_FALSE(g2->has_weight(p + "self_attn.q_norm.weight"));
}

const std::vector<std::string> kLinears = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

void expect_round_trips(const std::vector<std::string>& method_args) {
  for (const std::string fixture : {"gemma2", "gemma3"}) {
    test::expect_quantize_eval_round_trip(fixture, method_args, kLinears);
  }
}

TEST(GemmaTest, GptqW4RoundTrip) { expect_round_trips(test::gptq_w4_args()); }
TEST(GemmaTest, SeptqW3RoundTrip) { expect_round_trips(test::septq_w3_args()); }
// RUQuant's transforms act on the linears' inputs and fold into the linears' weights, never
// into a norm, so Gemma's (1 + w) norms and post-norms need nothing special.
TEST(GemmaTest, RuquantW4A4RoundTrip) { expect_round_trips(test::ruquant_w4a4_args()); }

}  // namespace
}  // namespace ptq::model
