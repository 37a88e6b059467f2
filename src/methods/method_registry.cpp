// The registry of quantization methods: one factory per name, filled once by
// register_builtin_methods(). A new method is a folder under src/methods/ plus one line here.

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

using Registry = std::map<std::string, MethodFactory>;

void register_builtin_methods(Registry& registry) {
  registry["rtn"] = methods::make_rtn_method;
  registry["gptq"] = methods::make_gptq_method;
  registry["septq"] = methods::make_septq_method;
  registry["ruquant"] = methods::make_ruquant_method;
}

const Registry& registry() {
  static const Registry methods = [] {
    Registry r;
    register_builtin_methods(r);
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
  return it->second(options);
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

}  // namespace ptq::quant
