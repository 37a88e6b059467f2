#pragma once
// Per-linear bits and group size in a GPTQ directory: GPTQModel's "dynamic" object in
// quantization_config, as vLLM and GPTQModel read it (docs/format.md). Its keys are Python
// regular expressions tried in order against a module name ("model.layers.0.mlp.up_proj") with
// re.match (anchored at the start only); the first that matches decides:
//   "-:<regex>"             the module is not quantized;
//   "+:<regex>" or "<regex>" the module's settings are the top-level ones overridden by the
//                           keys of the rule's object ("bits", "group_size").
// A module no rule matches has the top-level settings. ptq writes one "+:" rule per linear whose
// settings differ from the top level: its exact name, dots escaped, anchored with "$".
//
//   std::vector<DynamicRule> rules = parse_dynamic(config["dynamic"], "config.json");
//   std::optional<LinearSetting> s = linear_setting(rules, {4, 128}, "model.layers.0.mlp.up_proj");

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace ptq::quant {

struct LinearSetting {
  int bits = 4;
  int group_size = 128;  // -1: one group over all input features
  // SEPTQ: the percent of this linear's weights kept in full precision; -1: the method's
  // --keep-percent. Not a "dynamic" key: how the stored tensors decode does not depend on it
  // (the kept weights are stored as they are), so dynamic_rules ignores it.
  double keep_percent = -1;

  bool operator==(const LinearSetting& other) const {
    return bits == other.bits && group_size == other.group_size &&
           keep_percent == other.keep_percent;
  }
  bool operator!=(const LinearSetting& other) const { return !(*this == other); }
};

struct DynamicRule {
  std::string key;       // as stored, prefix included
  bool exclude = false;  // "-:"
  std::regex pattern;
  nlohmann::json overrides = nlohmann::json::object();  // as stored
};

// Throws InputError naming `source` and the key for what ptq cannot honour: a value that is not
// an object, a regex std::regex (ECMAScript) cannot compile, an override key other than "bits",
// "group_size" and the ones that do not change how stored tensors decode ("desc_act", "sym":
// g_idx and qzeros are stored), bits outside 2..8, a group size neither -1 nor positive.
std::vector<DynamicRule> parse_dynamic(const nlohmann::json& dynamic, const std::string& source);

// The rules ptq writes for `settings` (module -> setting): one per module whose setting is not
// `top`, in module name order.
std::vector<DynamicRule> dynamic_rules(const LinearSetting& top,
                                       const std::map<std::string, LinearSetting>& settings);

// The "dynamic" object of `rules` (empty: no rules).
nlohmann::json dynamic_json(const std::vector<DynamicRule>& rules);

// The setting of `module`; nothing when a "-:" rule excludes it. Throws InputError when rules
// with different outcomes match `module`: their stored order would decide, and nlohmann::json
// does not keep it.
std::optional<LinearSetting> linear_setting(const std::vector<DynamicRule>& rules,
                                            const LinearSetting& top,
                                            const std::string& module);

}  // namespace ptq::quant
