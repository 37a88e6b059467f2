#include "ptq/model/config.h"

#include <gtest/gtest.h>

#include "model/model_test_utils.h"
#include "ptq/common/error.h"
#include "ptq/model/causal_lm.h"

namespace ptq::model {
namespace {

nlohmann::json fixture_config(const std::string& name) {
  return nlohmann::json::parse(test::read_file(test::fixtures_dir() / name / "config.json"));
}

// The InputError message of loading `json` as dir/config.json ("" if none was thrown).
std::string load_error(const nlohmann::json& json) {
  test::TempDir dir;
  test::write_file(dir / "config.json", json.dump());
  try {
    load_model_config(dir.path().string());
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigTest, MissingKeyNamesTheKeyAndTheFile) {
  nlohmann::json json = fixture_config("llama");
  json.erase("num_attention_heads");
  EXPECT_NE(load_error(json).find("config.json: missing key 'num_attention_heads'"),
            std::string::npos)
      << load_error(json);
  json = fixture_config("opt");
  json.erase("ffn_dim");
  EXPECT_NE(load_error(json).find("missing key 'ffn_dim'"), std::string::npos);
}

TEST(ConfigTest, UnknownArchitectureListsTheSupportedOnes) {
  nlohmann::json json = fixture_config("llama");
  json["architectures"] = {"BertForMaskedLM"};
  const std::string message = load_error(json);
  EXPECT_NE(message.find("BertForMaskedLM"), std::string::npos) << message;
  for (const char* name : {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
                           "Qwen3ForCausalLM", "OPTForCausalLM", "GPTNeoXForCausalLM"}) {
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
}

TEST(ConfigTest, SupportedArchitecturesAreSorted) {
  EXPECT_EQ(
      supported_architectures(),
      (std::vector<std::string>{"GPTNeoXForCausalLM", "Gemma2ForCausalLM", "Gemma3ForCausalLM",
                                "LlamaForCausalLM", "MistralForCausalLM", "OPTForCausalLM",
                                "Phi3ForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}));
}

TEST(ConfigTest, WrongTypeNamesTheKey) {
  nlohmann::json json = fixture_config("llama");
  json["hidden_size"] = "64";
  EXPECT_NE(load_error(json).find("'hidden_size' must be an integer"), std::string::npos);
}

TEST(ConfigTest, NullKeysTakeTheClassDefaults) {
  nlohmann::json json = fixture_config("mistral");
  json["head_dim"] = nullptr;  // as Mistral-7B's config.json
  json["sliding_window"] = nullptr;
  const ModelConfig config = parse_model_config(json, "config.json");
  EXPECT_EQ(config.head_dim, 16);
  EXPECT_FALSE(config.sliding_window.has_value());
}

// An unknown rope type names itself, the file and the supported types, under either key.
TEST(ConfigTest, UnknownRopeTypeListsTheSupportedOnes) {
  for (const char* key : {"rope_type", "type"}) {
    nlohmann::json json = fixture_config("llama");
    json["rope_scaling"] = {{key, "longrope"}, {"factor", 4.0}};
    const std::string message = load_error(json);
    EXPECT_NE(message.find("config.json: rope_scaling type 'longrope' is not supported; "
                           "supported: default, linear, dynamic, llama3, yarn"),
              std::string::npos)
        << message;
  }
}

// The keys a rope type needs (modeling_rope_utils' rope_config_validation) are required.
TEST(ConfigTest, RopeScalingNeedsItsTypesKeys) {
  nlohmann::json json = fixture_config("llama3");
  json["rope_scaling"].erase("low_freq_factor");
  EXPECT_NE(load_error(json).find("rope_scaling: missing key 'low_freq_factor'"), std::string::npos)
      << load_error(json);
  json = fixture_config("llama_linear");
  json["rope_scaling"].erase("factor");
  EXPECT_NE(load_error(json).find("rope_scaling: missing key 'factor'"), std::string::npos)
      << load_error(json);
  json = fixture_config("llama");
  json["rope_scaling"] = "llama3";
  EXPECT_NE(load_error(json).find("'rope_scaling' must be an object"), std::string::npos)
      << load_error(json);
  json = fixture_config("gpt_neox");
  json["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  EXPECT_NE(load_error(json).find("rope_scaling is not supported"), std::string::npos)
      << load_error(json);
}

TEST(ConfigTest, UnsupportedVariantsAreRejected) {
  nlohmann::json json = fixture_config("llama");
  json["hidden_act"] = "quick_gelu";
  EXPECT_NE(load_error(json).find("quick_gelu"), std::string::npos);
  json = fixture_config("llama");
  json["num_key_value_heads"] = 3;
  EXPECT_NE(load_error(json).find("num_key_value_heads"), std::string::npos);
}

TEST(ConfigTest, ReadsEachFamilysKeys) {
  const ModelConfig llama = load_model_config(test::fixture_model("llama"));
  EXPECT_EQ(llama.family, ArchFamily::Llama);
  EXPECT_EQ(llama.num_kv_heads, 2);
  EXPECT_EQ(llama.head_dim, 8);
  EXPECT_FALSE(llama.tie_word_embeddings);
  EXPECT_EQ(llama.eos_token_id.value_or(-1), 2);

  const ModelConfig qwen2 = load_model_config(test::fixture_model("qwen2"));
  EXPECT_TRUE(qwen2.attention_bias);
  EXPECT_FALSE(qwen2.attention_out_bias);
  EXPECT_TRUE(qwen2.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(qwen2.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(qwen2.norm_eps, 1e-6);

  const ModelConfig opt = load_model_config(test::fixture_model("opt_post_ln"));
  EXPECT_EQ(opt.family, ArchFamily::Opt);
  EXPECT_EQ(opt.intermediate_size, 128);
  EXPECT_EQ(opt.hidden_act, "relu");
  EXPECT_FALSE(opt.do_layer_norm_before);
  EXPECT_EQ(opt.word_embed_proj_dim, 32);
  EXPECT_TRUE(opt.tie_word_embeddings);
  EXPECT_TRUE(opt.attention_bias && opt.attention_out_bias && opt.mlp_bias);

  const ModelConfig neox = load_model_config(test::fixture_model("gpt_neox"));
  EXPECT_EQ(neox.family, ArchFamily::GptNeoX);
  EXPECT_DOUBLE_EQ(neox.rotary_pct, 0.25);
  EXPECT_TRUE(neox.use_parallel_residual);
  EXPECT_EQ(neox.hidden_act, "gelu");
  EXPECT_EQ(neox.raw["model_type"], "gpt_neox");
}

}  // namespace
}  // namespace ptq::model
