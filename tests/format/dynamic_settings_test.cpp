#include "ptq/format/dynamic_settings.h"

#include <gtest/gtest.h>

#include <string>

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

using nlohmann::json;

const LinearSetting kTop{4, 128};

std::string input_error(const json& dynamic) {
  try {
    parse_dynamic(dynamic, "cfg.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(DynamicSettings, WritesOneExactNameRulePerLinearOffTheTopLevel) {
  const std::vector<DynamicRule> rules =
      dynamic_rules(kTop, {{"model.layers.0.self_attn.q_proj", {3, 64}},
                           {"model.layers.0.self_attn.k_proj", {4, 128}},
                           {"model.layers.1.mlp.up_proj", {8, -1}}});
  const json expected = {
      {"+:model\\.layers\\.0\\.self_attn\\.q_proj$", {{"bits", 3}, {"group_size", 64}}},
      {"+:model\\.layers\\.1\\.mlp\\.up_proj$", {{"bits", 8}, {"group_size", -1}}}};
  EXPECT_EQ(dynamic_json(rules), expected);
  EXPECT_EQ(linear_setting(rules, kTop, "model.layers.0.self_attn.q_proj"), (LinearSetting{3, 64}));
  EXPECT_EQ(linear_setting(rules, kTop, "model.layers.1.mlp.up_proj"), (LinearSetting{8, -1}));
  EXPECT_EQ(linear_setting(rules, kTop, "model.layers.0.self_attn.k_proj"), kTop);
  // "$" ends the name; the escaped dots match only dots.
  EXPECT_EQ(linear_setting(rules, kTop, "model.layers.1.mlp.up_proj2"), kTop);
  EXPECT_EQ(linear_setting(rules, kTop, "model.layers.1Xmlp.up_proj"), kTop);
  // Read back as stored, the rules decide the same.
  const std::vector<DynamicRule> read = parse_dynamic(dynamic_json(rules), "cfg.json");
  EXPECT_EQ(linear_setting(read, kTop, "model.layers.0.self_attn.q_proj"), (LinearSetting{3, 64}));
  EXPECT_TRUE(dynamic_json(dynamic_rules(kTop, {{"a", kTop}})).empty());
}

// GPTQModel's conventions: "-:" excludes, "+:" or no prefix overrides the keys given, re.match
// anchors at the start of the name only.
TEST(DynamicSettings, FollowsGptqModelsMatchRules) {
  const std::vector<DynamicRule> rules =
      parse_dynamic({{"-:model\\.layers\\.1\\.", json::object()},
                     {"+:.*down_proj", {{"bits", 8}}},
                     {"model\\.layers\\.0\\.mlp\\.up", {{"group_size", 32}}},
                     {"layers", {{"bits", 2}}}},
                    "cfg.json");
  EXPECT_EQ(linear_setting(rules, kTop, "model.layers.1.self_attn.q_proj"), std::nullopt);
  EXPECT_EQ(linear_setting(rules, kTop, "model.layers.0.mlp.up_proj"), (LinearSetting{4, 32}));
  EXPECT_EQ(linear_setting(rules, kTop, "model.layers.2.mlp.down_proj"), (LinearSetting{8, 128}));
  // "layers" would match inside the name, but re.match tries the start only.
  EXPECT_EQ(linear_setting(rules, kTop, "model.layers.2.self_attn.o_proj"), kTop);
  // Two rules with different outcomes: the stored order would decide, which is not kept.
  try {
    linear_setting(rules, kTop, "model.layers.1.mlp.down_proj");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'model.layers.1.mlp.down_proj' matches both"),
              std::string::npos)
        << e.what();
  }
}

TEST(DynamicSettings, RefusesWhatItCannotHonour) {
  EXPECT_NE(input_error(json::array()).find("cfg.json: \"dynamic\" is []"), std::string::npos);
  EXPECT_NE(input_error({{"+:a", 4}}).find("cfg.json: dynamic[\"+:a\"] is 4"), std::string::npos);
  EXPECT_NE(input_error({{"+:a", {{"pack_dtype", "int16"}}}})
                .find("dynamic[\"+:a\"] overrides \"pack_dtype\""),
            std::string::npos);
  EXPECT_NE(input_error({{"+:a", {{"bits", 9}}}}).find("dynamic[\"+:a\"].bits is 9"),
            std::string::npos);
  EXPECT_NE(input_error({{"+:a", {{"bits", "4"}}}}).find(".bits is \"4\"; expected an integer"),
            std::string::npos);
  EXPECT_NE(input_error({{"+:a", {{"group_size", 0}}}}).find(".group_size is 0"),
            std::string::npos);
  EXPECT_NE(input_error({{"+:(a", json::object()}}).find("cannot compile the regex \"(a\""),
            std::string::npos);
  EXPECT_EQ(input_error({{"+:a", {{"sym", false}, {"desc_act", true}}}}), "");
  EXPECT_TRUE(parse_dynamic(nullptr, "cfg.json").empty());
}

}  // namespace
}  // namespace ptq::quant
