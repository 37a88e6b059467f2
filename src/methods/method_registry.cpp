// The registry of quantization methods: one entry (name, description, factory) per method in
// builtin_methods(). A new method is a folder under src/methods/ plus one entry here.

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

// A method of the registry: the name --method takes, one line saying what it does (for
// --help), and its factory.
struct MethodEntry {
  std::string name;
  std::string description;
  MethodFactory create;
};

using Registry = std::map<std::string, MethodEntry>;

const std::vector<MethodEntry>& builtin_methods() {
  static const std::vector<MethodEntry> entries = {
      {"rtn", "round to nearest on the weight grid, no calibration", methods::make_rtn_method},
      {"gptq", "GPTQ: quantize column by column, compensating with the calibration Hessian",
       methods::make_gptq_method},
      {"septq", "GPTQ with MSE grids that keeps the most important weights in fp16",
       methods::make_septq_method},
      {"ruquant", "smoothing and rotations of each linear's input, then --weight-method",
       methods::make_ruquant_method},
  };
  return entries;
}

const Registry& registry() {
  static const Registry methods = [] {
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

}  // namespace

std::unique_ptr<QuantMethod> create_method(const std::string& name, const MethodOptions& options) {
  const auto it = registry().find(name);
  PTQ_CHECK_INPUT(it != registry().end(), "unknown quantization method '", name,
                  "'; available: ", joined_names());
  return it->second.create(options);
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
