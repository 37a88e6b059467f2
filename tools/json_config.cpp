#include "json_config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ptq::cli {
namespace {

using nlohmann::json;

std::string option_name(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return key;
}

std::string scalar_text(const json& value, const std::string& key) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number()) return value.dump();
  throw CLI::ConfigError("recipe key '" + key + "' has value " + value.dump() +
                         ": expected a string, number, boolean or an array of them");
}

void collect(const json& object,
             const std::vector<std::string>& parents,
             std::vector<CLI::ConfigItem>& items) {
  for (const auto& [key, value] : object.items()) {
    if (value.is_object()) {
      std::vector<std::string> section = parents;
      section.push_back(key);
      collect(value, section, items);
      continue;
    }
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = option_name(key);
    if (value.is_array()) {
      for (const json& element : value) item.inputs.push_back(scalar_text(element, key));
    } else {
      item.inputs.push_back(scalar_text(value, key));
    }
    items.push_back(std::move(item));
  }
}

}  // namespace

std::vector<CLI::ConfigItem> JsonConfig::from_config(std::istream& input) const {
  json root;
  try {
    root = json::parse(input);
  } catch (const json::exception& e) {
    throw CLI::ConfigError(std::string("recipe is not valid JSON: ") + e.what());
  }
  if (!root.is_object()) throw CLI::ConfigError("recipe must be a JSON object");
  std::vector<CLI::ConfigItem> items;
  collect(root, {}, items);
  return items;
}

}  // namespace ptq::cli
