#include "method_option_group.h"

#include <type_traits>

#include "number_checks.h"
#include "ptq/common/error.h"

namespace ptq::cli {
namespace {

void add_check(CLI::Option& option, quant::OptionCheck check) {
  switch (check) {
    case quant::OptionCheck::None:
      return;
    case quant::OptionCheck::Finite:
      option.check(kFinite);
      return;
    case quant::OptionCheck::Positive:
      option.check(kPositive);
      return;
  }
}

// A bool field is a flag; any other type an option showing its default.
void add_option(CLI::App& group, const quant::MethodOption& option, quant::MethodOptions& options) {
  std::visit(
      [&](const auto& field) {
        auto& value = field(options);
        if constexpr (std::is_same_v<std::decay_t<decltype(value)>, bool>) {
          group.add_flag(option.flag, value, option.help);
        } else {
          add_check(*group.add_option(option.flag, value, option.help)->capture_default_str(),
                    option.check);
        }
      },
      option.field);
}

}  // namespace

void add_method_options(CLI::App& app, quant::MethodOptions& options) {
  for (const quant::MethodEntry& method : quant::method_entries()) {
    if (method.options.empty()) continue;
    CLI::Option_group* group =
        app.add_option_group(method.name, "Options of --method " + method.name);
    for (const quant::MethodOption& option : method.options) add_option(*group, option, options);
  }
}

void check_method_options(const CLI::App& app, const std::string& method) {
  for (const quant::MethodEntry& owner : quant::method_entries()) {
    if (owner.name == method) continue;
    for (const quant::MethodOption& option : owner.options) {
      PTQ_CHECK_INPUT(app.count(option.flag) == 0, option.flag, " applies to --method ", owner.name,
                      " only (this run's method is ", method, ")");
    }
  }
}

}  // namespace ptq::cli
