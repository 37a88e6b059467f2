#pragma once
// A setting that one quantization method owns (SEPTQ's keep percent, RUQuant's rotation
// steps), declared beside the method in its registry entry (method.h, MethodEntry). From the
// declaration the CLI makes the option (in the method's option group, refused with another
// method), the report records the value under `key`, and recipes name it like any option.
// The library states the option; tools/method_option_group.cpp binds it to CLI11, so the
// library does not depend on CLI11.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

namespace ptq::quant {

struct MethodOptions;

// Where the value lives in MethodOptions; its type is the option's (bool: a flag).
using OptionField = std::variant<std::function<bool&(MethodOptions&)>,
                                 std::function<int&(MethodOptions&)>,
                                 std::function<double&(MethodOptions&)>,
                                 std::function<std::string&(MethodOptions&)>>;

// What the command line checks as it reads a number (the method checks the whole set when it
// is created, before calibration).
enum class OptionCheck { None, Finite, Positive };

struct MethodOption {
  std::string flag;  // "--keep-percent"
  std::string key;   // "keep_percent": the report's settings.<key>
  std::string help;
  OptionField field;
  OptionCheck check = OptionCheck::None;
};

// The value `option` has in `options`, as the report writes it.
nlohmann::json option_value(const MethodOption& option, const MethodOptions& options);

}  // namespace ptq::quant
