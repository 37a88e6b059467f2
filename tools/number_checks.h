#pragma once
// Validators for numeric options. CLI11's PositiveNumber and NonNegativeNumber state their
// bound, DBL_MAX, as a 309-digit number and let NaN through (NaN <= 0 is false), which then
// failed at layer 0; these reject NaN and infinities and say what is expected in words.

#include <CLI/CLI.hpp>

namespace ptq::cli {

extern const CLI::Validator kFinite;       // any finite number
extern const CLI::Validator kPositive;     // a finite number > 0
extern const CLI::Validator kNonNegative;  // a finite number >= 0
extern const CLI::Validator kFraction;     // a number strictly between 0 and 1

}  // namespace ptq::cli
