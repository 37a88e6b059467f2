#include "ptq/format/dynamic_settings.h"

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

using nlohmann::json;

constexpr const char kExclude[] = "-:";
constexpr const char kOverride[] = "+:";

bool has_prefix(const std::string& key, const char* prefix) { return key.rfind(prefix, 0) == 0; }

// `name` with the regex metacharacters it may hold escaped, matched to its end.
std::string exact_name_regex(const std::string& name) {
  std::string escaped;
  for (const char c : name) {
    if (std::string(".^$|()[]{}*+?\\").find(c) != std::string::npos) escaped += '\\';
    escaped += c;
  }
  return escaped + "$";
}

int override_int(const json& overrides, const char* key, int fallback, const std::string& where) {
  const auto it = overrides.find(key);
  if (it == overrides.end()) return fallback;
  PTQ_CHECK_INPUT(it->is_number_integer(), where, ".", key, " is ", it->dump(),
                  "; expected an integer");
  return it->get<int>();
}

// Checks the override object of the rule `where` names.
void check_overrides(const json& overrides, const std::string& where) {
  PTQ_CHECK_INPUT(overrides.is_object(), where, " is ", overrides.dump(),
                  "; expected an object of settings");
  for (const auto& [key, value] : overrides.items()) {
    const bool known = key == "bits" || key == "group_size" || key == "desc_act" || key == "sym";
    PTQ_CHECK_INPUT(known, where, " overrides \"", key,
                    "\"; ptq honours only bits and group_size per module (desc_act and sym "
                    "do not change how the stored tensors decode)");
  }
  const int bits = override_int(overrides, "bits", 4, where);
  PTQ_CHECK_INPUT(bits >= 2 && bits <= 8, where, ".bits is ", bits,
                  "; GPTQ checkpoints hold 2 to 8 bits");
  const int group_size = override_int(overrides, "group_size", -1, where);
  PTQ_CHECK_INPUT(group_size == -1 || group_size > 0, where, ".group_size is ", group_size,
                  "; expected -1 or positive");
}

}  // namespace

std::vector<DynamicRule> parse_dynamic(const json& dynamic, const std::string& source) {
  std::vector<DynamicRule> rules;
  if (dynamic.is_null()) return rules;
  PTQ_CHECK_INPUT(dynamic.is_object(), source, ": \"dynamic\" is ", dynamic.dump(),
                  "; expected an object of module regex -> settings");
  // nlohmann::json sorts the keys, so the stored order is lost: linear_setting refuses a module
  // that rules with different outcomes match.
  for (const auto& [key, overrides] : dynamic.items()) {
    const std::string where = source + ": dynamic[\"" + key + "\"]";
    DynamicRule rule;
    rule.key = key;
    rule.exclude = has_prefix(key, kExclude);
    const std::string regex = rule.exclude || has_prefix(key, kOverride) ? key.substr(2) : key;
    try {
      rule.pattern = std::regex(regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      PTQ_THROW_INPUT(where, ": ptq cannot compile the regex \"", regex, "\" (", e.what(), ")");
    }
    check_overrides(overrides, where);
    rule.overrides = overrides;
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::vector<DynamicRule> dynamic_rules(const LinearSetting& top,
                                       const std::map<std::string, LinearSetting>& settings) {
  json dynamic = json::object();
  for (const auto& [module, setting] : settings) {
    if (setting.bits == top.bits && setting.group_size == top.group_size) continue;
    dynamic[kOverride + exact_name_regex(module)] = {{"bits", setting.bits},
                                                     {"group_size", setting.group_size}};
  }
  return parse_dynamic(dynamic, "per-linear settings");
}

json dynamic_json(const std::vector<DynamicRule>& rules) {
  json dynamic = json::object();
  for (const DynamicRule& rule : rules) dynamic[rule.key] = rule.overrides;
  return dynamic;
}

std::optional<LinearSetting> linear_setting(const std::vector<DynamicRule>& rules,
                                            const LinearSetting& top,
                                            const std::string& module) {
  const DynamicRule* first = nullptr;
  std::optional<LinearSetting> setting = top;
  for (const DynamicRule& rule : rules) {
    if (!std::regex_search(module, rule.pattern, std::regex_constants::match_continuous)) {
      continue;
    }
    const std::string where = "dynamic[\"" + rule.key + "\"]";
    std::optional<LinearSetting> outcome;
    if (!rule.exclude) {
      outcome = LinearSetting{override_int(rule.overrides, "bits", top.bits, where),
                              override_int(rule.overrides, "group_size", top.group_size, where)};
    }
    if (!first) {
      first = &rule;
      setting = outcome;
      continue;
    }
    PTQ_CHECK_INPUT(outcome == setting, "module '", module, "' matches both dynamic[\"", first->key,
                    "\"] and ", where,
                    " with different settings; their order decides, and ptq does not keep it");
  }
  return setting;
}

}  // namespace ptq::quant
