// Qwen3 (per-head q/k RMSNorm before RoPE, layer_types sliding window) against the Python
// reference, its table rows, the Qwen2/Qwen3 window configuration, and quantize -> eval round
// trips through the ptq executable (model/round_trip.h).

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/model_test_utils.h"
#include "model/round_trip.h"
#include "ptq/common/error.h"
#include "ptq/model/causal_lm.h"
#include "ptq/model/config.h"
#include "ptq/model/tensor_table.h"
#include "test_utils.h"

namespace ptq::model {
namespace {

// head_dim 16 with hidden 48, GQA (4 query heads over 2 kv heads), q_norm and k_norm, tied
// embeddings, bf16; layer 1 attends within 5 of the 12 positions.
TEST(Qwen3Test, MatchesReference) { test::expect_matches_reference("qwen3"); }

// q_norm / k_norm are [head_dim] norms of every Qwen3 layer, neither linears nor in other
// LLaMA-family checkpoints.
TEST(Qwen3Test, QkNormsAreLayerNormRowsOfQwen3Only) {
  const auto qwen3 = load_causal_lm(test::fixture_model("qwen3"));
  for (const char* norm : {"self_attn.q_norm.weight", "self_attn.k_norm.weight"}) {
    EXPECT_EQ(qwen3->weight(std::string("model.layers.1.") + norm).sizes(), at::IntArrayRef({16}))
        << norm;
  }
  const std::vector<LayerLinear> linears = qwen3->layer_linears(1);
  ASSERT_EQ(linears.size(), 7u);
  for (const LayerLinear& linear : linears) {
    EXPECT_EQ(linear.name.find("norm"), std::string::npos) << linear.name;
  }
  EXPECT_FALSE(qwen3->has_weight("model.layers.0.self_attn.q_proj.bias"));  // attention_bias
  EXPECT_FALSE(qwen3->has_weight("lm_head.weight"));
  const auto llama = load_causal_lm(test::fixture_model("llama"));
  EXPECT_FALSE(llama->has_weight("model.layers.0.self_attn.q_norm.weight"));
}

nlohmann::json fixture_config(const std::string& name) {
  std::ifstream in(test::fixtures_dir() / name / "config.json");
  return nlohmann::json::parse(in);
}

std::string load_error(const nlohmann::json& json) {
  try {
    parse_model_config(json, "qwen/config.json");
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "config accepted";
  return "";
}

// Qwen3's layer_types decide which layers use the window (max_window_layers 2 alone would give
// none); Qwen2 without layer_types windows layers >= max_window_layers; without
// use_sliding_window no layer does.
TEST(Qwen3Test, WindowLayersFollowLayerTypesOrMaxWindowLayers) {
  const ModelConfig qwen3 = parse_model_config(fixture_config("qwen3"), "qwen3/config.json");
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_FALSE(layer_window(qwen3, 0).has_value());
  EXPECT_EQ(layer_window(qwen3, 1).value_or(0), 5);

  nlohmann::json json = fixture_config("qwen2_window");
  const ModelConfig qwen2 = parse_model_config(json, "qwen2/config.json");
  EXPECT_FALSE(qwen2.qk_norm);
  EXPECT_FALSE(layer_window(qwen2, 0).has_value());
  EXPECT_EQ(layer_window(qwen2, 1).value_or(0), 5);

  json["use_sliding_window"] = false;
  const ModelConfig off = parse_model_config(json, "qwen2/config.json");
  EXPECT_FALSE(layer_window(off, 0).has_value() || layer_window(off, 1).has_value());
}

TEST(Qwen3Test, ConfigDefaultsAndErrors) {
  nlohmann::json json = fixture_config("qwen3");
  json.erase("head_dim");  // Qwen3Config's default is 128, not hidden_size / heads (12)
  EXPECT_EQ(parse_model_config(json, "qwen3/config.json").head_dim, 128);

  json = fixture_config("qwen3");
  json["layer_types"] = {"full_attention"};
  std::string message = load_error(json);
  EXPECT_NE(message.find("qwen/config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("layer_types"), std::string::npos) << message;

  json = fixture_config("qwen3");
  json["layer_types"] = {"full_attention", "chunked_attention"};
  message = load_error(json);
  EXPECT_NE(message.find("chunked_attention"), std::string::npos) << message;
}

void expect_round_trip(const std::vector<std::string>& method_args) {
  test::expect_quantize_eval_round_trip(
      "qwen3", method_args,
      {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
       "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"});
}

TEST(Qwen3Test, GptqW4RoundTrip) { expect_round_trip(test::gptq_w4_args()); }
TEST(Qwen3Test, SeptqW3RoundTrip) { expect_round_trip(test::septq_w3_args()); }
TEST(Qwen3Test, RuquantW4A4RoundTrip) { expect_round_trip(test::ruquant_w4a4_args()); }

}  // namespace
}  // namespace ptq::model
