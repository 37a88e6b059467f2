// The registry of quantization methods: one entry (name, description, factory, options) per
// method in builtin_methods(), and those register_method adds. A new method is a folder under
// src/methods/ plus one entry here (docs/methods.md).

#include <algorithm>
#include <map>
#include <sstream>

#include "methods/gptq/gptq_method.h"
#include "methods/rtn/rtn_method.h"
#include "methods/ruquant/ruquant_method.h"
#include "methods/septq/septq_method.h"
#include "ptq/common/error.h"
#include "ptq/methods/method.h"

namespace ptq::quant {
namespace {

using Registry = std::map<std::string, MethodEntry>;

const std::vector<MethodEntry>& builtin_methods() {
  static const std::vector<MethodEntry> entries = {
      {"rtn", "round to nearest on the weight grid, no calibration", methods::make_rtn_method},
      {"gptq", "GPTQ: quantize column by column, compensating with the calibration Hessian",
       methods::make_gptq_method},
      {"septq", "GPTQ with MSE grids that keeps the most important weights in fp16",
       methods::make_septq_method, methods::septq_options(), methods::septq_implies},
      {"ruquant", "smoothing and rotations of each linear's input, then --weight-method",
       methods::make_ruquant_method, methods::ruquant_options()},
  };
  return entries;
}

Registry& registry() {
  static Registry methods = [] {
    Registry r;
    for (const MethodEntry& entry : builtin_methods()) r.emplace(entry.name, entry);
    return r;
  }();
  return methods;
}

std::string joined_names() {
  std::ostringstream out;
  for (const std::string& name : method_names()) out << (out.tellp() > 0 ? ", " : "") << name;
  return out.str();
}

const MethodEntry& entry(const std::string& name) {
  const auto it = registry().find(name);
  PTQ_CHECK_INPUT(it != registry().end(), "unknown quantization method '", name,
                  "'; available: ", joined_names());
  return it->second;
}

bool is_builtin(const std::string& name) {
  const auto& builtin = builtin_methods();
  return std::any_of(builtin.begin(), builtin.end(),
                     [&](const MethodEntry& e) { return e.name == name; });
}

}  // namespace

void register_method(MethodEntry entry) {
  PTQ_CHECK_INPUT(registry().count(entry.name) == 0, "a quantization method named '", entry.name,
                  "' is already registered");
  const std::string name = entry.name;
  registry().emplace(name, std::move(entry));
}

void unregister_method(const std::string& name) {
  PTQ_CHECK_INPUT(!is_builtin(name), "the built-in method '", name, "' cannot be unregistered");
  registry().erase(name);
}

std::vector<MethodEntry> method_entries() {
  std::vector<MethodEntry> entries;
  for (const auto& named : registry()) entries.push_back(named.second);
  return entries;
}

std::unique_ptr<QuantMethod> create_method(const std::string& name, const MethodOptions& options) {
  return entry(name).create(options);
}

MethodOptions implied_options(const std::string& name, MethodOptions options) {
  const MethodEntry& method = entry(name);
  if (method.implies) method.implies(options);
  return options;
}

nlohmann::json method_settings(const MethodOptions& options) {
  nlohmann::json settings = nlohmann::json::object();
  for (const auto& named : registry()) {
    for (const MethodOption& option : named.second.options) {
      settings[option.key] = option_value(option, options);
    }
  }
  return settings;
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

std::string method_help() {
  std::ostringstream out;
  for (const auto& entry : registry()) {
    out << (out.tellp() > 0 ? "\n" : "") << entry.first << ": " << entry.second.description;
  }
  return out.str();
}

}  // namespace ptq::quant
