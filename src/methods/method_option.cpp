// The value of a method's option as the report records it.

#include "ptq/methods/method_option.h"

#include "ptq/methods/method.h"

namespace ptq::quant {

nlohmann::json option_value(const MethodOption& option, const MethodOptions& options) {
  // The field gives a reference into a MethodOptions it may change (the CLI binds to it), so
  // it reads a copy here.
  MethodOptions copy = options;
  return std::visit([&](const auto& field) { return nlohmann::json(field(copy)); }, option.field);
}

}  // namespace ptq::quant
