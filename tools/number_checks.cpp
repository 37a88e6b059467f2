#include "number_checks.h"

#include <cmath>
#include <functional>
#include <string>

namespace ptq::cli {
namespace {

CLI::Validator finite_number(const std::string& name,
                             const std::string& expected,
                             const std::function<bool(double)>& accept) {
  return CLI::Validator(
      [expected, accept](const std::string& text) {
        double value = 0;
        const bool number = CLI::detail::lexical_cast(text, value);
        return number && std::isfinite(value) && accept(value)
                   ? std::string()
                   : "expected " + expected + ", got '" + text + "'";
      },
      name);
}

}  // namespace

const CLI::Validator kFinite =
    finite_number("FINITE", "a finite number", [](double) { return true; });
const CLI::Validator kPositive =
    finite_number("POSITIVE", "a finite number above 0", [](double value) { return value > 0; });
const CLI::Validator kNonNegative = finite_number(
    "NONNEGATIVE", "a finite number, 0 or more", [](double value) { return value >= 0; });
const CLI::Validator kFraction = finite_number("FRACTION",
                                               "a number between 0 and 1, both excluded",
                                               [](double value) { return value > 0 && value < 1; });

}  // namespace ptq::cli
