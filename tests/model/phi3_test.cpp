// Phi-3 (fused qkv_proj and gate_up_proj) against the Python reference, its table, its config
// errors, and quantize -> eval round trips through the ptq executable (model/round_trip.h).

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
#include "ptq/pipeline/pipeline.h"
#include "test_utils.h"

namespace ptq::model {
namespace {

// GQA (8 query heads over 2 kv heads), partial rotary 0.75, sliding window 7 over 12
// positions, bf16.
TEST(Phi3Test, MatchesReference) { test::expect_matches_reference("phi3"); }

// The fused linears are quantized whole, each its own true-sequential stage, as GPTQModel's
// phi3 module_tree; qkv_proj is the attention input.
TEST(Phi3Test, FusedLinearsAreOneStageEach) {
  const auto lm = load_causal_lm(test::fixture_model("phi3"));
  const std::string p = "model.layers.1.";
  const std::vector<std::vector<std::string>> want = {{p + "self_attn.qkv_proj"},
                                                      {p + "self_attn.o_proj"},
                                                      {p + "mlp.gate_up_proj"},
                                                      {p + "mlp.down_proj"}};
  EXPECT_EQ(quant::linear_groups(*lm, 1, true), want);
  const std::vector<LayerLinear> linears = lm->layer_linears(1);
  ASSERT_EQ(linears.size(), 4u);
  EXPECT_EQ(linears[0].role, TensorRole::AttnQkv);
  EXPECT_TRUE(is_attention_input(linears[0].role));
  EXPECT_FALSE(is_attention_input(linears[2].role));
  // [q | k | v] rows: 8 heads and 2 kv heads of 8.
  EXPECT_EQ(lm->weight(p + "self_attn.qkv_proj.weight").sizes(),
            at::IntArrayRef({64 + 2 * 16, 64}));
  EXPECT_EQ(lm->weight(p + "mlp.gate_up_proj.weight").sizes(), at::IntArrayRef({2 * 80, 64}));
}

nlohmann::json fixture_config() {
  std::ifstream in(test::fixtures_dir() / "phi3" / "config.json");
  return nlohmann::json::parse(in);
}

TEST(Phi3Test, ConfigReadsRotaryAndWindow) {
  const ModelConfig c = parse_model_config(fixture_config(), "phi3/config.json");
  EXPECT_EQ(c.family, ArchFamily::Llama);  // read as a LlamaConfig with Phi-3's differences
  EXPECT_DOUBLE_EQ(c.rotary_pct, 0.75);
  EXPECT_EQ(c.sliding_window.value_or(0), 7);
  EXPECT_FALSE(c.attention_bias || c.attention_out_bias || c.mlp_bias);
}

// The 128k variants' long-context RoPE is refused by name, not silently run as plain RoPE.
TEST(Phi3Test, RopeScalingIsAClearError) {
  nlohmann::json config = fixture_config();
  config["rope_scaling"] = {{"type", "longrope"}, {"long_factor", {1.0}}, {"short_factor", {1.0}}};
  try {
    parse_model_config(config, "phi3-128k/config.json");
    FAIL() << "rope_scaling accepted";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("phi3-128k/config.json"), std::string::npos) << message;
    EXPECT_NE(message.find("rope_scaling"), std::string::npos) << message;
  }
}

// The fused linears are written under their own names.
void expect_round_trip(const std::vector<std::string>& method_args) {
  test::expect_quantize_eval_round_trip(
      "phi3", method_args,
      {"self_attn.qkv_proj", "self_attn.o_proj", "mlp.gate_up_proj", "mlp.down_proj"});
}

TEST(Phi3Test, GptqW4RoundTrip) { expect_round_trip(test::gptq_w4_args()); }
TEST(Phi3Test, SeptqW3RoundTrip) { expect_round_trip(test::septq_w3_args()); }
TEST(Phi3Test, RuquantW4A4RoundTrip) { expect_round_trip(test::ruquant_w4a4_args()); }

}  // namespace
}  // namespace ptq::model
